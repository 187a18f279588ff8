/*
 * fg_args: the command-line flag parser shared by framegate, frameserver and framebench.
 *
 * Accepts "--name value", "--name=value", "-name value" and "-name=value" (Go style), and
 * "--help"/"-h". Values are checked against their type and bounds; the first bad flag or value
 * makes fg_args_parse() fail with a message in err. Destinations keep their defaults unless set.
 */
#ifndef FG_ARGS_H
#define FG_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum fg_arg_type {
    FG_ARG_STRING, /* dst: const char ** (points into argv) */
    FG_ARG_UINT,   /* dst: uint64_t *, within [min, max] */
    FG_ARG_DOUBLE, /* dst: double *, within [dmin, dmax] */
    FG_ARG_ONOFF,  /* dst: bool *, "on"/"off"/"true"/"false"/"1"/"0" */
    FG_ARG_SWITCH, /* dst: bool *, takes no value, sets true */
} fg_arg_type;

typedef struct fg_arg_spec {
    const char *name; /* without dashes, e.g. "ws-port" */
    fg_arg_type type;
    void *dst;
    uint64_t min, max;   /* FG_ARG_UINT */
    double dmin, dmax;   /* FG_ARG_DOUBLE */
    const char *metavar; /* e.g. "PORT"; NULL for switches */
    const char *help;    /* one line; the default is printed from *dst */
} fg_arg_spec;

#define FG_ARGS_HELP 1 /* fg_args_parse() result: --help was given */

/*
 * Parses argv[start..argc) (start is 1, or 2 after a subcommand word). Every word must be a
 * known flag or its value. Returns 0, FG_ARGS_HELP, or FG_ERR_INVALID with a one-line message
 * in err.
 */
int fg_args_parse(const fg_arg_spec *specs, size_t n, int argc, char **argv, int start, char *err,
                  size_t errlen);
/* Prints "usage: PROG [flags]\n\nSUMMARY\n\n" and one line per flag with its default. */
void fg_args_usage(FILE *out, const char *usage, const char *summary, const fg_arg_spec *specs,
                   size_t n);
/*
 * fg_args_parse() for a program's main, with the reporting every caller does: on --help prints
 * fg_args_usage() to stdout; on a bad flag or value prints "PROG: message" to stderr. Returns 0,
 * FG_ARGS_HELP or FG_ERR_INVALID (a caller's exit status is then 0 or 2).
 */
int fg_args_run(const char *prog, const char *usage, const char *summary, const fg_arg_spec *specs,
                size_t n, int argc, char **argv, int start);

#endif
