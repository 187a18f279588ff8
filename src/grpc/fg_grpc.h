/*
 * fg_grpc: gRPC message framing over HTTP/2 DATA (the 5-byte length prefix: 1 byte compressed
 * flag, 4 bytes big-endian length) for unary calls.
 *
 * fg_grpc_reader accumulates the DATA chunks of one direction of a unary call into exactly one
 * message, bounded by max_len. It owns the message bytes until fg_grpc_reader_free().
 */
#ifndef FG_GRPC_H
#define FG_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_buf.h"

#define FG_GRPC_PREFIX_LEN 5
#define FG_GRPC_CONTENT_TYPE "application/grpc"

/* Writes the 5-byte prefix for an uncompressed message of len bytes. */
void fg_grpc_prefix_write(uint8_t out[FG_GRPC_PREFIX_LEN], uint32_t len);

typedef struct fg_grpc_reader {
    fg_buf msg;
    uint8_t prefix[FG_GRPC_PREFIX_LEN];
    size_t prefix_len;
    uint32_t expect; /* message length announced by the prefix */
    bool done;       /* one whole message received */
} fg_grpc_reader;

void fg_grpc_reader_init(fg_grpc_reader *r, uint32_t max_len);
/*
 * Feeds DATA bytes. Returns 0 (need more or done), FG_ERR_TOO_BIG (prefix announced more than
 * max_len), FG_ERR_COMPRESSED (compressed flag set), FG_ERR_PROTO (bytes after the one message,
 * or a flag byte other than 0/1). After an error the reader must not be fed again.
 */
int fg_grpc_reader_feed(fg_grpc_reader *r, const uint8_t *data, size_t len);
/* Ready for the next call's message: state cleared, message storage and limit kept. */
void fg_grpc_reader_reset(fg_grpc_reader *r);
/* True once one complete message was received. */
bool fg_grpc_reader_done(const fg_grpc_reader *r);
/*
 * At end of stream: 0 with *msg and *len set when exactly one message arrived (len may be 0),
 * FG_ERR_AGAIN when no byte at all arrived (no message), FG_ERR_PROTO when a message was cut.
 */
int fg_grpc_reader_finish(fg_grpc_reader *r, const uint8_t **msg, size_t *len);
void fg_grpc_reader_free(fg_grpc_reader *r);

#endif
