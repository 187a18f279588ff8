"""DNS for the discovery tests, on loopback only: Debian's dnsmasq serving a hosts file (and SRV
records) on a free port, and TinyDNS, a small UDP server in the test that answers A queries
right, never, with garbage or with NXDOMAIN, as the test switches it."""

import signal
import socket
import struct
import threading
import time

import fgtest

DNSMASQ = "/usr/sbin/dnsmasq"


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both)."""
    for _ in range(50):
        port = fgtest.free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((fgtest.HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP+TCP port")


class Dnsmasq:
    """dnsmasq on 127.0.0.1:port answering from `hosts` (a file; set_hosts() rewrites it and
    makes dnsmasq re-read it with SIGHUP) and from the given --srv-host records. Nothing is
    forwarded upstream; answers carry TTL 0, so every query sees the current file."""

    def __init__(self, group, tmp_path, hosts_text, srv=(), name="dnsmasq"):
        self.port = free_udp_tcp_port()
        self.hosts = tmp_path / f"{name}.hosts"
        self.hosts.write_text(hosts_text)
        args = [
            DNSMASQ, "--keep-in-foreground", f"--port={self.port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts}",
            "--user=root", "--pid-file=", "--log-facility=-", "--conf-file=/dev/null",
        ]
        args += [f"--srv-host={r}" for r in srv]
        self.proc = group.start(args, name=name)
        self.proc.wait_log(r"read .* - \d+ (names|addresses)", 10)
        fgtest.wait_tcp(fgtest.HOST, self.port, 10)

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def set_hosts(self, text):
        before = self.proc.log().count(f"read {self.hosts}")
        tmp = self.hosts.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.rename(self.hosts)
        self.proc.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while self.proc.log().count(f"read {self.hosts}") <= before:
            assert time.monotonic() < deadline, f"dnsmasq did not re-read its hosts:\n{self.proc.log()}"
            time.sleep(0.02)

    def stop(self):
        """Stops dnsmasq; it must exit 0 on SIGTERM (it ran without error)."""
        rc = self.proc.stop()
        assert rc == 0, f"dnsmasq exited {rc}:\n{self.proc.log()[-2000:]}"


def frameserver_at(group, ip, port, *flags):
    """A frameserver listening on ip:port (a 127.0.0.x address); waits for SERVING."""
    args = [fgtest.binary(fgtest.FRAMESERVER), "--host", ip, "--port", str(port), "--load-ms", "0"]
    p = group.start(args + [str(f) for f in flags], name=f"frameserver-{ip}-{port}")
    p.wait_log(fgtest.LISTEN_RE, 10.0)
    addr = f"{ip}:{port}"
    fgtest.wait_health(addr)
    return p, addr


class TinyDNS(threading.Thread):
    """A UDP DNS server on 127.0.0.1 for failure tests. mode:
    "ok"       A records from self.addresses (AAAA: no data),
    "silent"   no answer at all (the resolver times out),
    "garbage"  the query's id and question, then an answer record cut short (unparseable),
    "nxdomain" rcode 3."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((fgtest.HOST, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.mode = "ok"
        self.addresses = []
        self.queries = 0
        self._halt = threading.Event()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def run(self):
        while not self._halt.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.queries += 1
            reply = self.answer(q)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, q):
        if len(q) < 12 or self.mode == "silent":
            return None
        end = 12
        while end < len(q) and q[end] != 0:
            end += 1 + q[end]
        end += 5  # the root label, qtype, qclass
        question = q[12:end]
        qtype = struct.unpack(">H", q[end - 4:end - 2])[0]
        qid = q[:2]
        if self.mode == "nxdomain":
            return qid + struct.pack(">HHHHH", 0x8183, 1, 0, 0, 0) + question
        if self.mode == "garbage":
            return qid + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + question + b"\xc0\x0c\x00"
        answers = b""
        n = 0
        if qtype == 1:
            for a in self.addresses:
                answers += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(a)
                n += 1
        return qid + struct.pack(">HHHHH", 0x8180, 1, n, 0, 0) + question + answers

    def stop(self):
        self._halt.set()
        self.join(2)
        self.sock.close()
