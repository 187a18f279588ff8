/* fc_group: framebench's --group NAME:CONNECTIONS:INFLIGHT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fc_group.h"
#include "fg_err.h"

static void parses_groups(void **state) {
    fc_group_spec g;
    char err[200];
    assert_int_equal(fc_group_parse("flood:32:16", &g, err, sizeof err), 0);
    assert_string_equal(g.name, "flood");
    assert_int_equal(g.connections, 32);
    assert_int_equal(g.inflight, 16);
    assert_int_equal(fc_group_parse("modest_2-x:2:1", &g, err, sizeof err), 0);
    assert_string_equal(g.name, "modest_2-x");
    assert_int_equal(fc_group_parse("m:100000:65536", &g, err, sizeof err), 0);
    assert_int_equal(g.connections, 100000);
    assert_int_equal(g.inflight, 65536);
}

static void rejects_bad_groups(void **state) {
    const char *bad[] = {
        "",
        "flood",
        "flood:32",
        "flood:32:",
        ":1:1",
        "a b:1:1",
        "flood:0:1",
        "flood:1:0",
        "flood:100001:1",
        "flood:1:65537",
        "flood:1:1:",
        "flood:-1:1",
        "flood:1:1x",
        "flood:99999999999999999999:1",
        "a234567890123456789012345678901x:1:1", /* 32 characters */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_group_spec g = {.connections = 7};
        char err[200] = "";
        assert_int_equal(fc_group_parse(bad[i], &g, err, sizeof err), FG_ERR_INVALID);
        assert_non_null(strstr(err, "group"));
        assert_int_equal(g.connections, 7); /* untouched */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_groups),
        cmocka_unit_test(rejects_bad_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
