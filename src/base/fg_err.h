/*
 * fg_err: the one error convention of framegate.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and a negative
 * code on failure. The negative codes are either libuv's (UV_E*, negative errno values) or
 * the FG_ERR_* values below, which sit far below any errno so the two never collide.
 *
 * Out of memory is not an error code: fg_alloc.h aborts the process (see there for why).
 */
#ifndef FG_ERR_H
#define FG_ERR_H

enum {
    FG_ERR_TOO_BIG = -9001,    /* a size limit was exceeded */
    FG_ERR_PROTO = -9002,      /* the peer broke the protocol */
    FG_ERR_INVALID = -9003,    /* a bad argument or value */
    FG_ERR_COMPRESSED = -9004, /* a gRPC message with the compressed flag (not supported) */
    FG_ERR_CLOSED = -9005,     /* the object is closing or closed */
    FG_ERR_TIMEOUT = -9006,    /* a deadline passed */
    FG_ERR_FULL = -9007,       /* a bounded queue is full */
    FG_ERR_NOT_FOUND = -9008,  /* no such entry */
    FG_ERR_AGAIN = -9009,      /* not now: more input needed or retry later */
    FG_ERR_BUSY = -9010,       /* overloaded: cannot be done within its deadline */
};

/* A static, human-readable string for an FG_ERR_* or libuv code. Never NULL. */
const char *fg_strerror(int err);

#endif
