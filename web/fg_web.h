/*
 * fg_web: the browser client's files (web/), embedded in the binary at build time.
 */
#ifndef FG_WEB_H
#define FG_WEB_H

#include <stddef.h>
#include <stdint.h>

typedef struct fg_web_asset {
    const char *path;         /* "/", "/app.js", ... */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const uint8_t *data;      /* static; never freed */
    size_t len;
} fg_web_asset;

/* The asset served at path[0..len) (query string already removed), or NULL. */
const fg_web_asset *fg_web_find(const char *path, size_t len);

#endif
