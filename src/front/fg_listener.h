/*
 * fg_listener: a listening TCP socket on the loop.
 *
 * Binds host:port (port 0 picks a free port) with SO_REUSEADDR, and with SO_REUSEPORT when
 * asked so that several worker loops can each listen on the same port and let the kernel spread
 * connections. host is a numeric address or a name resolved once, at startup.
 */
#ifndef FG_LISTENER_H
#define FG_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fg_listener fg_listener;

/* Called for each pending connection; accept it with uv_accept(fg_listener_stream(l), ...). */
typedef void (*fg_listener_cb)(fg_listener *l, void *user);

/*
 * 0 and *out set, listening; or a negative libuv error (nothing left to free: a half-set-up
 * handle is closed and released by the loop).
 */
int fg_listener_open(uv_loop_t *loop, const char *host, uint16_t port, bool reuseport,
                     fg_listener_cb cb, void *user, fg_listener **out);
uv_stream_t *fg_listener_stream(fg_listener *l);
/* The bound address as "HOST:PORT" ("[v6]:PORT" for IPv6) and the port alone. */
void fg_listener_address(const fg_listener *l, char *buf, size_t len, uint16_t *port);
/* Stops listening; the memory is released from the close callback. */
void fg_listener_close(fg_listener *l);

#endif
