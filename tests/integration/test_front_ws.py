"""Issue 6 section 1 end to end: every RFC 6455 violation the issue lists gets close 1002 from
the real proxy, pings and pongs, fragmented messages with pings interleaved, close codes, nothing
processed after a close, and the keepalive (--ws-ping-ms). The same cases are unit tests of
fg_ws (tests/unit/front/test_fg_ws.c); here they go through the socket, fg_conn and wslay."""

import os
import socket
import struct
import time

import pytest

import fgtest
from fgproxy import (
    REQ_HDR,
    RawWS,
    assert_error,
    assert_frame,
    encode_request,
    http_get,
    parse_prometheus,
    one_backend_proxy,
    parse_reply,
    start_framegate,
    wait_proxy_health,
)

MAX_MESSAGE = 65536


@pytest.fixture(scope="module")
def gate(request):
    with one_backend_proxy(request, "--max-message", str(MAX_MESSAGE)) as (port, _):
        yield port


def masked(payload):
    key = os.urandom(4)
    return key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def expect_1002(w):
    assert w.close_code() == 1002
    assert w.eof_within(5), "proxy did not close the TCP connection after its close frame"


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcode_closes_1002(gate, opcode):
    with RawWS(gate) as w:
        w.send_frame(opcode, b"x")
        expect_1002(w)


@pytest.mark.parametrize("rsv", [1, 2, 3, 4, 5, 6, 7])
def test_reserved_bits_close_1002(gate, rsv):
    with RawWS(gate) as w:
        w.send_frame(2, encode_request(1, 1), rsv=rsv)
        expect_1002(w)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01",  # 64-bit length, top bit set
        b"\x82\xfe\x00\x05",  # 5 bytes in a 16-bit length
        b"\x82\xff\x00\x00\x00\x00\x00\x00\x00\x05",  # 5 bytes in a 64-bit length
        b"\x82\xff\x00\x00\x00\x00\x00\x00\x01\x00",  # 256 bytes in a 64-bit length
    ],
    ids=["len64-top-bit", "len16-non-minimal", "len64-non-minimal", "len64-for-256"],
)
def test_bad_length_encoding_closes_1002(gate, raw):
    with RawWS(gate) as w:
        body = masked(b"a" * 5)
        w.sock.sendall(raw + body)
        expect_1002(w)


def test_control_frames_and_continuations_close_1002(gate):
    cases = [
        dict(opcode=9, payload=b"p" * 126),  # ping over 125 bytes
        dict(opcode=10, payload=b"p" * 126),  # pong over 125 bytes
        dict(opcode=8, payload=struct.pack(">H", 1000) + b"r" * 124),  # close over 125
        dict(opcode=9, payload=b"ping", fin=False),  # fragmented ping
        dict(opcode=0, payload=b"orphan"),  # continuation with nothing to continue
    ]
    for c in cases:
        with RawWS(gate) as w:
            w.send_frame(**c)
            expect_1002(w)


def test_new_data_frame_inside_a_fragmented_message_closes_1002(gate):
    msg = encode_request(5, 6)
    with RawWS(gate) as w:
        w.send_frame(2, msg[:4], fin=False)
        w.send_frame(2, msg, fin=True)
        expect_1002(w)


def test_unmasked_frame_closes_1002(gate):
    with RawWS(gate) as w:
        w.send_frame(2, encode_request(1, 1), mask=False)
        expect_1002(w)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999])
def test_invalid_close_code_closes_1002(gate, code):
    with RawWS(gate) as w:
        w.send_frame(8, struct.pack(">H", code))
        expect_1002(w)


@pytest.mark.parametrize(
    "payload",
    [b"\x03", struct.pack(">H", 1000) + b"\xff", struct.pack(">H", 1000) + b"ok\xc0\xaf", struct.pack(">H", 1001) + b"\xed\xa0\x80"],
    ids=["1-byte", "reason-0xff", "reason-overlong", "reason-surrogate"],
)
def test_bad_close_frame_closes_1002(gate, payload):
    with RawWS(gate) as w:
        w.send_frame(8, payload)
        expect_1002(w)


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 3000, 4999])
def test_valid_close_code_is_answered(gate, code):
    with RawWS(gate) as w:
        w.send_frame(8, struct.pack(">H", code) + "gr\u00fc\u00df".encode())
        assert w.close_code() == code
        assert w.eof_within(5)


def test_ping_pong_same_payload_and_unsolicited_pong_ignored(gate):
    with RawWS(gate) as w:
        for payload in (b"", b"abc", bytes(range(125))):
            w.send_frame(9, payload)
            fin, rsv, op, got = w.read_frame()
            assert (fin, rsv, op, got) == (True, 0, 0xA, payload)
        w.send_frame(10, b"unsolicited")
        w.send_frame(2, encode_request(7, 8))
        assert_frame(w.recv_reply(), request_id=7, frame=8)


def test_fragmented_up_to_max_message_with_pings_interleaved(gate):
    msg = encode_request(9, 10, data=b"\2" * (MAX_MESSAGE - REQ_HDR.size - len("sanders")))
    assert len(msg) == MAX_MESSAGE
    pieces = [msg[i : i + 10000] for i in range(0, len(msg), 10000)]
    with RawWS(gate) as w:
        for i, piece in enumerate(pieces):
            w.send_frame(2 if i == 0 else 0, piece, fin=i == len(pieces) - 1)
            w.send_frame(9, b"p%d" % i)
        pongs = []
        for _ in pieces:
            fin, rsv, op, payload = w.read_frame()
            assert op == 0xA, f"expected a pong, got opcode {op}"
            pongs.append(payload)
        assert pongs == [b"p%d" % i for i in range(len(pieces))]
        assert_frame(w.recv_reply(), request_id=9, frame=10)


def test_client_not_reading_gets_every_reply_intact_and_pongs_in_order(gate):
    """A reply is written straight from the backend's buffer (one writev) only while wslay holds
    nothing for the client. A client that stops reading fills the socket: partial writes, replies
    queued behind pongs and behind each other (those go in fragments), reading paused at the
    high-water mark. Every request still gets its one intact reply (FRAME, or ERROR 8 past
    --max-inflight) and every ping its pong, in order."""
    n = 600  # up to 14 MiB of images: far more than the socket buffers hold
    with RawWS(gate) as w:
        for i in range(n):
            w.send_frame(2, encode_request(i + 1, i, data=b"\1" * 100))
            if i % 10 == 0:
                w.send_frame(9, b"p%d" % i)
            if i % 50 == 49:
                time.sleep(0.05)  # let the backend answer: replies pile up unread
        time.sleep(0.5)
        ids, pongs, frames = [], [], 0
        message = None  # a reply queued behind control frames comes in fragments (RFC 6455 5.4)
        while len(ids) < n or len(pongs) < n // 10:
            fin, rsv, op, payload = w.read_frame()
            assert rsv == 0
            if op == 0xA:
                assert fin
                pongs.append(payload)
                continue
            if message is None:
                assert op == 2, f"unexpected opcode {op}"
                message = payload
            else:
                assert op == 0, f"opcode {op} inside a fragmented reply"
                message += payload
            if not fin:
                continue
            r, message = parse_reply(message), None
            if r.type == 3 and r.status == 8:
                assert_error(r, 8, request_id=r.request_id, frame=r.request_id - 1)
            else:
                assert_frame(r, request_id=r.request_id, frame=r.request_id - 1)
                frames += 1
            ids.append(r.request_id)
        assert sorted(ids) == list(range(1, n + 1))
        assert pongs == [b"p%d" % i for i in range(0, n, 10)]
        assert frames >= 64  # one --max-inflight window at least


def test_nothing_processed_after_a_close(gate):
    with RawWS(gate) as w:
        # A close, then a request and a ping in the same segment: neither is answered.
        w.sock.sendall(
            bytes([0x88, 0x82]) + masked(struct.pack(">H", 1000))
            + bytes([0x82, 0x80 | len(encode_request(1, 1))]) + masked(encode_request(1, 1))
            + bytes([0x89, 0x81]) + masked(b"p")
        )
        fin, rsv, op, payload = w.read_frame()
        assert op == 8 and struct.unpack(">H", payload[:2])[0] == 1000, (op, payload)
        assert w.eof_within(5), "proxy sent more after its close frame or did not close"
        assert w.buf == b"", f"bytes after the close frame: {w.buf!r}"


def test_after_our_close_later_frames_are_ignored(gate):
    with RawWS(gate) as w:
        w.send_frame(1, b"text")  # answered 1003
        w.send_frame(2, encode_request(1, 1))  # not served
        w.send_frame(2, encode_request(1, 1), rsv=1)  # no second close
        fin, rsv, op, payload = w.read_frame()
        assert op == 8 and struct.unpack(">H", payload[:2])[0] == 1003, (op, payload)
        w.send_frame(8, struct.pack(">H", 1000))
        assert w.eof_within(5)
        assert w.buf == b"", f"bytes after the close frame: {w.buf!r}"


# ----------------------------------------------------------------------------- keepalive


def test_keepalive_pings_idle_clients_and_closes_silent_ones(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    _, port = start_framegate(procs, [addr], "--ws-ping-ms", "300", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    with RawWS(port) as silent, RawWS(port) as alive:
        t0 = time.monotonic()
        # The answering client: pong every ping, for well over three periods.
        alive.sock.settimeout(0.1)
        pings = 0
        while time.monotonic() - t0 < 2.0:
            try:
                fin, rsv, op, payload = alive.read_frame()
            except socket.timeout:
                continue
            assert op == 9, f"expected a ping, got opcode {op}"
            pings += 1
            alive.send_frame(10, payload)
        assert pings >= 2, f"only {pings} pings in 2 s with --ws-ping-ms 300"
        alive.sock.settimeout(5)
        alive.send_frame(2, encode_request(3, 4))
        assert_frame(alive.recv_reply(), request_id=3, frame=4)
        # The silent one got a ping and was closed.
        silent.sock.settimeout(5)
        fin, rsv, op, payload = silent.read_frame()
        assert op == 9, f"expected a ping, got opcode {op}"
        assert silent.eof_within(5), "a client that never answers was not closed"
        took = time.monotonic() - t0
        assert took < 2.0 + 1.5, f"silent client closed only after {took:.1f}s"
    # Counted in /metrics: the silent client only, not the one that answered.
    status, _, body = http_get(port, "/metrics")
    assert status == 200
    samples = parse_prometheus(body.decode())["framegate_ws_keepalive_closes_total"]["samples"]
    assert samples[0][2] == 1, samples


def test_keepalive_tick_inside_a_frame_or_message_keeps_its_state(procs):
    """At a keepalive tick an idle session drops wslay's context (fg_ws_rest); a tick that falls
    inside a frame's header or between the fragments of a message must not: the rest of the
    frame and the last fragment still make one request, answered once."""
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    _, port = start_framegate(procs, [addr], "--ws-ping-ms", "300", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")

    def reply_skipping_pings(w):
        while True:
            fin, rsv, op, payload = w.read_frame()
            if op != 9:
                assert op == 2, f"expected a binary reply, got opcode {op}"
                return parse_reply(payload)

    msg = encode_request(5, 6)
    with RawWS(port) as w:
        w.send_frame(2, msg)  # a first request: the session has been used, then rests
        assert_frame(reply_skipping_pings(w), request_id=5, frame=6)
        time.sleep(0.45)  # a tick or more with the session between messages
        w.send_frame(2, encode_request(7, 8), fin=False)  # first fragment only: 36 bytes
        time.sleep(0.45)  # a tick with the message open (its bytes changed since the last)
        w.send_frame(0, b"", fin=True)
        assert_frame(reply_skipping_pings(w), request_id=7, frame=8)
        # Inside a frame header: the tick sees 2 of its bytes.
        masked = bytes([0x82, 0x80 | len(msg)]) + b"\0\0\0\0" + msg
        w.sock.sendall(masked[:2])
        time.sleep(0.45)
        w.sock.sendall(masked[2:])
        assert_frame(reply_skipping_pings(w), request_id=5, frame=6)
