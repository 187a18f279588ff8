/* fg_hostport: the one backend-address parser, used by the command line and the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fg_err.h"
#include "fg_hostport.h"

static int split(const char *a, char *host, size_t cap, uint16_t *port) {
    const char *h;
    size_t hl;
    int rc = fg_hostport_split(a, strlen(a), &h, &hl, port);
    if (rc == 0 && host) {
        assert_true(hl < cap);
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    return rc;
}

static void accepts_names_ipv4_and_bracketed_ipv6(void **state) {
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(split("localhost:50051", host, sizeof host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 50051);
    assert_int_equal(split("127.0.0.1:1", host, sizeof host, &port), 0);
    assert_int_equal(port, 1);
    assert_int_equal(split("[::1]:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(split("[fe80::1%eth0]:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "fe80::1%eth0");
}

static void rejects_what_is_not_host_port(void **state) {
    (void)state;
    const char *bad[] = {"",           ":80",     "host",      "host:",       "host:0",
                         "host:65536", "host:8a", "host:-1",   "host:123456", "[]:80",
                         "[::1:80",    "::1:80",  "[::1]]:80", "[[::1]:80",   "h]:80",
                         "[::1]x:80",  "host: 80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (split(bad[i], NULL, 0, NULL) != FG_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void reads_only_len_bytes(void **state) {
    (void)state;
    const char *a = "host:80,other:90";
    uint16_t port;
    assert_int_equal(fg_hostport_split(a, 7, NULL, NULL, &port), 0);
    assert_int_equal(port, 80);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_names_ipv4_and_bracketed_ipv6),
        cmocka_unit_test(rejects_what_is_not_host_port),
        cmocka_unit_test(reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
