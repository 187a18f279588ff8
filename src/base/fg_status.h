/*
 * fg_status: gRPC status codes, their names, and what each one means to the proxy
 * (the contract's table in docs/protocol.md, section 1).
 */
#ifndef FG_STATUS_H
#define FG_STATUS_H

#include <stdint.h>

typedef enum fg_grpc_status {
    FG_STATUS_OK = 0,
    FG_STATUS_CANCELLED = 1,
    FG_STATUS_UNKNOWN = 2,
    FG_STATUS_INVALID_ARGUMENT = 3,
    FG_STATUS_DEADLINE_EXCEEDED = 4,
    FG_STATUS_NOT_FOUND = 5,
    FG_STATUS_ALREADY_EXISTS = 6,
    FG_STATUS_PERMISSION_DENIED = 7,
    FG_STATUS_RESOURCE_EXHAUSTED = 8,
    FG_STATUS_FAILED_PRECONDITION = 9,
    FG_STATUS_ABORTED = 10,
    FG_STATUS_OUT_OF_RANGE = 11,
    FG_STATUS_UNIMPLEMENTED = 12,
    FG_STATUS_INTERNAL = 13,
    FG_STATUS_UNAVAILABLE = 14,
    FG_STATUS_DATA_LOSS = 15,
    FG_STATUS_UNAUTHENTICATED = 16,
} fg_grpc_status;

#define FG_STATUS_MAX 16

/* Whose fault a finished call was. */
typedef enum fg_fault {
    FG_FAULT_NONE,    /* OK */
    FG_FAULT_REQUEST, /* the request's fault (and codes outside the contract's table): pass on */
    FG_FAULT_BUSY,    /* RESOURCE_EXHAUSTED: try another backend, do not mark this one */
    FG_FAULT_BACKEND, /* counts against the backend's health; retry elsewhere */
    FG_FAULT_TIMEOUT, /* DEADLINE_EXCEEDED: a fault only if the backend was otherwise idle */
} fg_fault;

/* "UNAVAILABLE" etc.; "UNKNOWN_STATUS" for a code outside 0..16. Never NULL. */
const char *fg_status_name(int code);
fg_fault fg_status_fault(int code);
/* The gRPC status for a non-200 HTTP :status (gRPC's "HTTP to gRPC status code mapping"). */
int fg_status_from_http(int http_status);
/* The gRPC status for an HTTP/2 RST_STREAM / GOAWAY error code (gRPC's PROTOCOL-HTTP2 doc). */
int fg_status_from_h2_error(uint32_t h2_error_code);

#endif
