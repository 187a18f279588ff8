/*
 * The embedded web assets: every file the page needs is found with the right Content-Type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fg_web.h"

static const fg_web_asset *find(const char *path) {
    return fg_web_find(path, strlen(path));
}

static void test_root_is_index_html(void **unused) {
    const fg_web_asset *root = find("/");
    const fg_web_asset *index = find("/index.html");
    assert_non_null(root);
    assert_non_null(index);
    assert_ptr_equal(root->data, index->data);
    assert_string_equal(root->content_type, "text/html; charset=utf-8");
    assert_true(root->len > 100);
    assert_memory_equal(root->data, "<!doctype html>", 15);
}

static void test_content_types(void **unused) {
    static const struct {
        const char *path;
        const char *type;
    } expected[] = {
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/protocol.js", "text/javascript; charset=utf-8"},
        {"/stats.js", "text/javascript; charset=utf-8"},
        {"/style.css", "text/css; charset=utf-8"},
        {"/favicon.svg", "image/svg+xml"},
        {"/favicon.ico", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const fg_web_asset *asset = find(expected[i].path);
        assert_non_null(asset);
        assert_string_equal(asset->path, expected[i].path);
        assert_string_equal(asset->content_type, expected[i].type);
        assert_true(asset->len > 0);
    }
}

/* Every local file index.html references must be served. */
static void test_index_references_are_served(void **unused) {
    const fg_web_asset *index = find("/");
    const char *html = (const char *)index->data;
    const char *end = html + index->len;
    int references = 0;
    for (const char *p = html; p < end; p++) {
        size_t attr_len = 0;
        if (end - p > 6 && memcmp(p, "src=\"/", 6) == 0)
            attr_len = 5;
        else if (end - p > 7 && memcmp(p, "href=\"/", 7) == 0)
            attr_len = 6;
        if (!attr_len)
            continue;
        const char *path = p + attr_len;
        const char *quote = memchr(path, '"', (size_t)(end - path));
        assert_non_null(quote);
        assert_non_null(fg_web_find(path, (size_t)(quote - path)));
        references++;
    }
    assert_true(references >= 3);
}

static void test_unknown_and_partial_paths(void **unused) {
    assert_null(find("/nope"));
    assert_null(find(""));
    assert_null(find("/app.j"));
    assert_null(find("/app.js/"));
    assert_null(find("/APP.JS"));
    /* Only len bytes count: the caller's buffer need not be NUL-terminated. */
    assert_non_null(fg_web_find("/app.jsXYZ", 7));
    assert_null(fg_web_find("/", 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_is_index_html),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_index_references_are_served),
        cmocka_unit_test(test_unknown_and_partial_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
