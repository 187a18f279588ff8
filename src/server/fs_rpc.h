/*
 * fs_rpc: frameserver's gRPC methods: method dispatch by :path, request parsing, status
 * replies, and the handlers of framegate.v1.FrameService (Render, RenderBatch, ListModels) and
 * grpc.health.v1.Health (Check, Watch).
 *
 * fs_conn calls these as a call progresses; each handler answers through fs_call_*.
 * Per-call state hangs off fs_call.rpc and is freed by fs_rpc_on_close(), which also takes the
 * call's frame off the GPU queue or its Watch off the health watchers, so nothing fires for a
 * stream that is gone.
 */
#ifndef FS_RPC_H
#define FS_RPC_H

#include "fs_call.h"

typedef struct fs_server fs_server;

/* The request headers are complete: reject non-gRPC requests and unknown methods early. */
void fs_rpc_on_headers(fs_call *call);
/* The request ended (END_STREAM): parse the message and run the method. */
void fs_rpc_on_request(fs_call *call);
/* The stream is closing (finished, reset by the client, or its connection went away). */
void fs_rpc_on_close(fs_call *call);
/* Shutdown: ends every Health.Watch call (last status NOT_SERVING, then UNAVAILABLE). */
void fs_rpc_end_watches(fs_server *srv);

#endif
