#include "fg_status.h"

#include <stddef.h>

static const char *const status_names[FG_STATUS_MAX + 1] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *fg_status_name(int code) {
    if (code < 0 || code > FG_STATUS_MAX)
        return "UNKNOWN_STATUS";
    return status_names[code];
}

fg_fault fg_status_fault(int code) {
    switch (code) {
    case FG_STATUS_OK:
        return FG_FAULT_NONE;
    case FG_STATUS_RESOURCE_EXHAUSTED:
        return FG_FAULT_BUSY;
    case FG_STATUS_UNAVAILABLE:
    case FG_STATUS_INTERNAL:
    case FG_STATUS_UNKNOWN:
    case FG_STATUS_DATA_LOSS:
    case FG_STATUS_UNIMPLEMENTED:
        return FG_FAULT_BACKEND;
    case FG_STATUS_DEADLINE_EXCEEDED:
        return FG_FAULT_TIMEOUT;
    default:
        /* INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, and codes the contract does not name: a
         * client's odd request must never take a backend out of rotation. */
        return FG_FAULT_REQUEST;
    }
}

int fg_status_from_http(int http_status) {
    switch (http_status) {
    case 400:
        return FG_STATUS_INTERNAL;
    case 401:
        return FG_STATUS_UNAUTHENTICATED;
    case 403:
        return FG_STATUS_PERMISSION_DENIED;
    case 404:
        return FG_STATUS_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return FG_STATUS_UNAVAILABLE;
    default:
        return FG_STATUS_UNKNOWN;
    }
}

int fg_status_from_h2_error(uint32_t h2_error_code) {
    switch (h2_error_code) {
    case 0x0: /* NO_ERROR */
    case 0x1: /* PROTOCOL_ERROR */
    case 0x2: /* INTERNAL_ERROR */
    case 0x3: /* FLOW_CONTROL_ERROR */
    case 0x4: /* SETTINGS_TIMEOUT */
    case 0x6: /* FRAME_SIZE_ERROR */
    case 0x9: /* COMPRESSION_ERROR */
    case 0xa: /* CONNECT_ERROR */
        return FG_STATUS_INTERNAL;
    case 0x7: /* REFUSED_STREAM */
        return FG_STATUS_UNAVAILABLE;
    case 0x8: /* CANCEL */
        return FG_STATUS_CANCELLED;
    case 0xb: /* ENHANCE_YOUR_CALM */
        return FG_STATUS_RESOURCE_EXHAUSTED;
    case 0xc: /* INADEQUATE_SECURITY */
        return FG_STATUS_PERMISSION_DENIED;
    default:
        return FG_STATUS_INTERNAL;
    }
}
