/*
 * fc_group: framebench's connection groups, "NAME:CONNECTIONS:INFLIGHT" (--group, repeatable):
 * several kinds of client in one run, e.g. a flood of 32 connections x 16 in flight beside a
 * modest 2 x 1, each reported on its own. Pure parsing into a caller-owned struct.
 */
#ifndef FC_GROUP_H
#define FC_GROUP_H

#include <stddef.h>
#include <stdint.h>

#define FC_GROUP_NAME_MAX 31
#define FC_GROUP_MAX 16
#define FC_GROUP_CONNECTIONS_MAX 100000
#define FC_GROUP_INFLIGHT_MAX 65536

typedef struct fc_group_spec {
    char name[FC_GROUP_NAME_MAX + 1]; /* 1..31 of [A-Za-z0-9_-] */
    uint32_t connections;             /* 1..FC_GROUP_CONNECTIONS_MAX */
    uint32_t inflight;                /* 1..FC_GROUP_INFLIGHT_MAX */
} fc_group_spec;

/* 0, or FG_ERR_INVALID with a one-line reason in err. */
int fc_group_parse(const char *text, fc_group_spec *out, char *err, size_t errlen);

#endif
