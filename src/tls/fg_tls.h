/*
 * fg_tls: TLS 1.2/1.3 (OpenSSL 3) over in-memory BIOs, for any byte stream. It owns no socket and
 * never blocks: the owner feeds the ciphertext it read (fg_tls_feed), takes plaintext out
 * (fg_tls_read until it returns 0, which also drives the handshake), hands plaintext to send
 * (fg_tls_write) and writes to its stream whatever ciphertext lands in its out buffer. The BIOs
 * are our own: input is read where the owner's read buffer lies, output is appended to the
 * owner's write buffer (no memory BIO copies in between).
 * Users: the proxy's client connections and frameserver (servers), fg_grpc_conn (client, toward the
 * backends).
 *
 * fg_tls_ctx: one configuration (role, certificate and key, CA, the one ALPN protocol), shared
 * by every session of every thread. fg_tls_ctx_reload() re-reads the files and swaps them in for
 * the sessions started afterwards; sessions already running keep what they started with.
 *
 * Failures are classified (fg_tls_failure) so owners can count them, with a one-line reason.
 */
#ifndef FG_TLS_H
#define FG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fg_buf.h"

typedef enum fg_tls_role { FG_TLS_SERVER, FG_TLS_CLIENT } fg_tls_role;

typedef struct fg_tls_ctx_config {
    fg_tls_role role;
    const char *cert; /* PEM chain; server: required; client: optional (mTLS) */
    const char *key;  /* PEM private key of cert */
    /* PEM CA bundle. Server: when set, clients must present a certificate it signed. Client:
     * the server's certificate must chain to it and carry the server_name of fg_tls_new; NULL:
     * the system's default CAs. */
    const char *ca;
    const char *alpn; /* the one application protocol, e.g. "http/1.1" or "h2"; NULL: none.
                       * Server: a client offering others only is refused; client: required. */
} fg_tls_ctx_config;

typedef struct fg_tls_ctx fg_tls_ctx;
typedef struct fg_tls fg_tls;

typedef enum fg_tls_failure {
    FG_TLS_OK,
    FG_TLS_PLAINTEXT,   /* server: the first bytes are not a TLS record (plain HTTP?) */
    FG_TLS_CERTIFICATE, /* a certificate missing, unknown, wrong name, expired, refused */
    FG_TLS_ALPN,        /* no common application protocol */
    FG_TLS_PROTOCOL,    /* anything else: versions, ciphers, malformed records, alerts */
} fg_tls_failure;

/* Paths are copied (for reload). 0 and *out set, or FG_ERR_INVALID with a one-line reason. */
int fg_tls_ctx_new(const fg_tls_ctx_config *cfg, fg_tls_ctx **out, char *err, size_t errlen);
/* Re-reads the files; on failure the old configuration stays and err says why. Any thread. */
int fg_tls_ctx_reload(fg_tls_ctx *ctx, char *err, size_t errlen);
/* Sessions still running keep what they need alive. NULL is fine. */
void fg_tls_ctx_free(fg_tls_ctx *ctx);

/* A session on the ctx's current configuration. server_name (client role; may be NULL): sent
 * as SNI and verified against the server's certificate; copied. Every byte of ciphertext for
 * the peer (handshake, records, alerts) is appended to *out, the owner's buffer, at once: the
 * owner writes it to its stream whenever it is not empty, and must not let it move while the
 * session may append (fg_tls_set_output points elsewhere). A full out fails the session. */
fg_tls *fg_tls_new(fg_tls_ctx *ctx, const char *server_name, fg_buf *out);
void fg_tls_set_output(fg_tls *t, fg_buf *out);
void fg_tls_free(fg_tls *t);

/* Ciphertext from the peer. Read in place (no copy): data must stay valid until fg_tls_read
 * returned 0 or an error; what the session did not take by then (normally nothing) it keeps,
 * up to FG_TLS_FEED_MAX. 0, or FG_ERR_TOO_BIG. */
#define FG_TLS_FEED_MAX (512u * 1024)
int fg_tls_feed(fg_tls *t, const uint8_t *data, size_t len);
/*
 * Advances the handshake, then decrypts: n > 0 plaintext bytes into buf; 0: nothing more until
 * the next feed (output may have been appended to out); FG_ERR_CLOSED: the peer sent
 * close_notify; FG_ERR_PROTO: the session failed (fg_tls_failed/fg_tls_reason; an alert for the
 * peer may be pending). A client call with nothing fed starts the handshake.
 */
ssize_t fg_tls_read(fg_tls *t, uint8_t *buf, size_t cap);
/* Encrypts all of data into out (only once fg_tls_handshake_done). 0 or FG_ERR_PROTO. */
int fg_tls_write(fg_tls *t, const uint8_t *data, size_t len);
/* Appends close_notify to out. */
void fg_tls_close_notify(fg_tls *t);

bool fg_tls_handshake_done(const fg_tls *t);
fg_tls_failure fg_tls_failed(const fg_tls *t);
/* Why it failed, one line ("" while fine). Valid until fg_tls_free. */
const char *fg_tls_reason(const fg_tls *t);
/* A short name of a failure kind, e.g. "plaintext", "certificate". */
const char *fg_tls_failure_name(fg_tls_failure f);

#endif
