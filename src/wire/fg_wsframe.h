/*
 * fg_wsframe: the header of one WebSocket frame (RFC 6455 5.2) read from the bytes in hand, and
 * the masking of its payload. No state and no allocation: the caller says where a frame starts
 * and keeps the bytes; fg_ws uses it to take the common client frame without wslay.
 */
#ifndef FG_WSFRAME_H
#define FG_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest header: 2 bytes, a 64-bit length, a 4-byte mask key. */
#define FG_WSFRAME_HEADER_MAX 14

/* The opcodes of RFC 6455 5.2 (the others are reserved). */
enum {
    FG_WSFRAME_CONTINUATION = 0x0,
    FG_WSFRAME_TEXT = 0x1,
    FG_WSFRAME_BINARY = 0x2,
    FG_WSFRAME_CLOSE = 0x8,
    FG_WSFRAME_PING = 0x9,
    FG_WSFRAME_PONG = 0xA,
};

typedef struct fg_wsframe {
    bool fin;
    uint8_t rsv;    /* RSV1, RSV2, RSV3 as bits 2, 1, 0 */
    uint8_t opcode; /* 0..15 */
    bool masked;
    uint8_t mask[4]; /* the key when masked, else zeros */
    uint64_t payload_len;
    size_t header_len; /* bytes before the payload, 2..FG_WSFRAME_HEADER_MAX */
} fg_wsframe;

/*
 * Reads the header of the frame starting at p[0], with len bytes in hand (the payload may still
 * be missing: check header_len + payload_len against len). Returns 0 with *f set; FG_ERR_AGAIN
 * when the header goes on past len (*f unspecified); FG_ERR_PROTO for a length the RFC forbids:
 * not in its shortest encoding, or 64 bits with the top bit set.
 */
int fg_wsframe_parse(const uint8_t *p, size_t len, fg_wsframe *f);

/* XORs p[0..len) with the mask key, p[0] with mask[0]: masks or unmasks a whole payload. */
void fg_wsframe_unmask(uint8_t *p, size_t len, const uint8_t mask[4]);

#endif
