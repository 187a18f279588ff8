/* framebench: load generator and manual test client for framegate and its backends. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fb_modes.h"

static const char usage[] =
    "usage: framebench MODE [flags]   (framebench MODE --help for the flags)\n"
    "\n"
    "  ws      load through the proxy's WebSocket (frames/s, statuses, latency, per backend)\n"
    "  grpc    gRPC load straight on backends (per-server frames/s, total, speedup)\n"
    "  render  one Render call on one backend; prints the reply and writes the image\n";

/* Thousands of WebSocket connections need as many descriptors as the hard limit allows. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "ws") == 0)
        return fb_ws_main(argc, argv);
    if (strcmp(mode, "grpc") == 0)
        return fb_grpc_main(argc, argv);
    if (strcmp(mode, "render") == 0)
        return fb_render_main(argc, argv);
    if (strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0 || strcmp(mode, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "framebench: unknown mode '%s'\n\n%s", mode, usage);
    return 2;
}
