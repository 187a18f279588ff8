/*
 * fuzz_tls: the TLS record layer and handshake as the proxy's client connections and
 * frameserver run them: src/tls/fg_tls (a SERVER session over memory BIOs, ALPN http/1.1),
 * with the client's bytes fed in chunks, every read drained, every output taken, and once the
 * handshake is done the plaintext echoed back through fg_tls_write. The fuzz input:
 *
 *   byte 0     feed size: 0 feeds everything at once, n > 0 n bytes per feed
 *   byte 1..   the client's bytes (seeds: real ClientHellos, plaintext HTTP)
 *
 * The certificate is a P-256 key and a self-signed certificate made at startup (OpenSSL) and
 * written to a temporary folder, because fg_tls_ctx_new reads files like the real binaries.
 *
 * abort() on: a read returning more than asked, a failure without a reason or a reason without a
 * failure, a failed session that reads or writes again, output growing past what was fed plus a
 * handshake flight (bounded memory), plaintext before the handshake is done.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_buf.h"
#include "fg_err.h"
#include "fg_tls.h"

#define PLAIN_CAP 4096
#define OUT_MAX (4u << 20)

static fg_tls_ctx *ctx;

static void make_cert(const char *dir, char *cert, char *key, size_t len) {
    snprintf(cert, len, "%s/cert.pem", dir);
    snprintf(key, len, "%s/key.pem", dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!pk || !x)
        abort();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, pk, EVP_sha256()))
        abort();
    FILE *f = fopen(cert, "w");
    FILE *g = fopen(key, "w");
    if (!f || !g || !PEM_write_X509(f, x) ||
        !PEM_write_PrivateKey(g, pk, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    fclose(g);
    X509_free(x);
    EVP_PKEY_free(pk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char dir[] = "/tmp/fuzz_tls.XXXXXX", cert[64], key[64], err[256];
    if (!mkdtemp(dir))
        abort();
    make_cert(dir, cert, key, sizeof cert);
    fg_tls_ctx_config cfg = {.role = FG_TLS_SERVER, .cert = cert, .key = key, .alpn = "http/1.1"};
    if (fg_tls_ctx_new(&cfg, &ctx, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_tls: %s\n", err);
        abort();
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return 0;
}

static void check_state(const fg_tls *t) {
    bool failed = fg_tls_failed(t) != FG_TLS_OK;
    if (failed != (fg_tls_reason(t)[0] != '\0'))
        abort();
    if (failed && fg_tls_handshake_done(t))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t step = data[0] ? data[0] : size;
    data++;
    size--;
    fg_buf out;
    fg_buf_init(&out, OUT_MAX);
    fg_tls *t = fg_tls_new(ctx, NULL, &out);
    uint8_t plain[PLAIN_CAP];
    size_t fed = 0;
    bool dead = false;
    while (fed < size && !dead) {
        size_t n = size - fed < step ? size - fed : step;
        if (fg_tls_feed(t, data + fed, n) != 0)
            abort(); /* each feed is read out below: never over FG_TLS_FEED_MAX */
        fed += n;
        for (;;) {
            ssize_t r = fg_tls_read(t, plain, sizeof plain);
            check_state(t);
            if (r > (ssize_t)sizeof plain)
                abort();
            if (r > 0) {
                if (!fg_tls_handshake_done(t))
                    abort();
                if (fg_tls_write(t, plain, (size_t)r) != 0)
                    abort();
                continue;
            }
            if (r < 0) {
                if (r != FG_ERR_PROTO && r != FG_ERR_CLOSED)
                    abort();
                if (r == FG_ERR_PROTO && fg_tls_failed(t) == FG_TLS_OK)
                    abort();
                dead = r == FG_ERR_PROTO;
            }
            break;
        }
        /* The server says at most a handshake flight plus what it echoes. */
        if (out.len > fed + 64 * 1024)
            abort();
        fg_buf_reset(&out);
    }
    if (dead && (fg_tls_read(t, plain, sizeof plain) != FG_ERR_PROTO ||
                 fg_tls_write(t, plain, 1) != FG_ERR_PROTO))
        abort();
    fg_tls_close_notify(t);
    fg_tls_free(t);
    fg_buf_free(&out);
    return 0;
}
