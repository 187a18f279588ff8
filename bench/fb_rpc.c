/* fb_rpc: RenderRequest packing and call-failure explanations. */
#include "fb_rpc.h"

#include <stdio.h>
#include <string.h>

#include "framegate/v1/frames.pb-c.h"
#include "fg_err.h"
#include "fg_status.h"

int fb_rpc_pack_render(fg_buf *out, const char *model, uint32_t frame, const uint8_t *input,
                       size_t input_len) {
    Framegate__V1__RenderRequest req = FRAMEGATE__V1__RENDER_REQUEST__INIT;
    req.model = (char *)model;
    req.frame = frame;
    req.input.data = (uint8_t *)input;
    req.input.len = input_len;
    size_t size = framegate__v1__render_request__get_packed_size(&req);
    fg_buf_reset(out);
    if (fg_buf_reserve(out, size) != 0)
        return FG_ERR_TOO_BIG;
    out->len = framegate__v1__render_request__pack(&req, out->data);
    return 0;
}

void fb_rpc_fill_input(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (i & 1) ? (uint8_t)((i / 2) % 64) : 0;
}

void fb_rpc_explain(char *buf, size_t len, const char *target, const char *model,
                    const fg_grpc_result *res, const char *conn_error, int *fatal) {
    const char *name = fg_status_name(res->status);
    const char *msg = res->message && res->message[0] ? res->message : conn_error;
    *fatal = 0;
    switch (res->status) {
    case FG_STATUS_UNIMPLEMENTED:
        *fatal = 1;
        snprintf(buf, len, "%s is not a FrameService: Render answered UNIMPLEMENTED%s%s", target,
                 msg[0] ? ": " : "", msg);
        return;
    case FG_STATUS_NOT_FOUND:
        *fatal = 1;
        snprintf(buf, len, "%s does not know model '%s' (NOT_FOUND%s%s)", target, model,
                 msg[0] ? ": " : "", msg);
        return;
    case FG_STATUS_UNAVAILABLE:
        if (conn_error[0]) {
            *fatal = 1;
            snprintf(buf, len, "cannot reach a gRPC server at %s: %s%s", target, conn_error,
                     strstr(conn_error, "refused") || strstr(conn_error, "TLS")
                         ? ""
                         : " (is it an HTTP/2 cleartext gRPC server?)");
            return;
        }
        break;
    default:
        break;
    }
    snprintf(buf, len, "%s answered %s%s%s", target, name, msg[0] ? ": " : "", msg);
}
