#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdalign.h>
#include <string.h>

#include "fg_slab.h"

/* A released block is the next one of its size class handed out (last in, first out). */
static void released_block_is_reused_for_its_class(void **state) {
    fg_slab *s = fg_slab_new(1 << 20);
    void *a = fg_slab_alloc(s, 100);
    void *b = fg_slab_alloc(s, 100);
    assert_ptr_not_equal(a, b);
    assert_int_equal(fg_slab_outstanding(s), 2);
    fg_slab_release(s, a);
    fg_slab_release(s, b);
    assert_int_equal(fg_slab_outstanding(s), 0);
    assert_ptr_equal(fg_slab_alloc(s, 120), b); /* 100 and 120: the 128-byte class */
    assert_ptr_equal(fg_slab_alloc(s, 65), a);
    void *c = fg_slab_alloc(s, 64); /* the 64-byte class has none kept */
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(c, b);
    fg_slab_release(s, a);
    fg_slab_release(s, b);
    fg_slab_release(s, c);
    fg_slab_free(s);
}

/* Every block is aligned as malloc's and usable to its full size, at every class edge. */
static void blocks_are_aligned_and_whole(void **state) {
    fg_slab *s = fg_slab_new(1 << 20);
    size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 1000, 1024, 1025, 4095, 4096, 4097, 100000};
    void *p[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = fg_slab_alloc(s, sizes[i]);
        assert_int_equal((uintptr_t)p[i] % alignof(max_align_t), 0);
        memset(p[i], (int)i, sizes[i]); /* ASan: within the block */
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(((uint8_t *)p[i])[j], (uint8_t)i);
        fg_slab_release(s, p[i]);
    }
    assert_int_equal(fg_slab_outstanding(s), 0);
    fg_slab_free(s);
}

static void calloc_zeroes_a_reused_block(void **state) {
    fg_slab *s = fg_slab_new(1 << 20);
    uint8_t *a = fg_slab_alloc(s, 200);
    memset(a, 0xff, 200);
    fg_slab_release(s, a);
    uint8_t *b = fg_slab_calloc(s, 25, 8);
    assert_ptr_equal(a, b);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(b[i], 0);
    assert_null(fg_slab_calloc(s, SIZE_MAX / 2, 4)); /* overflow */
    fg_slab_release(s, b);
    fg_slab_free(s);
}

static void realloc_keeps_contents_across_classes(void **state) {
    fg_slab *s = fg_slab_new(1 << 20);
    uint8_t *p = fg_slab_realloc(s, NULL, 10);
    memcpy(p, "0123456789", 10);
    assert_ptr_equal(fg_slab_realloc(s, p, 16), p); /* the class has room */
    p = fg_slab_realloc(s, p, 3000);
    assert_memory_equal(p, "0123456789", 10);
    memset(p + 10, 'x', 2990);
    p = fg_slab_realloc(s, p, 50000); /* to a heap block */
    assert_memory_equal(p, "0123456789", 10);
    assert_int_equal(p[2999], 'x');
    p = fg_slab_realloc(s, p, 8); /* back into a class, the first 8 bytes kept */
    assert_memory_equal(p, "01234567", 8);
    assert_int_equal(fg_slab_outstanding(s), 1);
    fg_slab_release(s, p);
    fg_slab_release(s, NULL); /* like free(NULL) */
    assert_int_equal(fg_slab_outstanding(s), 0);
    fg_slab_free(s);
}

/* Past keep_bytes, released blocks go back to the heap instead of the lists. */
static void keeps_no_more_than_its_limit(void **state) {
    fg_slab *s = fg_slab_new(2 * 1024);
    void *a = fg_slab_alloc(s, 1024), *b = fg_slab_alloc(s, 1024), *c = fg_slab_alloc(s, 1024);
    fg_slab_release(s, a);
    fg_slab_release(s, b);
    fg_slab_release(s, c); /* over the limit: freed (LeakSanitizer would see it otherwise) */
    assert_ptr_equal(fg_slab_alloc(s, 1024), b);
    assert_ptr_equal(fg_slab_alloc(s, 1024), a);
    void *d = fg_slab_alloc(s, 1024);
    fg_slab_release(s, a);
    fg_slab_release(s, b);
    fg_slab_release(s, d);
    fg_slab_free(s); /* frees what the lists kept */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(released_block_is_reused_for_its_class),
        cmocka_unit_test(blocks_are_aligned_and_whole),
        cmocka_unit_test(calloc_zeroes_a_reused_block),
        cmocka_unit_test(realloc_keeps_contents_across_classes),
        cmocka_unit_test(keeps_no_more_than_its_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
