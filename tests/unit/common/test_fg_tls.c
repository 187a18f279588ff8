/*
 * fg_tls: real OpenSSL handshakes between a client and a server session in one process, the
 * bytes moved by the test. Certificates are made by the openssl CLI in a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fg_err.h"
#include "fg_tls.h"

static char dir[] = "/tmp/fg_tls_test.XXXXXX";
static char path_buf[8][300];

static const char *file(int slot, const char *name) {
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
    return path_buf[slot];
}

static int make_certs(void **state) {
    if (!mkdtemp(dir))
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=ca && "
             "for n in server client; do "
             "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > $n.ext && "
             "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem "
             "-days 2 -extfile $n.ext; done",
             dir);
    char full[4200];
    snprintf(full, sizeof full, "(%s) >/dev/null 2>&1", cmd);
    return system(full) == 0 ? 0 : -1;
}

static int remove_certs(void **state) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct pair {
    fg_tls_ctx *sctx, *cctx;
    fg_tls *s, *c;
    fg_buf sout, cout; /* what each sends to the other */
    fg_buf sin, cin;   /* plaintext each received */
    ssize_t slast, clast;
} pair;

static fg_tls_ctx *ctx(fg_tls_role role, const char *cert, const char *key, const char *ca,
                       const char *alpn) {
    char err[256];
    fg_tls_ctx_config cfg = {.role = role, .cert = cert, .key = key, .ca = ca, .alpn = alpn};
    fg_tls_ctx *c = NULL;
    if (fg_tls_ctx_new(&cfg, &c, err, sizeof err) != 0)
        fail_msg("fg_tls_ctx_new: %s", err);
    return c;
}

static void pair_start(pair *p, fg_tls_ctx *sctx, fg_tls_ctx *cctx, const char *name) {
    memset(p, 0, sizeof *p);
    p->sctx = sctx;
    p->cctx = cctx;
    fg_buf_init(&p->sout, 1 << 20);
    fg_buf_init(&p->cout, 1 << 20);
    fg_buf_init(&p->sin, 1 << 20);
    fg_buf_init(&p->cin, 1 << 20);
    p->s = fg_tls_new(sctx, NULL, &p->sout);
    p->c = fg_tls_new(cctx, name, &p->cout);
    assert_int_equal(fg_tls_read(p->c, NULL, 0), 0); /* the ClientHello */
    assert_true(p->cout.len > 0);
}

/* Moves what one side wrote to the other, step bytes per feed, reading after each. */
static ssize_t deliver(fg_buf *from, fg_tls *to, fg_buf *plain, size_t step) {
    ssize_t last = 0;
    uint8_t buf[4096];
    for (size_t off = 0; off < from->len;) {
        size_t n = from->len - off < step ? from->len - off : step;
        assert_int_equal(fg_tls_feed(to, from->data + off, n), 0);
        off += n;
        while ((last = fg_tls_read(to, buf, sizeof buf)) > 0)
            assert_int_equal(fg_buf_append(plain, buf, (size_t)last), 0);
        if (last < 0)
            break;
    }
    fg_buf_reset(from);
    return last;
}

static void pump(pair *p, size_t step) {
    for (int i = 0; i < 8 && (p->cout.len || p->sout.len); i++) {
        p->slast = deliver(&p->cout, p->s, &p->sin, step);
        p->clast = deliver(&p->sout, p->c, &p->cin, step);
    }
}

static void pair_free(pair *p) {
    fg_tls_free(p->s);
    fg_tls_free(p->c);
    fg_tls_ctx_free(p->sctx);
    fg_tls_ctx_free(p->cctx);
    fg_buf_free(&p->sout);
    fg_buf_free(&p->cout);
    fg_buf_free(&p->sin);
    fg_buf_free(&p->cin);
}

static fg_tls_ctx *server(const char *ca, const char *alpn) {
    return ctx(FG_TLS_SERVER, file(0, "server.pem"), file(1, "server.key"), ca, alpn);
}

static fg_tls_ctx *client(const char *alpn, bool with_cert) {
    return ctx(FG_TLS_CLIENT, with_cert ? file(2, "client.pem") : NULL,
               with_cert ? file(3, "client.key") : NULL, file(4, "ca.pem"), alpn);
}

static void test_handshake_and_records_both_ways(void **state) {
    pair p;
    pair_start(&p, server(NULL, "h2"), client("h2", false), "localhost");
    pump(&p, 1); /* one byte per feed: partial records are kept across feeds */
    assert_true(fg_tls_handshake_done(p.s));
    assert_true(fg_tls_handshake_done(p.c));
    static uint8_t big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(fg_tls_write(p.c, (const uint8_t *)"hello", 5), 0);
    assert_int_equal(fg_tls_write(p.s, big, sizeof big), 0); /* three records */
    pump(&p, 65536);
    assert_int_equal(p.sin.len, 5);
    assert_memory_equal(p.sin.data, "hello", 5);
    assert_int_equal(p.cin.len, sizeof big);
    assert_memory_equal(p.cin.data, big, sizeof big);
    fg_tls_close_notify(p.s);
    pump(&p, 65536);
    assert_int_equal(p.clast, FG_ERR_CLOSED);
    assert_int_equal(fg_tls_failed(p.c), FG_TLS_OK);
    assert_string_equal(fg_tls_reason(p.c), "");
    pair_free(&p);
}

static void test_client_requires_its_alpn(void **state) {
    pair p;
    pair_start(&p, server(NULL, "http/1.1"), client("h2", false), "localhost");
    pump(&p, 65536);
    assert_int_equal(fg_tls_failed(p.s), FG_TLS_ALPN); /* the server refuses: no common one */
    assert_int_equal(fg_tls_failed(p.c), FG_TLS_ALPN); /* the client reads its alert */
    pair_free(&p);
}

static void test_server_name_is_verified(void **state) {
    pair p;
    pair_start(&p, server(NULL, "h2"), client("h2", false), "other.example");
    pump(&p, 65536);
    assert_int_equal(fg_tls_failed(p.c), FG_TLS_CERTIFICATE);
    assert_non_null(strstr(fg_tls_reason(p.c), "hostname mismatch"));
    assert_false(fg_tls_handshake_done(p.c));
    pair_free(&p);
}

static void test_plaintext_to_a_server_is_named(void **state) {
    fg_tls_ctx *s = server(NULL, "http/1.1");
    fg_buf out;
    fg_buf_init(&out, 1 << 16);
    fg_tls *t = fg_tls_new(s, NULL, &out);
    const char *get = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(fg_tls_feed(t, (const uint8_t *)get, strlen(get)), 0);
    uint8_t buf[64];
    assert_int_equal(fg_tls_read(t, buf, sizeof buf), FG_ERR_PROTO);
    assert_int_equal(fg_tls_failed(t), FG_TLS_PLAINTEXT);
    assert_non_null(strstr(fg_tls_reason(t), "plaintext"));
    assert_int_equal(fg_tls_write(t, buf, 1), FG_ERR_PROTO);
    fg_tls_free(t);
    fg_buf_free(&out);
    fg_tls_ctx_free(s);
}

static void test_client_certificate_required(void **state) {
    pair p;
    pair_start(&p, server(file(5, "ca.pem"), "h2"), client("h2", false), "localhost");
    pump(&p, 65536);
    assert_int_equal(fg_tls_failed(p.s), FG_TLS_CERTIFICATE);
    assert_non_null(strstr(fg_tls_reason(p.s), "did not return a certificate"));
    pair_free(&p);

    pair_start(&p, server(file(5, "ca.pem"), "h2"), client("h2", true), "localhost");
    pump(&p, 65536);
    assert_true(fg_tls_handshake_done(p.s));
    assert_int_equal(fg_tls_failed(p.c), FG_TLS_OK);
    pair_free(&p);
}

static void test_reload_keeps_the_old_context_on_a_bad_file(void **state) {
    char err[256];
    char cert[300], key[300];
    snprintf(cert, sizeof cert, "%s/live.pem", dir);
    snprintf(key, sizeof key, "%s/live.key", dir);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "cp %s/server.pem %s && cp %s/server.key %s", dir, cert, dir, key);
    assert_int_equal(system(cmd), 0);
    fg_tls_ctx *s = ctx(FG_TLS_SERVER, cert, key, NULL, "h2");
    snprintf(cmd, sizeof cmd, "echo garbage > %s", key);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fg_tls_ctx_reload(s, err, sizeof err), FG_ERR_INVALID);
    assert_non_null(strstr(err, key));
    pair p;
    pair_start(&p, s, client("h2", false), "localhost"); /* still the old, good one */
    pump(&p, 65536);
    assert_true(fg_tls_handshake_done(p.c));
    snprintf(cmd, sizeof cmd, "cp %s/server.key %s", dir, key);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fg_tls_ctx_reload(s, err, sizeof err), 0);
    pair_free(&p);
}

static void test_config_errors(void **state) {
    char err[256];
    fg_tls_ctx *c = NULL;
    fg_tls_ctx_config no_key = {.role = FG_TLS_SERVER, .cert = file(0, "server.pem")};
    assert_int_equal(fg_tls_ctx_new(&no_key, &c, err, sizeof err), FG_ERR_INVALID);
    fg_tls_ctx_config missing = {
        .role = FG_TLS_SERVER, .cert = "/nonexistent.pem", .key = file(1, "server.key")};
    assert_int_equal(fg_tls_ctx_new(&missing, &c, err, sizeof err), FG_ERR_INVALID);
    assert_non_null(strstr(err, "/nonexistent.pem"));
    fg_tls_ctx_config mismatch = {
        .role = FG_TLS_SERVER, .cert = file(0, "server.pem"), .key = file(1, "client.key")};
    assert_int_equal(fg_tls_ctx_new(&mismatch, &c, err, sizeof err), FG_ERR_INVALID);
    assert_null(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_records_both_ways),
        cmocka_unit_test(test_client_requires_its_alpn),
        cmocka_unit_test(test_server_name_is_verified),
        cmocka_unit_test(test_plaintext_to_a_server_is_named),
        cmocka_unit_test(test_client_certificate_required),
        cmocka_unit_test(test_reload_keeps_the_old_context_on_a_bad_file),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
