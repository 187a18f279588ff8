/*
 * fg_reply: the RenderReply unpack that borrows the image must give exactly what protobuf-c's
 * own unpack gives (fields, success or failure), for ordinary, merged, extended, malformed and
 * randomly mutated messages, and must not copy the image of an ordinary reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fg_err.h"
#include "fg_reply.h"

#define IMAGE_LEN (128 * 64 * 3)

static size_t pack_reply(uint8_t *out, uint32_t frame, const uint8_t *image, size_t image_len) {
    Framegate__V1__RenderReply m = FRAMEGATE__V1__RENDER_REPLY__INIT;
    m.frame = frame;
    m.image.data = (uint8_t *)image;
    m.image.len = image_len;
    m.format = FRAMEGATE__V1__IMAGE_FORMAT__IMAGE_FORMAT_RGB24;
    m.width = 128;
    m.height = 64;
    m.inference_us = 1234;
    return framegate__v1__render_reply__pack(&m, out);
}

/* fg_reply_unpack and protobuf-c agree on buf: both fail, or both give the same fields. */
static void assert_same_as_protobuf_c(const uint8_t *buf, size_t len) {
    Framegate__V1__RenderReply *want = framegate__v1__render_reply__unpack(NULL, len, buf);
    fg_reply got = {0};
    fg_slab *slab = fg_slab_new(FG_SLAB_KEEP_DEFAULT);
    int rv = fg_reply_unpack(&got, buf, len, slab);
    if (!want) {
        assert_int_equal(rv, FG_ERR_PROTO);
        assert_null(got.msg);
        assert_int_equal(fg_slab_outstanding(slab), 0);
        fg_slab_free(slab);
        return;
    }
    assert_int_equal(rv, 0);
    assert_int_equal(got.msg->frame, want->frame);
    assert_int_equal(got.msg->format, want->format);
    assert_int_equal(got.msg->width, want->width);
    assert_int_equal(got.msg->height, want->height);
    assert_int_equal(got.msg->inference_us, want->inference_us);
    assert_int_equal(got.msg->image.len, want->image.len);
    if (want->image.len)
        assert_memory_equal(got.msg->image.data, want->image.data, want->image.len);
    framegate__v1__render_reply__free_unpacked(want, NULL);
    fg_reply_free(&got);
    assert_null(got.msg);
    assert_int_equal(fg_slab_outstanding(slab), 0); /* everything protobuf-c took went back */
    fg_slab_free(slab);
}

static void test_ordinary_reply_borrows_the_image(void **state) {
    static uint8_t image[IMAGE_LEN], buf[IMAGE_LEN + 64];
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7);
    size_t len = pack_reply(buf, 42, image, sizeof image);
    fg_reply r;
    assert_int_equal(fg_reply_unpack(&r, buf, len, NULL), 0);
    assert_true(r.image_borrowed);
    assert_true(r.msg->image.data > buf && r.msg->image.data + IMAGE_LEN <= buf + len);
    assert_memory_equal(r.msg->image.data, image, IMAGE_LEN);
    assert_int_equal(r.msg->frame, 42);
    assert_int_equal(r.msg->width, 128);
    fg_reply_free(&r);
    assert_same_as_protobuf_c(buf, len);
}

static void test_unusual_messages_match_protobuf_c(void **state) {
    static uint8_t buf[4096];
    uint8_t image[100];
    memset(image, 0xab, sizeof image);
    /* Empty message, no image, an empty image. */
    assert_same_as_protobuf_c(buf, 0);
    assert_same_as_protobuf_c(buf, pack_reply(buf, 1, NULL, 0));
    /* Two messages back to back merge: the second image wins. */
    size_t n = pack_reply(buf, 1, image, sizeof image);
    image[0] = 1;
    n += pack_reply(buf + n, 2, image, 10);
    assert_same_as_protobuf_c(buf, n);
    /* Unknown fields: small (walked) and large (more than the walk keeps aside). */
    n = pack_reply(buf, 3, image, sizeof image);
    const uint8_t unknown_small[] = {15 << 3 | 0, 0x96, 0x01, 16 << 3 | 2, 3, 'a', 'b', 'c'};
    memcpy(buf + n, unknown_small, sizeof unknown_small);
    assert_same_as_protobuf_c(buf, n + sizeof unknown_small);
    buf[n] = 17 << 3 | 2;
    buf[n + 1] = 0x90; /* 400 bytes */
    buf[n + 2] = 0x03;
    memset(buf + n + 3, 'x', 400);
    assert_same_as_protobuf_c(buf, n + 403);
    /* Image with the wrong wire type; a length past the end; a truncated varint; a group. */
    const uint8_t wrong_wire[] = {2 << 3 | 0, 5};
    assert_same_as_protobuf_c(wrong_wire, sizeof wrong_wire);
    const uint8_t past_end[] = {2 << 3 | 2, 50, 1, 2, 3};
    assert_same_as_protobuf_c(past_end, sizeof past_end);
    const uint8_t cut_varint[] = {1 << 3 | 0, 0xff};
    assert_same_as_protobuf_c(cut_varint, sizeof cut_varint);
    const uint8_t group[] = {9 << 3 | 3, 9 << 3 | 4};
    assert_same_as_protobuf_c(group, sizeof group);
}

/* Random byte flips, truncations and splices of a valid reply (fixed seed: deterministic). */
static void test_mutations_match_protobuf_c(void **state) {
    uint8_t image[300], good[512], buf[512];
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)i;
    size_t good_len = pack_reply(good, 77, image, sizeof image);
    srand(12345);
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, good, good_len);
        size_t len = good_len;
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            buf[rand() % len] = (uint8_t)rand();
        if (rand() % 4 == 0)
            len = (size_t)rand() % (len + 1);
        assert_same_as_protobuf_c(buf, len);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_reply_borrows_the_image),
        cmocka_unit_test(test_unusual_messages_match_protobuf_c),
        cmocka_unit_test(test_mutations_match_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
