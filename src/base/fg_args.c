#include "fg_args.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"

static const fg_arg_spec *find_spec(const fg_arg_spec *specs, size_t n, const char *name,
                                    size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(specs[i].name) == len && memcmp(specs[i].name, name, len) == 0)
            return &specs[i];
    return NULL;
}

static int parse_uint(const fg_arg_spec *s, const char *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    if (*v == '\0' || *v == '-' || *v == '+') {
        snprintf(err, errlen, "--%s: '%s' is not a whole number", s->name, v);
        return FG_ERR_INVALID;
    }
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end != '\0') {
        snprintf(err, errlen, "--%s: '%s' is not a whole number", s->name, v);
        return FG_ERR_INVALID;
    }
    if (x < s->min || x > s->max) {
        snprintf(err, errlen, "--%s: %llu is out of range [%llu, %llu]", s->name, x,
                 (unsigned long long)s->min, (unsigned long long)s->max);
        return FG_ERR_INVALID;
    }
    *(uint64_t *)s->dst = x;
    return 0;
}

static int parse_double(const fg_arg_spec *s, const char *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || errno || *end != '\0' || !isfinite(x)) {
        snprintf(err, errlen, "--%s: '%s' is not a number", s->name, v);
        return FG_ERR_INVALID;
    }
    if (x < s->dmin || x > s->dmax) {
        snprintf(err, errlen, "--%s: %g is out of range [%g, %g]", s->name, x, s->dmin, s->dmax);
        return FG_ERR_INVALID;
    }
    *(double *)s->dst = x;
    return 0;
}

static int parse_onoff(const fg_arg_spec *s, const char *v, char *err, size_t errlen) {
    static const char *const on[] = {"on", "true", "1", "yes"};
    static const char *const off[] = {"off", "false", "0", "no"};
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        if (strcmp(v, on[i]) == 0) {
            *(bool *)s->dst = true;
            return 0;
        }
        if (strcmp(v, off[i]) == 0) {
            *(bool *)s->dst = false;
            return 0;
        }
    }
    snprintf(err, errlen, "--%s: '%s' is not on or off", s->name, v);
    return FG_ERR_INVALID;
}

static int set_value(const fg_arg_spec *s, const char *v, char *err, size_t errlen) {
    switch (s->type) {
    case FG_ARG_STRING:
        *(const char **)s->dst = v;
        return 0;
    case FG_ARG_UINT:
        return parse_uint(s, v, err, errlen);
    case FG_ARG_DOUBLE:
        return parse_double(s, v, err, errlen);
    case FG_ARG_ONOFF:
        return parse_onoff(s, v, err, errlen);
    case FG_ARG_SWITCH:
        break;
    }
    snprintf(err, errlen, "--%s takes no value", s->name);
    return FG_ERR_INVALID;
}

int fg_args_parse(const fg_arg_spec *specs, size_t n, int argc, char **argv, int start, char *err,
                  size_t errlen) {
    for (int i = start; i < argc; i++) {
        const char *word = argv[i];
        if (word[0] != '-' || word[1] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s'", word);
            return FG_ERR_INVALID;
        }
        const char *name = word + (word[1] == '-' ? 2 : 1);
        if (strcmp(name, "help") == 0 || strcmp(word, "-h") == 0)
            return FG_ARGS_HELP;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const fg_arg_spec *s = find_spec(specs, n, name, name_len);
        if (!s) {
            snprintf(err, errlen, "unknown flag '%.*s' (see --help)", (int)(name - word + name_len),
                     word);
            return FG_ERR_INVALID;
        }
        if (s->type == FG_ARG_SWITCH && !eq) {
            *(bool *)s->dst = true;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", s->name);
                return FG_ERR_INVALID;
            }
            value = argv[++i];
        }
        int rv = set_value(s, value, err, errlen);
        if (rv < 0)
            return rv;
    }
    return 0;
}

static void print_default(FILE *out, const fg_arg_spec *s) {
    switch (s->type) {
    case FG_ARG_STRING: {
        const char *v = *(const char *const *)s->dst;
        if (v && *v)
            fprintf(out, " (default %s)", v);
        break;
    }
    case FG_ARG_UINT:
        fprintf(out, " (default %llu)", (unsigned long long)*(const uint64_t *)s->dst);
        break;
    case FG_ARG_DOUBLE:
        fprintf(out, " (default %g)", *(const double *)s->dst);
        break;
    case FG_ARG_ONOFF:
        fprintf(out, " (default %s)", *(const bool *)s->dst ? "on" : "off");
        break;
    case FG_ARG_SWITCH:
        break;
    }
}

void fg_args_usage(FILE *out, const char *usage, const char *summary, const fg_arg_spec *specs,
                   size_t n) {
    fprintf(out,
            "usage: %s\n\n%s\n\nFlags (--flag value, --flag=value and -flag value all work):\n",
            usage, summary);
    for (size_t i = 0; i < n; i++) {
        const fg_arg_spec *s = &specs[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", s->name, s->metavar ? " " : "",
                 s->metavar ? s->metavar : "");
        fprintf(out, "  %-28s %s", left, s->help);
        print_default(out, s);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "--help", "show this help and exit");
}

int fg_args_run(const char *prog, const char *usage, const char *summary, const fg_arg_spec *specs,
                size_t n, int argc, char **argv, int start) {
    char err[256];
    int rc = fg_args_parse(specs, n, argc, argv, start, err, sizeof(err));
    if (rc == FG_ARGS_HELP)
        fg_args_usage(stdout, usage, summary, specs, n);
    else if (rc < 0)
        fprintf(stderr, "%s: %s\n", prog, err);
    return rc;
}
