#include "fg_err.h"

#include <uv.h>

const char *fg_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
    case FG_ERR_TOO_BIG:
        return "size limit exceeded";
    case FG_ERR_PROTO:
        return "protocol error";
    case FG_ERR_INVALID:
        return "invalid value";
    case FG_ERR_COMPRESSED:
        return "compressed message not supported";
    case FG_ERR_CLOSED:
        return "closed";
    case FG_ERR_TIMEOUT:
        return "timed out";
    case FG_ERR_FULL:
        return "queue full";
    case FG_ERR_NOT_FOUND:
        return "not found";
    case FG_ERR_AGAIN:
        return "try again";
    case FG_ERR_BUSY:
        return "overloaded";
    default:
        return err < 0 && err > -4096 ? uv_strerror(err) : "unknown error";
    }
}
