/*
 * fb_image: writes a rendered frame to a file chosen by its extension: .ppm (binary P6; RGBA
 * loses its alpha, JPEG is decoded with libturbojpeg), .jpg/.jpeg (JPEG kept as is, raw pixels
 * encoded with libturbojpeg), .png (only a frame the backend already sent as PNG: no library we
 * depend on encodes PNG, libturbojpeg cannot).
 */
#ifndef FB_IMAGE_H
#define FB_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* format: an ImageFormat value. 0, or a negative code with a message in err. */
int fb_image_write(const char *path, int format, uint32_t width, uint32_t height,
                   const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
