"""Issue 13, deploy/systemd: framegate.service and frameserver@.service (instance = port) pass
`systemd-analyze verify` without a single warning (binary paths pointed at the build), their
sandboxing rates "OK" in `systemd-analyze security --offline`, and each ExecStart, run as
written (ports and paths substituted), starts a working server; framegate's ExecReload signal
re-reads the backends file and its stop signal drains and exits 0 within TimeoutStopSec."""

import re
import shlex
import shutil
import signal
import subprocess

import fgtest
from fgproxy import Client, assert_frame, start_framegate, wait_proxy_health  # noqa: F401

UNITS = fgtest.source_dir() / "deploy" / "systemd"
BINS = {"framegate": "src/proxy/framegate", "frameserver": "src/server/frameserver"}
MAX_EXPOSURE = 2.0  # systemd-analyze's "OK" band starts below this


def unit_for_test(name, tmp_path):
    """The shipped unit with /usr/local/bin/X replaced by the built X."""
    text = (UNITS / name).read_text()
    for prog, rel in BINS.items():
        text = text.replace(f"/usr/local/bin/{prog}", str(fgtest.binary(rel)))
    out = tmp_path / name
    out.write_text(text)
    return out, text


def setting(text, key):
    return [m.group(1) for m in re.finditer(rf"(?m)^{key}=(.*)$", text)]


def analyze(*args):
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


def test_units_verify_clean_and_sandboxed(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (Debian package systemd)"
    for name in ("framegate.service", "frameserver@.service"):
        path, text = unit_for_test(name, tmp_path)
        r = analyze("verify", "--man=no", "--generators=no", str(path))
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), (name, r.stdout, r.stderr)
        for key, want in (("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes")):
            assert setting(text, key) == [want], (name, key)
        r = analyze("security", "--offline=yes", "--no-pager", str(path))
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
        assert m, r.stdout[-500:] + r.stderr[-500:]
        assert float(m.group(1)) < MAX_EXPOSURE, f"{name}: exposure {m.group(1)}"
    # A deliberately broken copy must be caught, or the check above proves nothing.
    bad = tmp_path / "broken.service"
    bad.write_text(text.replace("[Service]", "[Service]\nExecStrat=/bin/true"))
    r = analyze("verify", "--man=no", "--generators=no", str(bad))
    assert "ExecStrat" in r.stderr


def exec_start(text, **subst):
    line = setting(text, "ExecStart")[0]
    for k, v in subst.items():
        line = line.replace(k, v)
    return shlex.split(line)


def test_exec_start_reload_and_stop_as_written(procs, tmp_path):
    _, fs_text = unit_for_test("frameserver@.service", tmp_path)
    port_a, port_b = fgtest.free_port_range(2), None
    port_b = port_a + 1
    servers = []
    for port in (port_a, port_b):
        argv = exec_start(fs_text, **{"${FRAMESERVER_HOST}": "127.0.0.1", "%i": str(port), "$FRAMESERVER_OPTS": "--load-ms 0"})
        servers.append(procs.start(argv, name=f"frameserver@{port}"))
        fgtest.wait_health(f"127.0.0.1:{port}")

    _, fg_text = unit_for_test("framegate.service", tmp_path)
    backends = tmp_path / "backends.txt"
    backends.write_text(f"127.0.0.1:{port_a}\n")
    ws_port = fgtest.free_port()
    argv = exec_start(
        fg_text,
        **{"/etc/framegate/backends.txt": str(backends), "--ws-port 8086": f"--ws-port {ws_port}",
           "$FRAMEGATE_OPTS": "--host 127.0.0.1 --log-frames off --health-interval-ms 100"},
    )
    gate = procs.start(argv, name="framegate")
    fgtest.wait_tcp("127.0.0.1", ws_port)
    wait_proxy_health(ws_port, lambda h: h["healthy_count"] == 1)
    # ExecReload: /bin/kill -HUP $MAINPID
    assert setting(fg_text, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    backends.write_text(f"127.0.0.1:{port_a}\n127.0.0.1:{port_b}\n")
    gate.signal(signal.SIGHUP)
    wait_proxy_health(ws_port, lambda h: h["healthy_count"] == 2, what="both backends after reload")
    with Client(ws_port) as cl:
        assert_frame(cl.call(1, 1))
    # systemctl stop: KillSignal, then the drain must end within TimeoutStopSec.
    stop_s = int(setting(fg_text, "TimeoutStopSec")[0])
    drain_ms = int(re.search(r"--drain-ms (\d+)", setting(fg_text, "ExecStart")[0]).group(1))
    assert drain_ms / 1000 < stop_s, "TimeoutStopSec must exceed --drain-ms"
    gate.signal(getattr(signal, setting(fg_text, "KillSignal")[0]))
    assert gate.wait(stop_s) == 0
    for s in servers:
        assert s.stop() == 0
