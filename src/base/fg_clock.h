/* fg_clock: monotonic time in microseconds (libuv's high-resolution clock). */
#ifndef FG_CLOCK_H
#define FG_CLOCK_H

#include <stdint.h>
#include <uv.h>

static inline uint64_t fg_now_us(void) {
    return uv_hrtime() / 1000;
}

#endif
