"""Background WebSocket load for black-box tests that change the proxy under traffic.

LoadThread keeps `window` requests outstanding on one connection until stop(); then it waits
for the reply of every request it sent. It checks the contract's "exactly one reply per
request" as it goes (a duplicate or unknown reply is recorded as a failure) and keeps every
reply in arrival order, so a test can count frames per backend over time.
"""

import threading
import time

import websocket

from fgproxy import HOST, LINGER_S, assert_frame, describe, encode_request, parse_reply


class LoadThread(threading.Thread):
    def __init__(self, port, window=8, first_id=1, timeout=15.0):
        super().__init__(daemon=True)
        self.ws = websocket.create_connection(f"ws://{HOST}:{port}/ws", timeout=timeout)
        self.window = window
        self.next_id = first_id
        self.pending = set()
        self.replies = []  # (monotonic time, Reply) in arrival order
        self.problems = []
        self._halt = threading.Event()

    def run(self):
        try:
            while not (self._halt.is_set() and not self.pending):
                while not self._halt.is_set() and len(self.pending) < self.window:
                    self.ws.send_binary(encode_request(self.next_id, self.next_id))
                    self.pending.add(self.next_id)
                    self.next_id += 1
                opcode, data = self.ws.recv_data(control_frame=False)
                if opcode != websocket.ABNF.OPCODE_BINARY:
                    self.problems.append(f"opcode {opcode} {data[:40]!r}")
                    return
                r = parse_reply(data)
                if r.request_id not in self.pending:
                    self.problems.append(f"unexpected or duplicate reply: {describe(r)}")
                    continue
                self.pending.discard(r.request_id)
                self.replies.append((time.monotonic(), r))
            # Exactly-once: read on after the last reply; anything now is a duplicate.
            self.ws.settimeout(LINGER_S)
            try:
                opcode, data = self.ws.recv_data(control_frame=False)
                self.problems.append(f"a message after the last reply: {describe(parse_reply(data))}")
            except websocket.WebSocketTimeoutException:
                pass
        except Exception as e:  # recorded: the test reports it with what was lost
            self.problems.append(f"{type(e).__name__}: {e}")
        finally:
            try:
                self.ws.close(timeout=1)
            except Exception:
                pass

    def count_since(self, t0, backend=None):
        return sum(1 for t, r in list(self.replies) if t >= t0 and (backend is None or r.backend == backend))

    def finish(self, timeout=20.0):
        """Stop sending, wait for every outstanding reply; returns the replies (no times)."""
        self._halt.set()
        self.join(timeout)
        assert not self.is_alive(), f"load thread stuck with {len(self.pending)} replies missing"
        assert not self.problems, self.problems[:5]
        assert not self.pending, f"{len(self.pending)} requests never answered: {sorted(self.pending)[:10]}"
        return [r for _, r in self.replies]


def finish_all(loads, gone, since, what):
    """finish() every load and check each reply is a FRAME and none came from backend `gone`
    more than 1 s after `since` (when it was removed or killed; `what` names it in the
    failure). Returns the replies."""
    replies = []
    for t in loads:
        replies += t.finish()
    for r in replies:
        assert_frame(r)
    late = [r for t in loads for tm, r in t.replies if tm > since + 1.0 and r.backend == gone]
    assert not late, f"{len(late)} frames from {what}"
    return replies
