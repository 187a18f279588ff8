#include "fs_render.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "fg_alloc.h"
#include "fg_err.h"

#define N_CACHED (FS_RENDER_MOUTH_STEPS * 2)
#define JPEG_QUALITY 88

typedef struct rgb {
    float r, g, b;
} rgb;

typedef struct cached_image {
    uint8_t *data; /* NULL until rendered; tjAlloc'd for JPEG, fg_malloc'd otherwise */
    size_t len;
} cached_image;

typedef struct palette {
    rgb tint, skin, hair, iris, shirt;
} palette;

struct fs_render {
    fs_render_params params;
    palette pal;
    char port_label[8];
    uint8_t *rgb_scratch; /* RGB24 pixels before JPEG encoding */
    tjhandle jpeg;
    cached_image cache[N_CACHED];
};

/* ---- colours ---- */

static rgb mk(float r, float g, float b) {
    return (rgb){r, g, b};
}

static rgb scale(rgb c, float k) {
    return mk(c.r * k, c.g * k, c.b * k);
}

static rgb mix(rgb a, rgb b, float t) {
    return mk(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t);
}

static rgb hsv(float h, float s, float v) {
    float c = v * s, hp = fmodf(h, 360.0f) / 60.0f;
    float x = c * (1.0f - fabsf(fmodf(hp, 2.0f) - 1.0f)), m = v - c;
    rgb out = hp < 1   ? mk(c, x, 0)
              : hp < 2 ? mk(x, c, 0)
              : hp < 3 ? mk(0, c, x)
              : hp < 4 ? mk(0, x, c)
              : hp < 5 ? mk(x, 0, c)
                       : mk(c, 0, x);
    return mk(out.r + m, out.g + m, out.b + m);
}

static rgb tint_of(uint16_t port) {
    /* Consecutive ports (50051, 50052...) land far apart on the hue circle. */
    return hsv((float)((port * 137u) % 360u), 0.62f, 0.92f);
}

void fs_render_tint(uint16_t port, uint8_t out[3]) {
    rgb c = tint_of(port);
    out[0] = (uint8_t)lrintf(c.r * 255.0f);
    out[1] = (uint8_t)lrintf(c.g * 255.0f);
    out[2] = (uint8_t)lrintf(c.b * 255.0f);
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static palette make_palette(uint16_t port, const char *model, bool cacheable) {
    static const rgb skins[] = {{0.98f, 0.80f, 0.66f},
                                {0.90f, 0.68f, 0.52f},
                                {0.76f, 0.54f, 0.38f},
                                {0.56f, 0.38f, 0.26f},
                                {0.99f, 0.86f, 0.74f}};
    static const rgb hairs[] = {{0.22f, 0.14f, 0.09f}, {0.08f, 0.07f, 0.07f},
                                {0.55f, 0.36f, 0.18f}, {0.85f, 0.85f, 0.88f},
                                {0.72f, 0.30f, 0.12f}, {0.90f, 0.78f, 0.45f}};
    static const rgb irises[] = {{0.25f, 0.45f, 0.75f},
                                 {0.35f, 0.22f, 0.12f},
                                 {0.30f, 0.55f, 0.35f},
                                 {0.45f, 0.45f, 0.50f},
                                 {0.20f, 0.30f, 0.55f}};
    uint32_t h = fnv1a(model);
    palette p;
    /* A cacheable image may not say which backend drew it: the model picks the tint. */
    p.tint = cacheable ? tint_of((uint16_t)(h >> 16)) : tint_of(port);
    p.skin = skins[h % 5];
    p.hair = hairs[(h / 5) % 6];
    p.iris = irises[(h / 30) % 5];
    p.shirt = scale(p.tint, 0.85f);
    return p;
}

/* ---- shapes: signed distances in scene units (face height ~ 1) ---- */

typedef struct pt {
    float x, y;
} pt;

/* Approximate signed distance to an axis-aligned ellipse (Inigo Quilez's bound). */
static float ellipse_d(pt p, float cx, float cy, float rx, float ry) {
    float x = p.x - cx, y = p.y - cy;
    float k1 = sqrtf(x * x / (rx * rx) + y * y / (ry * ry));
    float k2 = sqrtf(x * x / (rx * rx * rx * rx) + y * y / (ry * ry * ry * ry));
    if (k2 < 1e-9f)
        return -fminf(rx, ry);
    return k1 * (k1 - 1.0f) / k2;
}

typedef struct canvas {
    float px; /* one pixel in scene units: the anti-aliasing width */
    rgb c;
} canvas;

static float cover(const canvas *cv, float d) {
    float t = 0.5f - d / cv->px;
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static void paint(canvas *cv, float coverage, rgb colour) {
    if (coverage > 0)
        cv->c = mix(cv->c, colour, coverage);
}

/* ---- the face ---- */

typedef struct pose {
    float open;  /* mouth 0..1 */
    bool closed; /* eyes */
} pose;

static void draw_background(canvas *cv, const palette *pal, pt p) {
    rgb top =
        mk(pal->tint.r * 0.42f + 0.04f, pal->tint.g * 0.42f + 0.04f, pal->tint.b * 0.42f + 0.04f);
    cv->c = mix(top, scale(pal->tint, 0.14f), fminf(fmaxf(p.y + 0.5f, 0), 1));
    float r = sqrtf(p.x * p.x + (p.y + 0.05f) * (p.y + 0.05f));
    float glow = fmaxf(0, 1.0f - r / 0.62f);
    cv->c = mix(cv->c, mix(pal->tint, mk(1, 1, 1), 0.35f), 0.45f * glow * glow);
}

static void draw_body(canvas *cv, const palette *pal, pt p) {
    paint(cv, cover(cv, ellipse_d(p, 0, 0.62f, 0.40f, 0.25f)), pal->shirt);
    /* A collar: a lighter V under the chin. */
    float v = fabsf(p.x) * 1.4f - (p.y - 0.33f);
    paint(cv, cover(cv, ellipse_d(p, 0, 0.62f, 0.40f, 0.25f)) * cover(cv, v) * 0.8f,
          mix(pal->shirt, mk(1, 1, 1), 0.5f));
    paint(cv, cover(cv, ellipse_d(p, 0, 0.34f, 0.08f, 0.14f)), scale(pal->skin, 0.82f));
}

static void draw_head(canvas *cv, const palette *pal, pt p, const pose *ps) {
    float jaw = 0.018f * ps->open;
    for (int side = -1; side <= 1; side += 2)
        paint(cv, cover(cv, ellipse_d(p, 0.232f * side, 0.0f, 0.042f, 0.066f)),
              scale(pal->skin, 0.88f));
    float ry = 0.285f + jaw, cy = jaw * 0.5f;
    float d = ellipse_d(p, 0, cy, 0.22f, ry);
    float kx = p.x / 0.22f, ky = (p.y - cy) / ry, k = kx * kx + ky * ky;
    /* Darker towards the rim, a little light from the upper left. */
    float shade = 1.0f - 0.16f * k * k + 0.05f * (-kx - ky);
    paint(cv, cover(cv, d), scale(pal->skin, shade));
    for (int side = -1; side <= 1; side += 2) /* cheeks: a soft blush */
        paint(cv, 0.22f * cover(cv, ellipse_d(p, 0.13f * side, 0.085f, 0.05f, 0.03f) / 3),
              mk(0.95f, 0.42f, 0.42f));
    /* Hair: the upper part of a slightly larger ellipse, above a curved hairline. */
    float hairline = -0.135f + 0.11f * (p.x / 0.245f) * (p.x / 0.245f);
    float hair =
        fminf(cover(cv, ellipse_d(p, 0, -0.055f, 0.248f, 0.275f)), cover(cv, p.y - hairline));
    paint(cv, hair, mix(pal->hair, mk(1, 1, 1), 0.12f * fmaxf(0, -p.x - p.y - 0.2f) * 4));
}

static void draw_eyes(canvas *cv, const palette *pal, pt p, const pose *ps) {
    for (int side = -1; side <= 1; side += 2) {
        float ex = 0.085f * side, ey = -0.04f;
        float brow_y = -0.09f - 0.012f * ps->open;
        paint(cv, cover(cv, ellipse_d(p, ex, brow_y - 0.006f * side * p.x, 0.046f, 0.010f)),
              scale(pal->hair, 0.9f));
        if (ps->closed) {
            paint(cv, cover(cv, ellipse_d(p, ex, ey + 0.004f, 0.05f, 0.006f)),
                  scale(pal->skin, 0.45f));
            continue;
        }
        float white = cover(cv, ellipse_d(p, ex, ey, 0.05f, 0.031f));
        paint(cv, white, mk(0.97f, 0.97f, 0.95f));
        float gx = ex + 0.006f; /* both look slightly to the right */
        paint(cv, fminf(white, cover(cv, ellipse_d(p, gx, ey, 0.024f, 0.024f))), pal->iris);
        paint(cv, fminf(white, cover(cv, ellipse_d(p, gx, ey, 0.011f, 0.011f))),
              mk(0.05f, 0.05f, 0.06f));
        paint(cv, cover(cv, ellipse_d(p, gx + 0.008f, ey - 0.008f, 0.0055f, 0.0055f)), mk(1, 1, 1));
        /* Upper lid line. */
        paint(cv,
              0.8f *
                  fminf(cover(cv, ellipse_d(p, ex, ey, 0.052f, 0.034f)),
                        cover(cv, -ellipse_d(p, ex, ey + 0.006f, 0.052f, 0.032f))) *
                  (p.y < ey ? 1.0f : 0.0f),
              scale(pal->skin, 0.35f));
    }
}

static void draw_mouth(canvas *cv, const palette *pal, pt p, const pose *ps) {
    paint(cv, 0.55f * cover(cv, ellipse_d(p, 0, 0.065f, 0.024f, 0.013f)),
          scale(pal->skin, 0.7f)); /* nose */
    float o = ps->open;
    float cy = 0.165f + 0.012f * o, rx = 0.078f - 0.014f * o, ry = 0.008f + 0.058f * o;
    paint(cv, cover(cv, ellipse_d(p, 0, cy, rx + 0.012f, ry + 0.011f)),
          mix(mk(0.78f, 0.30f, 0.32f), pal->skin, 0.25f));
    float inner = cover(cv, ellipse_d(p, 0, cy, rx, ry));
    paint(cv, inner, mk(0.26f, 0.04f, 0.07f));
    if (o > 0.12f) {
        paint(cv, fminf(inner, cover(cv, p.y - (cy - ry + 0.016f))), mk(0.97f, 0.96f, 0.92f));
        paint(cv, fminf(inner, cover(cv, ellipse_d(p, 0, cy + ry * 0.75f, rx * 0.62f, ry * 0.5f))),
              mk(0.86f, 0.36f, 0.42f));
    }
}

/* ---- the port label: a 3x5 pixel font ---- */

static const uint16_t glyphs[11] = {
    /* rows of 3 bits, top row in the high bits: 0-9 then ':' */
    075557, 026227, 071747, 071717, 055711, 074717, 074757, 071111, 075757, 075717, 002020,
};

static bool label_pixel(const char *label, int x, int y, int scale_px) {
    x /= scale_px;
    y /= scale_px;
    if (y < 0 || y >= 5 || x < 0)
        return false;
    int idx = x / 4, col = x % 4;
    if (col == 3 || idx >= (int)strlen(label))
        return false;
    char ch = label[idx];
    int g = ch == ':' ? 10 : ch - '0';
    return (glyphs[g] >> ((4 - y) * 3 + (2 - col))) & 1;
}

static rgb draw_label(const fs_render *r, int x, int y, rgb c) {
    int s = r->params.height >= 128 ? (int)r->params.height / 64 : 1;
    int ox = 2 * s, oy = 2 * s;
    if (label_pixel(r->port_label, x - ox, y - oy, s))
        return mix(r->pal.tint, mk(1, 1, 1), 0.7f);
    if (label_pixel(r->port_label, x - ox - s, y - oy - s, s))
        return scale(c, 0.35f); /* drop shadow */
    return c;
}

/* ---- rendering ---- */

static rgb shade_pixel(const fs_render *r, int x, int y, const pose *ps) {
    float s = (float)r->params.height;
    canvas cv = {.px = 1.0f / s};
    pt p = {((float)x + 0.5f - (float)r->params.width * 0.5f) / s,
            ((float)y + 0.5f - (float)r->params.height * 0.5f) / s};
    draw_background(&cv, &r->pal, p);
    draw_body(&cv, &r->pal, p);
    draw_head(&cv, &r->pal, p, ps);
    draw_eyes(&cv, &r->pal, p, ps);
    draw_mouth(&cv, &r->pal, p, ps);
    return draw_label(r, x, y, cv.c);
}

static uint8_t to_byte(float v) {
    return v <= 0 ? 0 : v >= 1 ? 255 : (uint8_t)(v * 255.0f + 0.5f);
}

static void render_pixels(const fs_render *r, const pose *ps, uint8_t *out, int channels) {
    for (uint32_t y = 0; y < r->params.height; y++) {
        for (uint32_t x = 0; x < r->params.width; x++) {
            rgb c = shade_pixel(r, (int)x, (int)y, ps);
            out[0] = to_byte(c.r);
            out[1] = to_byte(c.g);
            out[2] = to_byte(c.b);
            if (channels == 4)
                out[3] = 255;
            out += channels;
        }
    }
}

static int render_into(fs_render *r, const pose *ps, cached_image *img) {
    size_t pixels = (size_t)r->params.width * r->params.height;
    if (r->params.format == FS_FORMAT_RGBA32) {
        img->data = fg_malloc(pixels * 4);
        img->len = pixels * 4;
        render_pixels(r, ps, img->data, 4);
        return 0;
    }
    if (r->params.format == FS_FORMAT_RGB24) {
        img->data = fg_malloc(pixels * 3);
        img->len = pixels * 3;
        render_pixels(r, ps, img->data, 3);
        return 0;
    }
    render_pixels(r, ps, r->rgb_scratch, 3);
    unsigned char *jpeg = NULL;
    unsigned long jpeg_len = 0;
    if (tjCompress2(r->jpeg, r->rgb_scratch, (int)r->params.width, 0, (int)r->params.height,
                    TJPF_RGB, &jpeg, &jpeg_len, TJSAMP_420, JPEG_QUALITY, 0) != 0) {
        tjFree(jpeg);
        return FG_ERR_INVALID;
    }
    img->data = jpeg;
    img->len = jpeg_len;
    return 0;
}

double fs_render_mouth(const uint8_t *input, size_t len, uint32_t frame) {
    size_t n = len / 2;
    if (n == 0) {
        /* Talk-like motion from two slow waves, so an empty input still animates. */
        double t = (double)frame;
        double v = 0.5 + 0.32 * sin(t * 0.47) + 0.18 * sin(t * 0.19 + 1.3);
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int16_t s = (int16_t)(uint16_t)(input[2 * i] | (input[2 * i + 1] << 8));
        sum += (double)s * (double)s;
    }
    double rms = sqrt(sum / (double)n) / 32768.0;
    if (rms <= 0)
        return 0;
    /* Loudness as heard: closed at -50 dBFS and below, wide open at -6 dBFS. */
    double v = (20.0 * log10(rms) + 50.0) / 44.0;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static int cached(fs_render *r, int step, bool closed, cached_image **out) {
    cached_image *img = &r->cache[step * 2 + closed];
    if (!img->data) {
        pose ps = {(float)step / (FS_RENDER_MOUTH_STEPS - 1), closed};
        int rv = render_into(r, &ps, img);
        if (rv < 0)
            return rv;
    }
    *out = img;
    return 0;
}

int fs_render_frame(fs_render *r, const uint8_t *input, size_t len, uint32_t frame,
                    const uint8_t **image, size_t *image_len) {
    if (r->params.cacheable)
        frame = FS_RENDER_BLINK_FRAMES; /* no motion from the frame number: eyes open */
    /* cacheable: no sample is silence (a closed mouth), not the frame number's motion */
    double open = r->params.cacheable && len < 2 ? 0 : fs_render_mouth(input, len, frame);
    int step = (int)lrint(open * (FS_RENDER_MOUTH_STEPS - 1));
    bool closed = frame % FS_RENDER_BLINK_PERIOD < FS_RENDER_BLINK_FRAMES;
    cached_image *img;
    int rv = cached(r, step, closed, &img);
    if (rv < 0)
        return rv;
    *image = img->data;
    *image_len = img->len;
    return 0;
}

int fs_render_warm(fs_render *r) {
    cached_image *img;
    for (int step = 0; step < FS_RENDER_MOUTH_STEPS; step++) {
        for (int closed = 0; closed < 2; closed++) {
            int rv = cached(r, step, closed, &img);
            if (rv < 0)
                return rv;
        }
    }
    return 0;
}

fs_render *fs_render_new(const fs_render_params *params) {
    fs_render *r = fg_calloc(1, sizeof(*r));
    r->params = *params;
    r->params.model = fg_strdup(params->model);
    r->pal = make_palette(params->port, params->model, params->cacheable);
    if (!params->cacheable) /* empty label: nothing drawn */
        snprintf(r->port_label, sizeof(r->port_label), ":%u", (unsigned)params->port);
    if (params->format == FS_FORMAT_JPEG) {
        r->jpeg = tjInitCompress();
        if (!r->jpeg)
            goto fail;
        r->rgb_scratch = fg_malloc((size_t)params->width * params->height * 3);
    }
    return r;
fail:
    free((char *)r->params.model);
    free(r);
    return NULL;
}

void fs_render_free(fs_render *r) {
    if (!r)
        return;
    for (int i = 0; i < N_CACHED; i++) {
        if (r->params.format == FS_FORMAT_JPEG)
            tjFree(r->cache[i].data);
        else
            free(r->cache[i].data);
    }
    if (r->jpeg)
        tjDestroy(r->jpeg);
    free(r->rgb_scratch);
    free((char *)r->params.model);
    free(r);
}
