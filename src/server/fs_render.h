/*
 * fs_render: the procedural face a frameserver "model" draws.
 *
 * A head with hair, eyes, brows and a mouth on a background tinted by a colour derived from the
 * backend's port (so a person watching sees which backend drew each frame; the port is also
 * written in the corner). The mouth opening follows the RMS level of the input read as 16-bit
 * little-endian PCM; with an empty input the frame number drives it. Eyes blink on a fixed
 * frame cycle. The same (input, frame) always gives the same bytes. A cacheable renderer
 * (frameserver --cacheable) draws from (model, input) only: the tint comes from the model name,
 * there is no port label, the eyes stay open and an empty input is silence (mouth closed), so every
 * cacheable backend of a model draws the same bytes for the same input.
 *
 * Mouth openings are quantised to FS_RENDER_MOUTH_STEPS, so the renderer keeps every finished
 * image (and its JPEG) in a cache it owns: a frame costs a lookup once warm. Returned image
 * pointers stay valid until fs_render_free().
 */
#ifndef FS_RENDER_H
#define FS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "fs_config.h"

#define FS_RENDER_MOUTH_STEPS 16
#define FS_RENDER_BLINK_PERIOD 97 /* frames */
#define FS_RENDER_BLINK_FRAMES 3

typedef struct fs_render fs_render;

typedef struct fs_render_params {
    uint32_t width, height;
    fs_format format;
    uint16_t port;     /* drives the tint and the corner label */
    const char *model; /* varies skin, hair and eye colours; copied */
    bool cacheable;    /* the image depends on (model, input) only: see above */
} fs_render_params;

/* NULL if the JPEG encoder cannot be set up (the only failure). */
fs_render *fs_render_new(const fs_render_params *params);
void fs_render_free(fs_render *r);

/* The mouth opening 0..1 for an input (16-bit LE PCM; an odd last byte is ignored) or, when
 * the input holds no sample, for the frame number. */
double fs_render_mouth(const uint8_t *input, size_t len, uint32_t frame);
/* The tint for a port, as 8-bit RGB. */
void fs_render_tint(uint16_t port, uint8_t rgb[3]);

/*
 * Renders (or finds in the cache) the image for an input and frame. 0 with *image and *image_len
 * set, or FG_ERR_INVALID if JPEG encoding failed.
 */
int fs_render_frame(fs_render *r, const uint8_t *input, size_t len, uint32_t frame,
                    const uint8_t **image, size_t *image_len);

/* Renders every image the cache can hold; 0 or FG_ERR_INVALID (JPEG encoding failed). */
int fs_render_warm(fs_render *r);

#endif
