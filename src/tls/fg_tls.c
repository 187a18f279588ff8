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

/*
 * The input BIO reads the caller's bytes where they lie (fg_tls_feed points at them): OpenSSL
 * copies each record into its own buffer anyway, so a memory BIO in between would be one more
 * copy of every reply. What OpenSSL did not take by the time a read reports "want more" (it
 * normally takes everything) is kept in `kept` before the caller reuses its buffer.
 */
typedef struct fg_tls_input {
    const uint8_t *data; /* the caller's, valid until the next fg_tls_read returns */
    size_t len;
    fg_buf kept; /* read before data */
} fg_tls_input;

static BIO_METHOD *in_method;

static int in_read(BIO *b, char *dst, int cap) {
    fg_tls_input *in = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = 0;
    if (in->kept.len > 0) {
        n = in->kept.len < (size_t)cap ? in->kept.len : (size_t)cap;
        memcpy(dst, in->kept.data, n);
        fg_buf_consume(&in->kept, n);
    } else if (in->len > 0) {
        n = in->len < (size_t)cap ? in->len : (size_t)cap;
        memcpy(dst, in->data, n);
        in->data += n;
        in->len -= n;
    }
    if (n == 0) {
        BIO_set_retry_read(b); /* empty: "retry", not end of stream */
        return -1;
    }
    return (int)n;
}

/* Copies what is left of the caller's bytes: called before its buffer may be reused. */
static void in_keep(fg_tls_input *in) {
    if (in->len > 0 && fg_buf_append(&in->kept, in->data, in->len) < 0)
        oom(); /* cannot happen: fg_tls_feed bounds kept + len */
    in->data = NULL;
    in->len = 0;
}

/*
 * The output BIO appends records straight into the owner's buffer (fg_tls_new's out): a 24 KiB
 * reply is encrypted into the buffer it is written from, not copied through a memory BIO.
 */
static BIO_METHOD *out_method;
static pthread_once_t methods_once = PTHREAD_ONCE_INIT;

static int out_write(BIO *b, const char *data, int len) {
    fg_buf **out = BIO_get_data(b);
    if (len <= 0)
        return 0;
    if (fg_buf_append(*out, data, (size_t)len) < 0)
        return -1; /* the owner's limit: the session fails */
    return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int out_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void make_methods(void) {
    out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fg_tls output");
    in_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fg_tls input");
    if (!out_method || !BIO_meth_set_write(out_method, out_write) ||
        !BIO_meth_set_ctrl(out_method, out_ctrl) || !BIO_meth_set_create(out_method, out_create) ||
        !in_method || !BIO_meth_set_read(in_method, in_read) ||
        !BIO_meth_set_ctrl(in_method, out_ctrl) || !BIO_meth_set_create(in_method, out_create))
        oom();
}

struct fg_tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* ciphertext in (from input) and out (into *out); owned by ssl */
    fg_tls_input input;
    fg_buf *out; /* the owner's: ciphertext for the peer is appended to it */
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
    /* AES-128-GCM first (AES-NI: the cheapest per byte of what browsers offer), and ours first:
     * each frame is encrypted twice in the proxy. */
    SSL_CTX_set_ciphersuites(s, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                "TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_cipher_list(s, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1");
    SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* No SSL_MODE_RELEASE_BUFFERS: freeing and re-allocating the 16 KiB record buffers around
     * every read and write cost more CPU per frame than the encryption (bench/tls.sh); a
     * session keeps about 35 KiB instead. */
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

fg_tls *fg_tls_new(fg_tls_ctx *ctx, const char *server_name, fg_buf *out) {
    fg_tls *t = fg_calloc(1, sizeof *t);
    t->role = ctx->role;
    memcpy(t->alpn, ctx->alpn, ctx->alpn_len);
    t->alpn_len = ctx->alpn_len;
    pthread_mutex_lock(&ctx->lock);
    t->ssl = SSL_new(ctx->cur);
    pthread_mutex_unlock(&ctx->lock);
    if (!t->ssl)
        oom();
    pthread_once(&methods_once, make_methods);
    fg_buf_init(&t->input.kept, FG_TLS_FEED_MAX);
    t->rbio = BIO_new(in_method);
    t->out = out;
    t->wbio = BIO_new(out_method);
    if (!t->rbio || !t->wbio)
        oom();
    BIO_set_data(t->rbio, &t->input);
    BIO_set_data(t->wbio, &t->out);
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
    fg_buf_free(&t->input.kept);
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
        return 0;       /* dropped: nothing more will be read */
    in_keep(&t->input); /* a feed without a read in between */
    if (t->input.kept.len + len > FG_TLS_FEED_MAX)
        return FG_ERR_TOO_BIG;
    t->input.data = data;
    t->input.len = len;
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

static ssize_t read_plain(fg_tls *t, uint8_t *buf, size_t cap) {
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
    /* Nothing fed and nothing buffered: the answer is "want more" without asking OpenSSL (the
     * last call of every read loop). */
    if (t->input.len == 0 && t->input.kept.len == 0 && !SSL_has_pending(t->ssl))
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

ssize_t fg_tls_read(fg_tls *t, uint8_t *buf, size_t cap) {
    ssize_t n = read_plain(t, buf, cap);
    if (n <= 0)
        in_keep(&t->input); /* the caller may reuse its buffer now */
    return n;
}

int fg_tls_write(fg_tls *t, const uint8_t *data, size_t len) {
    if (t->failed || !t->done)
        return FG_ERR_PROTO;
    while (len > 0) {
        int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
        ERR_clear_error();
        int n = SSL_write(t->ssl, data, chunk); /* the output BIO takes it all */
        if (n <= 0) {
            fail_from_ssl(t, SSL_get_error(t->ssl, n));
            return FG_ERR_PROTO;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void fg_tls_set_output(fg_tls *t, fg_buf *out) {
    t->out = out;
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
