/* fb_image: frame files (PPM, JPEG, PNG pass-through). */
#include "fb_image.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <turbojpeg.h>

#include "framegate/v1/frames.pb-c.h"
#include "fg_alloc.h"
#include "fg_err.h"

enum {
    FMT_RGB24 = FRAMEGATE__V1__IMAGE_FORMAT__IMAGE_FORMAT_RGB24,
    FMT_RGBA32 = FRAMEGATE__V1__IMAGE_FORMAT__IMAGE_FORMAT_RGBA32,
    FMT_JPEG = FRAMEGATE__V1__IMAGE_FORMAT__IMAGE_FORMAT_JPEG,
    FMT_PNG = FRAMEGATE__V1__IMAGE_FORMAT__IMAGE_FORMAT_PNG,
};

static bool has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen,
                      char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return FG_ERR_INVALID;
    }
    bool ok = fwrite(a, 1, alen, f) == alen && (blen == 0 || fwrite(b, 1, blen, f) == blen);
    if (fclose(f) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return FG_ERR_INVALID;
    }
    return 0;
}

/* Raw pixels as tightly packed RGB (a new buffer), decoding or dropping alpha as needed. */
static uint8_t *to_rgb(int format, uint32_t w, uint32_t h, const uint8_t *data, size_t len,
                       char *err, size_t errlen) {
    size_t pixels = (size_t)w * h;
    if (format == FMT_RGB24 || format == FMT_RGBA32) {
        size_t bpp = format == FMT_RGB24 ? 3 : 4;
        if (pixels == 0 || len != pixels * bpp) {
            snprintf(err, errlen, "image is %zu bytes, expected %ux%u x %zu", len, w, h, bpp);
            return NULL;
        }
        uint8_t *rgb = fg_malloc(pixels * 3);
        for (size_t i = 0; i < pixels; i++)
            memcpy(rgb + 3 * i, data + bpp * i, 3);
        return rgb;
    }
    if (format == FMT_JPEG) {
        tjhandle tj = tjInitDecompress();
        int jw = 0, jh = 0, sub = 0, cs = 0;
        uint8_t *rgb = NULL;
        if (tj && tjDecompressHeader3(tj, data, (unsigned long)len, &jw, &jh, &sub, &cs) == 0 &&
            jw > 0 && jh > 0) {
            rgb = fg_malloc((size_t)jw * (size_t)jh * 3);
            if (tjDecompress2(tj, data, (unsigned long)len, rgb, jw, 0, jh, TJPF_RGB, 0) != 0) {
                free(rgb);
                rgb = NULL;
            }
        }
        if (!rgb)
            snprintf(err, errlen, "cannot decode the JPEG: %s", tj ? tjGetErrorStr2(tj) : "");
        if (tj)
            tjDestroy(tj);
        return rgb;
    }
    snprintf(err, errlen,
             "cannot convert image format %d to pixels (PNG decoding is not available)", format);
    return NULL;
}

static int write_ppm(const char *path, int format, uint32_t w, uint32_t h, const uint8_t *data,
                     size_t len, char *err, size_t errlen) {
    if (format == FMT_JPEG) {
        tjhandle tj = tjInitDecompress();
        int jw = 0, jh = 0, sub = 0, cs = 0;
        if (tj && tjDecompressHeader3(tj, data, (unsigned long)len, &jw, &jh, &sub, &cs) == 0) {
            w = (uint32_t)jw;
            h = (uint32_t)jh;
        }
        if (tj)
            tjDestroy(tj);
    }
    uint8_t *rgb = to_rgb(format, w, h, data, len, err, errlen);
    if (!rgb)
        return FG_ERR_INVALID;
    char head[64];
    int n = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", w, h);
    int rc = write_file(path, head, (size_t)n, rgb, (size_t)w * h * 3, err, errlen);
    free(rgb);
    return rc;
}

static int write_jpeg(const char *path, int format, uint32_t w, uint32_t h, const uint8_t *data,
                      size_t len, char *err, size_t errlen) {
    if (format == FMT_JPEG)
        return write_file(path, data, len, NULL, 0, err, errlen);
    uint8_t *rgb = to_rgb(format, w, h, data, len, err, errlen);
    if (!rgb)
        return FG_ERR_INVALID;
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jpeg_len = 0;
    int rc = FG_ERR_INVALID;
    if (tj &&
        tjCompress2(tj, rgb, (int)w, 0, (int)h, TJPF_RGB, &jpeg, &jpeg_len, TJSAMP_420, 90, 0) == 0)
        rc = write_file(path, jpeg, jpeg_len, NULL, 0, err, errlen);
    else
        snprintf(err, errlen, "cannot encode JPEG: %s", tj ? tjGetErrorStr2(tj) : "");
    tjFree(jpeg);
    if (tj)
        tjDestroy(tj);
    free(rgb);
    return rc;
}

int fb_image_write(const char *path, int format, uint32_t width, uint32_t height,
                   const uint8_t *data, size_t len, char *err, size_t errlen) {
    if (has_ext(path, ".ppm"))
        return write_ppm(path, format, width, height, data, len, err, errlen);
    if (has_ext(path, ".jpg") || has_ext(path, ".jpeg"))
        return write_jpeg(path, format, width, height, data, len, err, errlen);
    if (has_ext(path, ".png")) {
        if (format == FMT_PNG)
            return write_file(path, data, len, NULL, 0, err, errlen);
        snprintf(err, errlen,
                 "cannot write %s: no PNG encoder among framegate's libraries (libturbojpeg "
                 "cannot write PNG); use .ppm or .jpg",
                 path);
        return FG_ERR_INVALID;
    }
    snprintf(err, errlen, "cannot write %s: the name must end in .ppm, .jpg or .png", path);
    return FG_ERR_INVALID;
}
