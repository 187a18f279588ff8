/* frameserver: the framegate reference gRPC backend. Flags in fs_config.c; see --help. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_log.h"
#include "fs_config.h"
#include "fs_server.h"

/* The servers of this process: one, or --ports of them on one loop. */
typedef struct servers {
    fs_server **v;
    size_t n;
} servers;

static void on_signal(uv_signal_t *handle, int signum) {
    servers *all = handle->data;
    fg_log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (size_t i = 0; i < all->n; i++)
        fs_server_shutdown(all->v[i]);
}

static void start_signal(uv_loop_t *loop, uv_signal_t *sig, int signum, servers *all) {
    uv_signal_init(loop, sig);
    sig->data = all;
    uv_signal_start(sig, on_signal, signum);
    uv_unref((uv_handle_t *)sig); /* signals alone do not keep the server running */
}

int main(int argc, char **argv) {
    fs_config cfg;
    char err[256];
    int status = 0;
    fs_config_init(&cfg);
    int rv = fs_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (rv == FG_ARGS_HELP) {
        fs_config_usage(&cfg, stdout);
        goto out_config;
    }
    if (rv < 0) {
        fprintf(stderr, "frameserver: %s\n", err);
        status = 2;
        goto out_config;
    }
    fg_log_set_level((fg_log_level)cfg.log_level_value);
    signal(SIGPIPE, SIG_IGN);
    /* Every reply is a ~24 KiB buffer allocated and freed per call: keep freed heap memory
     * instead of returning it to the kernel and faulting it back in on the next call. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);

    uv_loop_t *loop = uv_default_loop();
    servers all = {fg_calloc(cfg.ports, sizeof *all.v), (size_t)cfg.ports};
    for (size_t i = 0; i < all.n; i++)
        all.v[i] = fs_server_new(loop, &cfg, (uint16_t)(cfg.port + i));
    uv_signal_t sigterm, sigint;
    start_signal(loop, &sigterm, SIGTERM, &all);
    start_signal(loop, &sigint, SIGINT, &all);
    for (size_t i = 0; i < all.n && status == 0; i++)
        if (fs_server_listen(all.v[i]) < 0)
            status = 1;
    if (status != 0)
        for (size_t i = 0; i < all.n; i++)
            fs_server_shutdown(all.v[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    if (status == 0)
        for (size_t i = 0; i < all.n; i++)
            fs_server_log_summary(all.v[i]);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    for (size_t i = 0; i < all.n; i++)
        fs_server_free(all.v[i]);
    free(all.v);
out_config:
    fs_config_free(&cfg);
    return status;
}
