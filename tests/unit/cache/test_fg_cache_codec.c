/* fg_cache_codec and fg_cache_mem: the key, the stored value's header and its parser, the LRU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "fg_cache_codec.h"
#include "fg_cache_mem.h"
#include "fg_cache_redis.h"
#include "fg_err.h"

/* SHA-256 of 0x07 "sanders" "abc", computed independently (python3 hashlib). */
#define EXPECTED_KEY "fg:v1:d60c893563ece117232bfad16d2fd61514e9c2feb2fac8279cd5491ec4501e86"

static void test_key_is_sha256_of_len_model_input(void **state) {
    uint8_t d[FG_CACHE_DIGEST_LEN], e[FG_CACHE_DIGEST_LEN];
    char text[FG_CACHE_KEY_TEXT_LEN];
    fg_cache_key("sanders", 7, (const uint8_t *)"abc", 3, d);
    assert_int_equal(fg_cache_key_text(d, text), strlen(EXPECTED_KEY));
    assert_string_equal(text, EXPECTED_KEY);
    /* the model's length is part of the key: "sanders"+"a" is not "sandersa"+"" */
    fg_cache_key("sandersa", 8, (const uint8_t *)"bc", 2, e);
    assert_memory_not_equal(d, e, sizeof d);
    fg_cache_key("sanders", 7, NULL, 0, e);
    assert_memory_not_equal(d, e, sizeof d);
}

static void test_value_round_trip(void **state) {
    uint8_t buf[FG_CACHE_VALUE_HEADER_LEN + 2 * 3 * 3];
    fg_cache_value v = {.format = 1, .width = 3, .height = 2, .image_len = 18};
    fg_cache_value_header(&v, buf);
    for (int i = 0; i < 18; i++)
        buf[FG_CACHE_VALUE_HEADER_LEN + i] = (uint8_t)i;
    fg_cache_value out;
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf, 18, &out), 0);
    assert_int_equal(out.format, 1);
    assert_int_equal(out.width, 3);
    assert_int_equal(out.height, 2);
    assert_int_equal(out.image_len, 18);
    assert_ptr_equal(out.image, buf + FG_CACHE_VALUE_HEADER_LEN);
    /* over the limit, truncated, a length that lies, a raw size that does not match */
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf, 17, &out), FG_ERR_TOO_BIG);
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf - 1, 18, &out), FG_ERR_PROTO);
    assert_int_equal(fg_cache_value_parse(buf, 15, 18, &out), FG_ERR_PROTO);
    v.width = 4;
    fg_cache_value_header(&v, buf);
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf, 18, &out), FG_ERR_PROTO);
    v.width = 3;
    v.format = 5;
    fg_cache_value_header(&v, buf);
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf, 18, &out), FG_ERR_PROTO);
    buf[0] = 'X';
    assert_int_equal(fg_cache_value_parse(buf, sizeof buf, 18, &out), FG_ERR_PROTO);
    assert_false(fg_cache_value_storable(3, 1, 1, 0, 100)); /* an empty JPEG */
    assert_false(fg_cache_value_storable(3, 70000, 1, 10, 100));
    assert_true(fg_cache_value_storable(3, 128, 64, 100, 100));
}

static void test_redis_url(void **state) {
    fg_redis_target t;
    assert_int_equal(fg_cache_redis_parse_url("redis://127.0.0.1:6380/2", &t), 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    assert_int_equal(fg_cache_redis_parse_url("redis://cache", &t), 0);
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_int_equal(fg_cache_redis_parse_url("redis://[::1]:7000", &t), 0);
    assert_string_equal(t.host, "::1");
    const char *bad[] = {"",
                         "redis://",
                         "http://h:1",
                         "redis://u:p@h:1",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:1/x",
                         "redis://h:1?db=2",
                         "redis://[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fg_cache_redis_parse_url(bad[i], &t), FG_ERR_INVALID);
}

static fg_cache_item *item(uint8_t id, size_t len) {
    uint8_t d[FG_CACHE_DIGEST_LEN] = {id};
    uint8_t img[1024] = {id};
    return fg_cache_item_new(d, 3, 1, 1, img, len);
}

static void test_lru_evicts_least_recently_used(void **state) {
    fg_cache_item *a = item(1, 100), *b = item(2, 100), *c = item(3, 100);
    size_t cost = fg_cache_item_cost(a);
    fg_cache_mem *m = fg_cache_mem_new(2 * cost);
    assert_true(fg_cache_mem_put(m, a));
    assert_true(fg_cache_mem_put(m, b));
    fg_cache_item *got = fg_cache_mem_get(m, a->digest); /* a is now the most recent */
    assert_ptr_equal(got, a);
    fg_cache_item_unref(got);
    assert_true(fg_cache_mem_put(m, c)); /* evicts b */
    assert_null(fg_cache_mem_get(m, b->digest));
    got = fg_cache_mem_get(m, c->digest);
    assert_ptr_equal(got, c);
    fg_cache_item_unref(got);
    assert_int_equal(fg_cache_mem_items(m), 2);
    assert_int_equal(fg_cache_mem_bytes(m), 2 * cost);
    fg_cache_item *big = item(4, 1000); /* larger than the whole budget: not kept */
    assert_false(fg_cache_mem_put(m, big));
    assert_int_equal(fg_cache_mem_items(m), 2);
    fg_cache_mem_free(m);
    /* the callers' references outlive the LRU */
    assert_int_equal(a->image[0], 1);
    fg_cache_item_unref(a);
    fg_cache_item_unref(b);
    fg_cache_item_unref(c);
    fg_cache_item_unref(big);
}

static void test_lru_grows_past_its_buckets(void **state) {
    fg_cache_mem *m = fg_cache_mem_new(1u << 30);
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t d[FG_CACHE_DIGEST_LEN] = {(uint8_t)i, (uint8_t)(i >> 8), 0, 0, 0, 0, 0, 0, 7};
        fg_cache_item *it = fg_cache_item_new(d, 3, 1, 1, d, 4);
        assert_true(fg_cache_mem_put(m, it));
        fg_cache_item_unref(it);
    }
    assert_int_equal(fg_cache_mem_items(m), 2000);
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t d[FG_CACHE_DIGEST_LEN] = {(uint8_t)i, (uint8_t)(i >> 8), 0, 0, 0, 0, 0, 0, 7};
        fg_cache_item *it = fg_cache_mem_get(m, d);
        assert_non_null(it);
        fg_cache_item_unref(it);
    }
    fg_cache_mem_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_is_sha256_of_len_model_input),
        cmocka_unit_test(test_value_round_trip),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_lru_evicts_least_recently_used),
        cmocka_unit_test(test_lru_grows_past_its_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
