#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target: fuzz/corpus/<target>/<name>.

Each seed is one meaningful case (a good exchange, and each kind of bad input the issue lists),
so the fuzzer starts from inputs that reach deep into the parser. Run it again after changing a
seed; the files are committed. Usage: fuzz/make_corpus.py [OUTDIR] (default: fuzz/corpus).
Needs python3-h2 (HTTP/2 frames for the reply path).
"""

import base64
import os
import struct
import sys
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.settings

FRAME = 42  # the frame number fuzz_reply.c sends
MODEL = b"sanders"


# ----------------------------------------------------------------------------- helpers


def grpc_frame(payload, flag=0, length=None):
    return struct.pack(">BI", flag, len(payload) if length is None else length) + payload


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, wire, value):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(value)
    return key + varint(len(value)) + value


def render_reply(frame=FRAME, image=b"\x89PNG\r\n\x1a\n", fmt=4, width=2, height=2):
    return (pb_field(1, 0, frame) + pb_field(2, 2, image) + pb_field(3, 0, fmt) +
            pb_field(4, 0, width) + pb_field(5, 0, height) + pb_field(6, 0, 1234))


def raw_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, stream) + payload


# ----------------------------------------------------------------------------- fuzz_reply


class Server:
    """An h2 server that has read the client's request on stream 1 (as fuzz_reply.c sends it)."""

    def __init__(self):
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        client.initiate_connection()
        client.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "b"),
                                (":path", "/framegate.v1.FrameService/Render"),
                                ("content-type", "application/grpc"), ("te", "trailers")])
        client.send_data(1, grpc_frame(b"\x0a\x01m\x10*"), end_stream=True)
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, validate_outbound_headers=False,
                                      normalize_outbound_headers=False))
        self.h2.initiate_connection()
        self.h2.receive_data(client.data_to_send())
        self.out = bytearray(self.h2.data_to_send())

    def flush(self):
        self.out += self.h2.data_to_send()
        return self

    def headers(self, status="200", extra=(), end=False):
        self.h2.send_headers(1, [(":status", status), ("content-type", "application/grpc"), *extra],
                             end_stream=end)
        return self.flush()

    def data(self, payload, end=False, pad=None):
        self.h2.send_data(1, payload, end_stream=end, pad_length=pad)
        return self.flush()

    def trailers(self, status="0", message=None):
        t = [("grpc-status", status)] if status is not None else []
        if message:
            t.append(("grpc-message", message))
        self.h2.send_headers(1, t or [("x-nothing", "1")], end_stream=True)
        return self.flush()

    def raw(self, b):
        self.flush()
        self.out += b
        return self

    def bytes(self, chunk=0):
        return bytes([chunk]) + bytes(self.out)


def reply_seeds():
    s = {}
    s["ok"] = Server().headers().data(grpc_frame(render_reply())).trailers().bytes()
    s["ok_chunked_7"] = Server().headers().data(grpc_frame(render_reply())).trailers().bytes(7)
    srv = Server().headers()
    for b in grpc_frame(render_reply(image=bytes(range(40)))):
        srv.data(bytes([b]))
    s["ok_one_byte_data_frames"] = srv.trailers().bytes()
    s["ok_padded"] = Server().headers().data(grpc_frame(render_reply()), pad=20).trailers().bytes()
    s["ok_empty_reply"] = Server().headers().data(grpc_frame(b"")).trailers().bytes()
    s["missing_grpc_status"] = Server().headers().data(grpc_frame(render_reply())).trailers(None).bytes()
    s["http_503"] = Server().headers("503", end=True).bytes()
    s["http_404_with_body"] = Server().headers("404").data(b"not found", end=True).bytes()
    s["trailers_only_unavailable"] = Server().headers(
        extra=[("grpc-status", "14"), ("grpc-message", "model%20loading")], end=True).bytes()
    s["status_not_a_number"] = Server().headers().data(grpc_frame(render_reply())).trailers("1x").bytes()
    s["status_out_of_range"] = Server().headers().trailers("99").bytes()
    s["unparsable_render_reply"] = Server().headers().data(grpc_frame(b"\xff\xff\xff\xff")).trailers().bytes()
    s["reply_too_big"] = Server().headers().data(grpc_frame(b"x" * 100, length=5 << 20)).trailers().bytes()
    s["reply_over_fuzz_limit"] = Server().headers().data(grpc_frame(b"\x12" + varint(1100) + b"i" * 1100)).trailers().bytes()
    s["compressed_flag"] = Server().headers().data(grpc_frame(render_reply(), flag=1)).trailers().bytes()
    s["bad_flag"] = Server().headers().data(grpc_frame(render_reply(), flag=7)).trailers().bytes()
    s["two_messages"] = Server().headers().data(grpc_frame(render_reply()) * 2).trailers().bytes()
    s["cut_message"] = Server().headers().data(grpc_frame(b"abc", length=100)).trailers().bytes()
    s["cut_prefix"] = Server().headers().data(b"\x00\x00").trailers().bytes()
    s["eof_mid_reply"] = Server().headers().data(grpc_frame(render_reply())).bytes()
    srv = Server()
    srv.h2.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=0)
    s["goaway_before_reply"] = srv.flush().bytes()
    # h2 sends nothing after its own GOAWAY; a real server finishes the accepted streams.
    goaway_1 = raw_frame(7, 0, 0, struct.pack(">II", 1, 0))
    s["goaway_mid_flight_then_finish"] = Server().headers().raw(goaway_1).data(
        grpc_frame(render_reply())).trailers().bytes()
    srv = Server()
    srv.h2.reset_stream(1, h2.errors.ErrorCodes.REFUSED_STREAM)
    s["rst_refused_stream"] = srv.flush().bytes()
    srv = Server().headers()
    srv.h2.reset_stream(1, h2.errors.ErrorCodes.INTERNAL_ERROR)
    s["rst_internal_after_headers"] = srv.flush().bytes()
    s["ping_flood"] = Server().raw(raw_frame(6, 0, 0, b"12345678") * 1200).bytes()
    s["settings_flood"] = Server().raw(raw_frame(4, 0, 0, struct.pack(">HI", 4, 65535)) * 60).bytes()
    s["empty_data_flood"] = Server().headers().raw(raw_frame(0, 0, 1, b"") * 600).trailers().bytes()
    s["window_update_overflow"] = Server().raw(raw_frame(8, 0, 0, struct.pack(">I", 0x7FFFFFFF))).bytes()
    s["push_promise"] = Server().raw(raw_frame(5, 4, 1, struct.pack(">I", 2) + b"\x82")).bytes()
    s["headers_before_settings"] = bytes([0]) + raw_frame(1, 4, 1, b"\x88") + raw_frame(4, 0, 0, b"")
    srv = Server()
    block = srv.h2.encoder.encode([(":status", "200"), ("content-type", "application/grpc"),
                                   ("x-long", "v" * 300)])
    s["headers_with_continuation"] = srv.raw(
        raw_frame(1, 0, 1, block[:10]) + raw_frame(9, 0, 1, block[10:100]) +
        raw_frame(9, 4, 1, block[100:])).bytes()
    s["garbage"] = bytes([0]) + b"HTTP/1.1 400 Bad Request\r\n\r\n"
    return s


# ----------------------------------------------------------------------------- WebSocket frames


def ws_frame(opcode, payload=b"", fin=True, rsv=0, mask=b"\x11\x22\x33\x44", length=None,
             len_form=None):
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload) if length is None else length
    form = len_form or ("7" if n < 126 else "16" if n < 65536 else "64")
    m = 0x80 if mask else 0
    if form == "7":
        head = bytes([b0, m | n])
    elif form == "16":
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def render_request(request_id=7, frame=FRAME, model=MODEL, data=b"\x00\x01" * 8, flags=0,
                   mtype=1, model_len=None):
    ml = len(model) if model_len is None else model_len
    return struct.pack("<BBHII", mtype, ml, flags, request_id, frame) + model + data


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def ws_seeds():
    req = render_request()
    s = {
        "binary_request": ws_frame(2, req),
        "two_requests_read_3": ws_frame(2, req) + ws_frame(2, render_request(8)),
        "fragmented_with_ping": ws_frame(2, req[:5], fin=False) + ws_frame(9, b"hi") +
        ws_frame(0, req[5:11], fin=False) + ws_frame(0, req[11:]),
        "text_message": ws_frame(1, b"hello"),
        "ping": ws_frame(9, b"ping-payload"),
        "unsolicited_pong": ws_frame(10, b"x") + ws_frame(2, req),
        "close_1000": ws_frame(8, close_payload(1000, b"bye")),
        "close_999": ws_frame(8, close_payload(999)),
        "close_1005": ws_frame(8, close_payload(1005)),
        "close_one_byte": ws_frame(8, b"\x03"),
        "close_bad_utf8": ws_frame(8, close_payload(1000, b"\xff\xfe")),
        "close_cut_utf8": ws_frame(8, close_payload(1000, "bye \u65e5".encode()[:-1])),
        "close_overlong_utf8": ws_frame(8, close_payload(1001, b"\xc0\xaf")),
        "close_surrogate_utf8": ws_frame(8, close_payload(1000, b"\xed\xa0\x80")),
        "close_good_utf8_reason": ws_frame(8, close_payload(1000, "au revoir \u65e5\u672c".encode())),
        "close_one_byte_after_request": ws_frame(2, req) + ws_frame(8, b"\x03"),
        "data_after_close": ws_frame(8, close_payload(1000)) + ws_frame(2, req),
        "unmasked": ws_frame(2, req, mask=None),
        "rsv1": ws_frame(2, req, rsv=4),
        "opcode_3": ws_frame(3, b"x"),
        "opcode_0xb": ws_frame(0xB, b"x"),
        "control_over_125": ws_frame(9, b"p" * 126),
        "fragmented_ping": ws_frame(9, b"ab", fin=False) + ws_frame(0, b"cd"),
        "continuation_alone": ws_frame(0, b"abc"),
        "new_message_inside_fragmented": ws_frame(2, b"abc", fin=False) + ws_frame(2, b"def"),
        "len64_top_bit": ws_frame(2, b"", length=1 << 63, len_form="64"),
        "len_non_minimal_16": ws_frame(2, b"abc", len_form="16"),
        "len_non_minimal_64": ws_frame(2, b"abc", len_form="64"),
        "over_limit": ws_frame(2, b"z" * 5000),
        "fragmented_over_limit": ws_frame(2, b"z" * 3000, fin=False) + ws_frame(0, b"z" * 3000),
        "empty_binary": ws_frame(2, b""),
        # The frame-level path (whole binary frames between messages) next to wslay's cases.
        "fast_then_ping_then_fast": ws_frame(2, req) + ws_frame(9, b"p") + ws_frame(2, req),
        "fast_then_over_limit": ws_frame(2, req) + ws_frame(2, b"z" * 4097) + ws_frame(2, req),
        "fast_then_unmasked": ws_frame(2, req) + ws_frame(2, req, mask=None),
        "fast_then_text": ws_frame(2, req) + ws_frame(1, b"t") + ws_frame(2, req),
        "fragmented_then_fast": ws_frame(2, req[:4], fin=False) + ws_frame(0, req[4:]) +
        ws_frame(2, req) + ws_frame(2, render_request(9)),
        "fast_16bit_at_limit": ws_frame(2, render_request(5, data=b"L" * (4096 - 12 - len(MODEL)))),
        "fast_split_read_7": b"".join(ws_frame(2, render_request(i, data=b"s" * 30)) for i in range(4)),
    }
    s["many_replies_small_writes"] = b"".join(ws_frame(2, render_request(i, data=b"i" * 200))
                                              for i in range(10))
    # Prefix: read size (0: all at once), output high-water mark ((b + 1) * 16 bytes).
    chunked = {"two_requests_read_3": 3, "fragmented_with_ping": 5, "over_limit": 100,
               "fast_split_read_7": 7}
    high_water = {"many_replies_small_writes": 0, "two_requests_read_3": 1}
    return {k: bytes([chunked.get(k, 0), high_water.get(k, 255)]) + v for k, v in s.items()}


def wsframe_seeds():
    return {
        "binary_masked": ws_frame(2, b"abcdefghij"),
        "len16_masked": ws_frame(2, b"x" * 300),
        "len64_masked": ws_frame(2, b"", length=70000, len_form="64"),
        "unmasked_close": ws_frame(8, close_payload(1000), mask=None),
        "rsv_continuation": ws_frame(0, b"ab", fin=False, rsv=5),
        "len16_non_minimal": ws_frame(2, b"abc", len_form="16"),
        "len64_non_minimal": ws_frame(2, b"abc", len_form="64"),
        "len64_top_bit": ws_frame(2, b"", length=1 << 63, len_form="64"),
        "cut_mask": ws_frame(2, b"abc")[:4],
    }


def codec_seeds():
    return {
        "render": render_request(),
        "render_no_input": render_request(data=b""),
        "render_utf8_model": render_request(model="modèle-日本".encode()),
        "render_model_255": render_request(model=b"m" * 255, data=b""),
        "short": render_request()[:11],
        "only_request_id": render_request()[:8],
        "empty": b"",
        "type_2": render_request(mtype=2),
        "model_len_0": render_request(model=b"", model_len=0),
        "model_past_end": render_request(model=b"abc", model_len=200, data=b""),
        "flags_set": render_request(flags=1),
        "model_not_utf8": render_request(model=b"\xc0\xaf"),
        "model_surrogate": render_request(model=b"\xed\xa0\x80"),
        "model_cut_utf8": render_request(model=b"ab\xe6\x97", data=b""),
    }


# ----------------------------------------------------------------------------- ORCA trailer


def orca_double(num, v):
    return varint(num << 3 | 1) + struct.pack("<d", v)


def orca_seeds():
    """endpoint-load-metrics-bin values: base64 of an xds.data.orca.v3.OrcaLoadReport."""
    b64 = base64.b64encode
    full = orca_double(1, 0.5) + orca_double(6, 58.5) + orca_double(9, 1.25)
    others = (orca_double(2, 0.25) + pb_field(3, 0, 300) +
              pb_field(8, 2, pb_field(1, 2, b"q") + orca_double(2, 2.0)) + orca_double(7, 1.0))
    return {
        "full": b64(full),
        "full_unpadded": b64(full[:-1]).rstrip(b"="),
        "app_only": b64(orca_double(9, 0.75)),
        "other_fields": b64(others + orca_double(9, 0.75)),
        "empty": b"",
        "negative": b64(orca_double(9, -1.0)),
        "negative_zero": b64(orca_double(1, -0.0)),
        "nan": b64(orca_double(9, float("nan"))),
        "cut_double": b64(orca_double(9, 1.0)[:5]),
        "wrong_wire_type": b64(pb_field(9, 0, 5)),
        "not_base64": b"SQAA AAAAAOg/",
        "many_unknown": b64(pb_field(3, 0, 1) * 600),
    }


# ----------------------------------------------------------------------------- HTTP/1.1 heads


def http_seeds():
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    up = (b"GET /ws HTTP/1.1\r\nHost: localhost:8086\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n")
    seeds = {
        "upgrade": up + b"\r\n",
        "upgrade_subprotocol_origin": up + b"Sec-WebSocket-Protocol: chat, framegate.v1\r\n"
        b"Origin: http://localhost:8086\r\nAuthorization: Bearer secret\r\n\r\n",
        "upgrade_then_frame": up + b"\r\n" + ws_frame(2, render_request()),
        "upgrade_token_query": up.replace(b"/ws", b"/ws?token=secret&x=1") + b"\r\n",
        "upgrade_bad_key": up.replace(key, b"short==") + b"\r\n",
        "upgrade_no_key": up.replace(b"Sec-WebSocket-Key: " + key + b"\r\n", b"") + b"\r\n",
        "upgrade_version_8": up.replace(b"Version: 13", b"Version: 8") + b"\r\n",
        "health": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        "metrics_keepalive_twice": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2,
        "index_http10": b"GET / HTTP/1.0\r\n\r\n",
        "not_found": b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_with_body": b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "post_chunked": b"POST /ws HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "bad_request_line": b"GARBAGE\r\n\r\n",
        "folded_header": b"GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n",
        "many_headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n",
        "long_header": b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
        "split_header_values": b"GET /ws HTTP/1.1\r\nUpgrade: web\r\n" + b"Connection: keep-alive, Upgrade\r\n\r\n",
    }
    # With the policies of fuzz_http.c on: an Origin list (bit 0) and a token "secret" (bit 1).
    origin_ok, auth = b"Origin: https://good.example\r\n", b"Authorization: Bearer secret\r\n"
    policy_seeds = {
        "policy_origin_and_token_ok": (3, up + origin_ok + auth + b"\r\n" + ws_frame(2, render_request())),
        "policy_origin_forbidden": (1, up + b"Origin: https://evil.example\r\n\r\n"),
        "policy_origin_null": (3, up + b"Origin: null\r\n" + auth + b"\r\n"),
        "policy_origin_suffix": (1, up + b"Origin: https://good.example.evil\r\n\r\n"),
        "policy_no_origin_passes": (1, up + b"\r\n"),
        "policy_token_missing": (2, up + b"\r\n"),
        "policy_token_wrong": (2, up + b"Authorization: Bearer secreT\r\n\r\n"),
        "policy_token_basic": (2, up + b"Authorization: Basic secret\r\n\r\n"),
        "policy_token_query": (3, up.replace(b"/ws", b"/ws?a=1&token=secret") + origin_ok + b"\r\n"),
        "policy_token_query_prefix": (2, up.replace(b"/ws", b"/ws?token=secretx") + b"\r\n"),
        "policy_health_metrics_open": (3, b"GET /health HTTP/1.1\r\nOrigin: https://evil.example\r\n\r\n"
                                       b"GET /metrics HTTP/1.1\r\n\r\n"),
    }
    # Prefix: read size (0: all at once), policies (0: none).
    out = {k: (b"\x05" if k == "upgrade_then_frame" else b"\x00") + b"\x00" + v for k, v in seeds.items()}
    out.update({k: b"\x00" + bytes([policy]) + v for k, (policy, v) in policy_seeds.items()})
    return out


def client_hello(minimum, maximum, alpn, ciphers=None):
    """The first flight of a real client (Python's ssl on OpenSSL), as a server would read it."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if ciphers:
        ctx.set_ciphers(ciphers)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_seeds():
    """fuzz_tls: byte 0 feed size (0: all at once), then the client's bytes."""
    import ssl

    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    hello13 = client_hello(v12, v13, ["h2", "http/1.1"])
    seeds = {
        "hello_tls13_alpn": hello13,
        "hello_tls12_only": client_hello(v12, v12, ["http/1.1"], "ECDHE-ECDSA-AES128-GCM-SHA256"),
        "hello_h2_only": client_hello(v12, v13, ["h2"]),
        "hello_no_alpn": client_hello(v12, v13, None),
        "hello_then_garbage_record": hello13 + b"\x17\x03\x03\x00\x05hello",
        "plaintext_http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "alert_record": b"\x15\x03\x03\x00\x02\x02\x28",
        "record_too_long": b"\x16\x03\x01\xff\xff" + b"\x01" * 64,
    }
    out = {k: b"\x00" + v for k, v in seeds.items()}
    out["hello_tls13_7byte_feeds"] = b"\x07" + hello13
    return out


# ----------------------------------------------------------------------------- fuzz_cache


def cache_value(fmt=1, width=2, height=2, image=None, magic=b"FGC1", length=None):
    image = bytes(width * height * 3) if image is None else image
    n = len(image) if length is None else length
    return magic + struct.pack("<BBHHHI", fmt, 0, width, height, 0, n) + image


def cache_seeds():
    """Byte 0 even: a value (byte 1: image limit in KiB); odd: a --cache-redis URL."""
    v = lambda body, limit=64: bytes([0, limit]) + body  # noqa: E731
    u = lambda url: b"\x01" + url  # noqa: E731
    return {
        "value_rgb24": v(cache_value()),
        "value_rgba32": v(cache_value(2, 2, 1, bytes(8))),
        "value_jpeg": v(cache_value(3, 128, 64, b"\xff\xd8\xff\xe0" + bytes(60))),
        "value_short_image": v(cache_value(length=20)),
        "value_long_length": v(cache_value(length=1 << 31)),
        "value_bad_magic": v(cache_value(magic=b"FGC0")),
        "value_format_9": v(cache_value(fmt=9)),
        "value_over_limit": v(cache_value(3, 1, 1, bytes(2000)), 1),
        "value_header_only": v(cache_value(3, 1, 1, b"", length=0)),
        "url_plain": u(b"redis://127.0.0.1:6379"),
        "url_db": u(b"redis://localhost:6380/3"),
        "url_v6": u(b"redis://[::1]:6379/0"),
        "url_no_port": u(b"redis://cache.example"),
        "url_user": u(b"redis://user:pw@host:6379"),
        "url_port_0": u(b"redis://host:0"),
        "url_port_big": u(b"redis://host:65536"),
        "url_bad_db": u(b"redis://host:1/x"),
        "url_other_scheme": u(b"rediss://host:1"),
    }


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "corpus"
    for target, seeds in (("fuzz_reply", reply_seeds()), ("fuzz_ws", ws_seeds()),
                          ("fuzz_codec", codec_seeds()), ("fuzz_http", http_seeds()),
                          ("fuzz_orca", orca_seeds()), ("fuzz_tls", tls_seeds()),
                          ("fuzz_cache", cache_seeds()), ("fuzz_wsframe", wsframe_seeds())):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
        for name, data in seeds.items():
            (d / name).write_bytes(data)
        print(f"{d}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    main()
