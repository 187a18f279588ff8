#include "fg_ws_accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool fg_ws_key_valid(const char *key, size_t len) {
    /* 16 bytes encode to 22 characters plus "==". */
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (key[i] == '\0' || !strchr(b64_alphabet, key[i]))
            return false;
    /* The last character carries 2 data bits; the 4 unused bits must be zero. */
    return (strchr(b64_alphabet, key[21]) - b64_alphabet) % 16 == 0;
}

void fg_ws_accept_value(const char *key, size_t len, char out[FG_WS_ACCEPT_LEN + 1]) {
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    uint8_t input[64 + sizeof(WS_GUID)];
    if (len > 64)
        len = 64; /* callers check fg_ws_key_valid first; this only bounds the copy */
    memcpy(input, key, len);
    memcpy(input + len, WS_GUID, sizeof(WS_GUID) - 1);
    /* SHA-1 from OpenSSL's default provider fails only without memory: fg_alloc's policy. */
    if (EVP_Digest(input, len + sizeof(WS_GUID) - 1, digest, &digest_len, EVP_sha1(), NULL) != 1 ||
        digest_len != FG_SHA1_LEN) {
        fprintf(stderr, "fatal: SHA-1 of the WebSocket key failed\n");
        abort();
    }
    EVP_EncodeBlock((unsigned char *)out, digest, FG_SHA1_LEN); /* 28 characters and a NUL */
}
