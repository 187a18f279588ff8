/*
 * fg_orca: see fg_orca.h. Base64 is OpenSSL's (EVP_DecodeBlock/EVP_EncodeBlock), the protobuf
 * is protobuf-c's, generated from proto/xds/data/orca/v3/orca_load_report.proto; this module
 * only bounds the input, accepts unpadded base64 and keeps protobuf-c off the heap.
 */
#include "fg_orca.h"

#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "fg_err.h"
#include "xds/data/orca/v3/orca_load_report.pb-c.h"

#define DECODED_MAX (FG_ORCA_MAX_HEADER / 4 * 3)
/* protobuf-c's allocations while unpacking one report: the message, the table of unknown
 * fields and their bytes. A report that needs more is refused (they are a few dozen bytes). */
#define ARENA_SIZE 8192

typedef struct arena {
    size_t used;
    alignas(max_align_t) uint8_t mem[ARENA_SIZE];
} arena;

static void *arena_alloc(void *data, size_t size) {
    arena *a = data;
    size_t at = (a->used + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (size > ARENA_SIZE || at > ARENA_SIZE - size)
        return NULL; /* protobuf-c then fails the unpack */
    a->used = at + size;
    return a->mem + at;
}

static void arena_free(void *data, void *ptr) {
    /* Everything goes with the arena. */
}

static bool is_b64_char(uint8_t ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

/* value[0..len) (padded or not) into out; returns the byte count or FG_ERR_INVALID. */
static int b64_decode(const uint8_t *value, size_t len, uint8_t out[DECODED_MAX]) {
    size_t pad = 0;
    while (pad < 2 && len > 0 && value[len - 1] == '=') {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return FG_ERR_INVALID; /* no base64 ends with one character, padding fills to 4 */
    for (size_t i = 0; i < len; i++)
        if (!is_b64_char(value[i]))
            return FG_ERR_INVALID; /* EVP_DecodeBlock would also skip whitespace */
    if (len == 0)
        return 0;
    char padded[FG_ORCA_MAX_HEADER + 4];
    memcpy(padded, value, len);
    size_t plen = len;
    while (plen % 4)
        padded[plen++] = '=';
    int n = EVP_DecodeBlock(out, (const unsigned char *)padded, (int)plen);
    if (n < 0)
        return FG_ERR_INVALID;
    return (int)(len * 3 / 4); /* EVP_DecodeBlock counts the padding as zero bytes */
}

static bool field_ok(double v) {
    return isfinite(v) && v >= 0;
}

int fg_orca_decode_header(const uint8_t *value, size_t len, fg_orca_report *out) {
    if (len > FG_ORCA_MAX_HEADER)
        return FG_ERR_TOO_BIG;
    uint8_t bytes[DECODED_MAX];
    int n = b64_decode(value, len, bytes);
    if (n < 0)
        return n;
    arena a; /* only .used is read before written: no 8 KiB memset per report */
    a.used = 0;
    ProtobufCAllocator alloc = {.alloc = arena_alloc, .free = arena_free, .allocator_data = &a};
    Xds__Data__Orca__V3__OrcaLoadReport *m =
        xds__data__orca__v3__orca_load_report__unpack(&alloc, (size_t)n, bytes);
    if (!m)
        return FG_ERR_INVALID;
    /* + 0.0 turns a -0.0 (which passes >= 0) into 0: one zero, as the encoder writes it. */
    fg_orca_report r = {
        .cpu_utilization = m->cpu_utilization + 0.0,
        .application_utilization = m->application_utilization + 0.0,
        .rps_fractional = m->rps_fractional + 0.0,
    };
    xds__data__orca__v3__orca_load_report__free_unpacked(m, &alloc);
    if (!field_ok(r.cpu_utilization) || !field_ok(r.application_utilization) ||
        !field_ok(r.rps_fractional))
        return FG_ERR_INVALID;
    *out = r;
    return 0;
}

int fg_orca_encode_header(const fg_orca_report *r, char out[FG_ORCA_ENCODED_MAX]) {
    if (!field_ok(r->cpu_utilization) || !field_ok(r->application_utilization) ||
        !field_ok(r->rps_fractional))
        return FG_ERR_INVALID;
    Xds__Data__Orca__V3__OrcaLoadReport m = XDS__DATA__ORCA__V3__ORCA_LOAD_REPORT__INIT;
    m.cpu_utilization = r->cpu_utilization;
    m.application_utilization = r->application_utilization;
    m.rps_fractional = r->rps_fractional;
    /* Three doubles: at most 3 x (1 tag byte + 8) = 27 bytes, 36 base64 characters. */
    uint8_t bytes[27];
    size_t n = xds__data__orca__v3__orca_load_report__pack(&m, bytes);
    int len = EVP_EncodeBlock((unsigned char *)out, bytes, (int)n);
    out[len] = '\0';
    return len;
}
