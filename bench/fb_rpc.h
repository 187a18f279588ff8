/*
 * fb_rpc: the FrameService calls framebench makes over fg_grpc_conn: packing a RenderRequest
 * into a reused buffer, unpacking the reply, and turning a failed call into a sentence a person
 * can act on ("is not a FrameService", "connection refused", "unknown model").
 */
#ifndef FB_RPC_H
#define FB_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "fg_buf.h"
#include "fg_grpc_conn.h"

#define FB_RENDER_PATH "/framegate.v1.FrameService/Render"

/* out is reset, then holds the serialized RenderRequest. 0 or FG_ERR_TOO_BIG. */
int fb_rpc_pack_render(fg_buf *out, const char *model, uint32_t frame, const uint8_t *input,
                       size_t input_len);
/* A 16-bit PCM tone, so the reference backend's mouth moves. */
void fb_rpc_fill_input(uint8_t *p, size_t n);
/*
 * Why a call to target failed, for the user. conn_error is the connection's last failure
 * ("" if none). Also says whether the failure means the run cannot go on (*fatal).
 */
void fb_rpc_explain(char *buf, size_t len, const char *target, const char *model,
                    const fg_grpc_result *res, const char *conn_error, int *fatal);

#endif
