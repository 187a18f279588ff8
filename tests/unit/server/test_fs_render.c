/* fs_render: sizes per format, determinism, the mouth following the input, the port tint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "fs_render.h"

static fs_render *make_ex(fs_format format, uint16_t port, uint32_t w, uint32_t h, bool cacheable) {
    fs_render_params p = {w, h, format, port, "sanders", cacheable};
    fs_render *r = fs_render_new(&p);
    assert_non_null(r);
    return r;
}

static fs_render *make(fs_format format, uint16_t port, uint32_t w, uint32_t h) {
    fs_render_params p = {w, h, format, port, "sanders", false};
    fs_render *r = fs_render_new(&p);
    assert_non_null(r);
    return r;
}

/* A 16-bit LE sine of the given amplitude (0..32767). */
static uint8_t *pcm_sine(size_t samples, double amplitude) {
    uint8_t *buf = malloc(samples * 2);
    for (size_t i = 0; i < samples; i++) {
        int16_t s = (int16_t)lrint(amplitude * sin((double)i * 0.07));
        buf[2 * i] = (uint8_t)(s & 0xff);
        buf[2 * i + 1] = (uint8_t)((uint16_t)s >> 8);
    }
    return buf;
}

static void test_sizes_per_format(void **state) {
    const uint8_t *img;
    size_t len;
    fs_render *r = make(FS_FORMAT_RGB24, 50051, 128, 64);
    assert_int_equal(fs_render_frame(r, NULL, 0, 1, &img, &len), 0);
    assert_int_equal(len, 128 * 64 * 3);
    fs_render_free(r);

    r = make(FS_FORMAT_RGBA32, 50051, 96, 40);
    assert_int_equal(fs_render_frame(r, NULL, 0, 1, &img, &len), 0);
    assert_int_equal(len, 96 * 40 * 4);
    for (size_t i = 3; i < len; i += 4)
        assert_int_equal(img[i], 255); /* opaque */
    fs_render_free(r);

    r = make(FS_FORMAT_JPEG, 50051, 128, 64);
    assert_int_equal(fs_render_frame(r, NULL, 0, 1, &img, &len), 0);
    assert_true(len > 100 && len < 128 * 64 * 3);
    assert_int_equal(img[0], 0xff); /* SOI */
    assert_int_equal(img[1], 0xd8);
    int w, h, subsamp, colorspace;
    tjhandle d = tjInitDecompress();
    assert_int_equal(tjDecompressHeader3(d, img, (unsigned long)len, &w, &h, &subsamp, &colorspace),
                     0);
    assert_int_equal(w, 128);
    assert_int_equal(h, 64);
    tjDestroy(d);
    fs_render_free(r);
}

static void test_deterministic(void **state) {
    uint8_t *pcm = pcm_sine(800, 8000);
    const uint8_t *a, *b;
    size_t alen, blen;
    fs_render *r1 = make(FS_FORMAT_RGB24, 50052, 128, 64);
    fs_render *r2 = make(FS_FORMAT_RGB24, 50052, 128, 64);
    assert_int_equal(fs_render_frame(r1, pcm, 1600, 7, &a, &alen), 0);
    assert_int_equal(fs_render_frame(r2, pcm, 1600, 7, &b, &blen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    fs_render_free(r1);
    fs_render_free(r2);
    free(pcm);
}

/* Mouth pixels (dark interior or white teeth) in the lower middle of the face: their number
 * grows as the mouth opens. */
static size_t mouth_pixels(const uint8_t *img, uint32_t w, uint32_t h) {
    size_t n = 0;
    for (uint32_t y = h / 2; y < h * 7 / 8; y++) {
        for (uint32_t x = w / 2 - h / 8; x < w / 2 + h / 8; x++) {
            const uint8_t *p = img + (y * w + x) * 3;
            bool dark_red = p[0] < 110 && p[1] < 40 && p[2] < 50 && p[0] > p[1];
            bool teeth = p[0] > 225 && p[1] > 225 && p[2] > 215;
            if (dark_red || teeth)
                n++;
        }
    }
    return n;
}

static void test_mouth_follows_level(void **state) {
    uint8_t *quiet = pcm_sine(800, 100);
    uint8_t *loud = pcm_sine(800, 20000);
    assert_true(fs_render_mouth(loud, 1600, 0) > fs_render_mouth(quiet, 1600, 0));
    assert_true(fs_render_mouth(NULL, 0, 0) >= 0 && fs_render_mouth(NULL, 0, 0) <= 1);
    uint8_t silence[64] = {0};
    assert_true(fs_render_mouth(silence, sizeof(silence), 0) == 0.0);

    fs_render *r = make(FS_FORMAT_RGB24, 50051, 256, 128);
    const uint8_t *img;
    size_t len;
    assert_int_equal(fs_render_frame(r, quiet, 1600, 10, &img, &len), 0);
    size_t closed = mouth_pixels(img, 256, 128);
    assert_int_equal(fs_render_frame(r, loud, 1600, 10, &img, &len), 0);
    size_t open = mouth_pixels(img, 256, 128);
    if (open < 2 * closed + 20)
        fail_msg("mouth did not open: %zu mouth pixels quiet, %zu loud", closed, open);
    fs_render_free(r);
    free(quiet);
    free(loud);
}

static void test_frame_drives_empty_input(void **state) {
    /* Over a few dozen frames an empty input must move the mouth. */
    double lo = 1, hi = 0;
    for (uint32_t f = 0; f < 40; f++) {
        double m = fs_render_mouth(NULL, 0, f);
        lo = m < lo ? m : lo;
        hi = m > hi ? m : hi;
    }
    assert_true(hi - lo > 0.4);
    /* An odd trailing byte is ignored; a single byte is "no samples". */
    uint8_t one = 0x7f;
    assert_true(fs_render_mouth(&one, 1, 3) == fs_render_mouth(NULL, 0, 3));
}

static void test_tint_differs_by_port(void **state) {
    uint8_t a[3], b[3];
    fs_render_tint(50051, a);
    fs_render_tint(50052, b);
    int diff = abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]);
    assert_true(diff > 60);

    const uint8_t *ia, *ib;
    size_t la, lb;
    fs_render *ra = make(FS_FORMAT_RGB24, 50051, 128, 64);
    fs_render *rb = make(FS_FORMAT_RGB24, 50052, 128, 64);
    assert_int_equal(fs_render_frame(ra, NULL, 0, 5, &ia, &la), 0);
    assert_int_equal(fs_render_frame(rb, NULL, 0, 5, &ib, &lb), 0);
    /* The top-right corner is background: it carries the tint. */
    const uint8_t *pa = ia + (2 * 128 + 125) * 3, *pb = ib + (2 * 128 + 125) * 3;
    assert_true(abs(pa[0] - pb[0]) + abs(pa[1] - pb[1]) + abs(pa[2] - pb[2]) > 20);
    fs_render_free(ra);
    fs_render_free(rb);
}

/* --cacheable: the same (model, input) gives the same bytes on any port and any frame number,
 * and the input still drives the mouth. */
static void test_cacheable_depends_on_input_only(void **state) {
    fs_render *a = make_ex(FS_FORMAT_RGB24, 50051, 128, 64, true);
    fs_render *b = make_ex(FS_FORMAT_RGB24, 50052, 128, 64, true);
    uint8_t *loud = pcm_sine(800, 20000);
    const uint8_t *ia, *ib;
    size_t la, lb;
    for (uint32_t frame = 0; frame < 2 * FS_RENDER_BLINK_PERIOD; frame += 7) {
        assert_int_equal(fs_render_frame(a, loud, 1600, frame, &ia, &la), 0);
        assert_int_equal(fs_render_frame(b, loud, 1600, 1000 + frame, &ib, &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(ia, ib, la);
        assert_int_equal(fs_render_frame(a, NULL, 0, frame, &ia, &la), 0);
        assert_int_equal(fs_render_frame(b, NULL, 0, frame + 1, &ib, &lb), 0);
        assert_memory_equal(ia, ib, la);
    }
    assert_int_equal(fs_render_frame(a, loud, 1600, 0, &ia, &la), 0);
    assert_int_equal(fs_render_frame(a, NULL, 0, 0, &ib, &lb), 0);
    assert_memory_not_equal(ia, ib, la); /* the input still moves the mouth */
    /* and a non-cacheable renderer on the same port differs (its tint and label) */
    fs_render *c = make_ex(FS_FORMAT_RGB24, 50051, 128, 64, false);
    assert_int_equal(fs_render_frame(c, loud, 1600, 5, &ib, &lb), 0);
    assert_int_equal(fs_render_frame(a, loud, 1600, 5, &ia, &la), 0);
    assert_memory_not_equal(ia, ib, la);
    free(loud);
    fs_render_free(a);
    fs_render_free(b);
    fs_render_free(c);
}

static void test_warm_and_cache(void **state) {
    fs_render *r = make(FS_FORMAT_JPEG, 50053, 64, 32);
    assert_int_equal(fs_render_warm(r), 0);
    const uint8_t *a, *b;
    size_t la, lb;
    assert_int_equal(fs_render_frame(r, NULL, 0, 11, &a, &la), 0);
    assert_int_equal(fs_render_frame(r, NULL, 0, 11, &b, &lb), 0);
    assert_ptr_equal(a, b); /* served from the cache */
    fs_render_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_per_format),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_mouth_follows_level),
        cmocka_unit_test(test_frame_drives_empty_input),
        cmocka_unit_test(test_tint_differs_by_port),
        cmocka_unit_test(test_warm_and_cache),
        cmocka_unit_test(test_cacheable_depends_on_input_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
