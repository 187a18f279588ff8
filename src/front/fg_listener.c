#include "fg_listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fg_alloc.h"

#define BACKLOG 511

struct fg_listener {
    uv_tcp_t tcp;
    fg_listener_cb cb;
    void *user;
    char address[64];
    uint16_t port;
};

static void on_closed(uv_handle_t *handle) {
    free(handle->data);
}

static void on_connection(uv_stream_t *server, int status) {
    fg_listener *l = server->data;
    if (status < 0)
        return; /* e.g. EMFILE: libuv retries on the next readiness */
    l->cb(l, l->user);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss) {
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    struct addrinfo *res;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return UV_EADDRNOTAVAIL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void remember_address(fg_listener *l) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        l->port = ntohs(a->sin6_port);
        snprintf(l->address, sizeof(l->address), "[%s]:%u", ip, l->port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        l->port = ntohs(a->sin_port);
        snprintf(l->address, sizeof(l->address), "%s:%u", ip, l->port);
    }
}

int fg_listener_open(uv_loop_t *loop, const char *host, uint16_t port, bool reuseport,
                     fg_listener_cb cb, void *user, fg_listener **out) {
    struct sockaddr_storage ss;
    int rc = resolve(host, port, &ss);
    if (rc < 0)
        return rc;
    fg_listener *l = fg_calloc(1, sizeof(*l));
    l->cb = cb;
    l->user = user;
    rc = uv_tcp_init_ex(loop, &l->tcp, ss.ss_family);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->tcp.data = l;
    if (reuseport) {
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)&l->tcp, &fd) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
            rc = uv_translate_sys_error(errno);
    }
    if (rc == 0)
        rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, BACKLOG, on_connection);
    if (rc < 0) {
        uv_close((uv_handle_t *)&l->tcp, on_closed);
        return rc;
    }
    remember_address(l);
    *out = l;
    return 0;
}

uv_stream_t *fg_listener_stream(fg_listener *l) {
    return (uv_stream_t *)&l->tcp;
}

void fg_listener_address(const fg_listener *l, char *buf, size_t len, uint16_t *port) {
    snprintf(buf, len, "%s", l->address);
    if (port)
        *port = l->port;
}

void fg_listener_close(fg_listener *l) {
    uv_close((uv_handle_t *)&l->tcp, on_closed);
}
