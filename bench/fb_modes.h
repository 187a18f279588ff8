/*
 * The three framebench subcommands. Each parses its own flags from argv[2..] and returns the
 * process exit status: 0 done, 1 the run failed (nothing reachable, no replies), 2 bad usage.
 */
#ifndef FB_MODES_H
#define FB_MODES_H

int fb_ws_main(int argc, char **argv);
int fb_grpc_main(int argc, char **argv);
int fb_render_main(int argc, char **argv);

#endif
