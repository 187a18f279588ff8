#include "fg_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"

#define TLS_RECORD_HANDSHAKE 0x16 /* the content type every TLS connection starts with */
#define ALPN_MAX 255

/* OpenSSL's allocations fail only for lack of memory: the fg_alloc.h policy. */
static void oom(void) {
    fprintf(stderr, "fg_tls: out of memory\n");
    abort();
}

struct fg_tls_ctx {
    pthread_mutex_t lock; /* guards cur: reloads come from the signal thread */
    SSL_CTX *cur;
    fg_tls_role role;
    char *cert, *key, *ca;
    uint8_t alpn[ALPN_MAX + 1]; /* wire format: length byte, name */
    size_t alpn_len;
};

struct fg_tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* ciphertext in (fed) and out (taken); owned by ssl */
    fg_tls_role role;
    uint8_t alpn[ALPN_MAX + 1];
    size_t alpn_len;
    bool fed;
    bool done;
    fg_tls_failure failed;
    char reason[200];
};

/* ---- configuration ---- */

static void ssl_err(char *err, size_t errlen, const char *what, const char *path) {
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, errlen, "%s %s: %s", what, path, r ? r : "cannot be read");
    ERR_clear_error();
}

/* Server: a client that offers protocols must offer ours (one that offers none is fine:
 * websocket-client sends none). The protocol is read from the session (app data), which
 * outlives nothing it points to. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    const fg_tls *t = SSL_get_app_data(ssl);
    if (!t || t->alpn_len == 0)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *build(const fg_tls_ctx *ctx, char *err, size_t errlen) {
    bool server = ctx->role == FG_TLS_SERVER;
    SSL_CTX *s = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!s) {
        snprintf(err, errlen, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    /* Idle connections give their record buffers back (thousands of clients). */
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    if (ctx->cert) {
        if (SSL_CTX_use_certificate_chain_file(s, ctx->cert) != 1) {
            ssl_err(err, errlen, "certificate", ctx->cert);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(s, ctx->key, SSL_FILETYPE_PEM) != 1) {
            ssl_err(err, errlen, "key", ctx->key);
            goto fail;
        }
        if (SSL_CTX_check_private_key(s) != 1) {
            ssl_err(err, errlen, "key does not match certificate", ctx->cert);
            goto fail;
        }
    }
    if (ctx->ca) {
        if (SSL_CTX_load_verify_locations(s, ctx->ca, NULL) != 1) {
            ssl_err(err, errlen, "CA", ctx->ca);
            goto fail;
        }
    } else if (!server) {
        SSL_CTX_set_default_verify_paths(s);
    }
    if (server) {
        if (ctx->ca) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ctx->ca);
            if (names)
                SSL_CTX_set_client_CA_list(s, names);
            SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        SSL_CTX_set_alpn_select_cb(s, select_alpn, NULL);
    } else {
        SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
        if (ctx->alpn_len && SSL_CTX_set_alpn_protos(s, ctx->alpn, (unsigned)ctx->alpn_len) != 0) {
            snprintf(err, errlen, "TLS: cannot set ALPN");
            goto fail;
        }
    }
    return s;
fail:
    SSL_CTX_free(s);
    return NULL;
}

int fg_tls_ctx_new(const fg_tls_ctx_config *cfg, fg_tls_ctx **out, char *err, size_t errlen) {
    if (cfg->role == FG_TLS_SERVER && (!cfg->cert || !cfg->key)) {
        snprintf(err, errlen, "TLS server: a certificate and a key are needed");
        return FG_ERR_INVALID;
    }
    if (!cfg->cert != !cfg->key) {
        snprintf(err, errlen, "TLS: a certificate needs its key and a key its certificate");
        return FG_ERR_INVALID;
    }
    size_t alen = cfg->alpn ? strlen(cfg->alpn) : 0;
    if (alen > ALPN_MAX - 1) {
        snprintf(err, errlen, "TLS: ALPN name too long");
        return FG_ERR_INVALID;
    }
    fg_tls_ctx *ctx = fg_calloc(1, sizeof *ctx);
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->role = cfg->role;
    ctx->cert = cfg->cert ? fg_strdup(cfg->cert) : NULL;
    ctx->key = cfg->key ? fg_strdup(cfg->key) : NULL;
    ctx->ca = cfg->ca ? fg_strdup(cfg->ca) : NULL;
    if (alen) {
        ctx->alpn[0] = (uint8_t)alen;
        memcpy(ctx->alpn + 1, cfg->alpn, alen);
        ctx->alpn_len = alen + 1;
    }
    ctx->cur = build(ctx, err, errlen);
    if (!ctx->cur) {
        fg_tls_ctx_free(ctx);
        return FG_ERR_INVALID;
    }
    *out = ctx;
    return 0;
}

int fg_tls_ctx_reload(fg_tls_ctx *ctx, char *err, size_t errlen) {
    SSL_CTX *s = build(ctx, err, errlen);
    if (!s)
        return FG_ERR_INVALID;
    pthread_mutex_lock(&ctx->lock);
    SSL_CTX *old = ctx->cur;
    ctx->cur = s;
    pthread_mutex_unlock(&ctx->lock);
    SSL_CTX_free(old); /* reference counted: sessions on it keep it */
    return 0;
}

void fg_tls_ctx_free(fg_tls_ctx *ctx) {
    if (!ctx)
        return;
    SSL_CTX_free(ctx->cur);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->cert);
    free(ctx->key);
    free(ctx->ca);
    free(ctx);
}

/* ---- sessions ---- */

fg_tls *fg_tls_new(fg_tls_ctx *ctx, const char *server_name) {
    fg_tls *t = fg_calloc(1, sizeof *t);
    t->role = ctx->role;
    memcpy(t->alpn, ctx->alpn, ctx->alpn_len);
    t->alpn_len = ctx->alpn_len;
    pthread_mutex_lock(&ctx->lock);
    t->ssl = SSL_new(ctx->cur);
    pthread_mutex_unlock(&ctx->lock);
    if (!t->ssl)
        oom();
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->rbio || !t->wbio)
        oom();
    BIO_set_mem_eof_return(t->rbio, -1); /* empty: "retry", not end of stream */
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, t);
    if (t->role == FG_TLS_SERVER) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name && *server_name) {
            unsigned char ip[16];
            bool is_ip = inet_pton(AF_INET, server_name, ip) == 1 ||
                         inet_pton(AF_INET6, server_name, ip) == 1;
            if (is_ip) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name);
            } else {
                SSL_set_tlsext_host_name(t->ssl, server_name);
                SSL_set1_host(t->ssl, server_name);
            }
        }
    }
    return t;
}

void fg_tls_free(fg_tls *t) {
    if (!t)
        return;
    SSL_free(t->ssl); /* frees the BIOs */
    free(t);
}

static bool is_cert_reason(int r) {
    switch (r) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

static void fail(fg_tls *t, fg_tls_failure f, const char *reason) {
    t->failed = f;
    snprintf(t->reason, sizeof t->reason, "%s", reason);
}

/* Classifies what OpenSSL reported for a failed handshake or read. */
static void fail_from_ssl(fg_tls *t, int ssl_error) {
    unsigned long e = ERR_peek_last_error();
    int r = e ? ERR_GET_REASON(e) : 0;
    const char *rs = e ? ERR_reason_error_string(e) : NULL;
    long vr = SSL_get_verify_result(t->ssl);
    char why[sizeof t->reason];
    if (vr != X509_V_OK) {
        snprintf(why, sizeof why, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
        fail(t, FG_TLS_CERTIFICATE, why);
    } else if (is_cert_reason(r)) {
        fail(t, FG_TLS_CERTIFICATE, rs ? rs : "certificate refused");
    } else if (r == SSL_R_NO_APPLICATION_PROTOCOL ||
               r == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
        fail(t, FG_TLS_ALPN, rs ? rs : "no common application protocol (ALPN)");
    } else if (!t->done &&
               (r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_HTTP_REQUEST ||
                r == SSL_R_PACKET_LENGTH_TOO_LONG || r == SSL_R_RECORD_LENGTH_MISMATCH)) {
        snprintf(why, sizeof why, "the peer does not speak TLS (%s)", rs ? rs : "?");
        fail(t, FG_TLS_PLAINTEXT, why);
    } else if (rs) {
        fail(t, FG_TLS_PROTOCOL, rs);
    } else {
        snprintf(why, sizeof why, "TLS error %d", ssl_error);
        fail(t, FG_TLS_PROTOCOL, why);
    }
    ERR_clear_error();
}

int fg_tls_feed(fg_tls *t, const uint8_t *data, size_t len) {
    if (len == 0)
        return 0;
    if (!t->fed && t->role == FG_TLS_SERVER && data[0] != TLS_RECORD_HANDSHAKE && !t->failed) {
        char why[sizeof t->reason];
        char head[17];
        size_t n = len < 16 ? len : 16;
        for (size_t i = 0; i < n; i++)
            head[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '.';
        head[n] = '\0';
        snprintf(why, sizeof why, "plaintext on a TLS port (starts \"%s\")", head);
        fail(t, FG_TLS_PLAINTEXT, why);
    }
    t->fed = true;
    if (t->failed)
        return 0; /* dropped: nothing more will be read */
    if (BIO_ctrl_pending(t->rbio) + len > FG_TLS_FEED_MAX)
        return FG_ERR_TOO_BIG;
    if (BIO_write(t->rbio, data, (int)len) != (int)len)
        oom();
    return 0;
}

static int handshake(fg_tls *t) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        fail_from_ssl(t, e);
        return FG_ERR_PROTO;
    }
    t->done = true;
    if (t->role == FG_TLS_CLIENT && t->alpn_len) {
        const unsigned char *sel;
        unsigned len;
        SSL_get0_alpn_selected(t->ssl, &sel, &len);
        if (len + 1 != t->alpn_len || memcmp(sel, t->alpn + 1, len) != 0) {
            char why[sizeof t->reason];
            snprintf(why, sizeof why, "the server did not select ALPN %.*s", (int)t->alpn[0],
                     (const char *)t->alpn + 1);
            fail(t, FG_TLS_ALPN, why);
            return FG_ERR_PROTO;
        }
    }
    return 0;
}

ssize_t fg_tls_read(fg_tls *t, uint8_t *buf, size_t cap) {
    if (t->failed)
        return FG_ERR_PROTO;
    if (!t->done) {
        int rc = handshake(t);
        if (rc < 0)
            return rc;
        if (!t->done)
            return 0;
    }
    if (cap == 0)
        return 0;
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
        return FG_ERR_CLOSED;
    fail_from_ssl(t, e);
    return FG_ERR_PROTO;
}

int fg_tls_write(fg_tls *t, const uint8_t *data, size_t len) {
    if (t->failed || !t->done)
        return FG_ERR_PROTO;
    while (len > 0) {
        int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
        ERR_clear_error();
        int n = SSL_write(t->ssl, data, chunk); /* a memory BIO takes it all */
        if (n <= 0) {
            fail_from_ssl(t, SSL_get_error(t->ssl, n));
            return FG_ERR_PROTO;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

size_t fg_tls_output_pending(const fg_tls *t) {
    return BIO_ctrl_pending(t->wbio);
}

int fg_tls_take_output(fg_tls *t, fg_buf *out) {
    size_t n = BIO_ctrl_pending(t->wbio);
    if (n == 0)
        return 0;
    if (fg_buf_reserve(out, n) < 0)
        return FG_ERR_TOO_BIG;
    int got = BIO_read(t->wbio, out->data + out->len, (int)n);
    if (got > 0)
        out->len += (size_t)got;
    return 0;
}

void fg_tls_close_notify(fg_tls *t) {
    if (!t->done || t->failed)
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}

bool fg_tls_handshake_done(const fg_tls *t) {
    return t->done && !t->failed;
}

fg_tls_failure fg_tls_failed(const fg_tls *t) {
    return t->failed;
}

const char *fg_tls_reason(const fg_tls *t) {
    return t->reason;
}

const char *fg_tls_failure_name(fg_tls_failure f) {
    switch (f) {
    case FG_TLS_OK:
        return "ok";
    case FG_TLS_PLAINTEXT:
        return "plaintext";
    case FG_TLS_CERTIFICATE:
        return "certificate";
    case FG_TLS_ALPN:
        return "alpn";
    case FG_TLS_PROTOCOL:
        return "protocol";
    }
    return "?";
}
