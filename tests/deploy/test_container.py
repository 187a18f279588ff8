"""Issue 13, the container image: deploy/container/build-image.sh builds it from Debian packages
only (mmdebstrap from the Debian archive + podman import: no registry base image), into a
private podman store in the test's folder; then frameserver and framegate run from the image
(host network, free loopback ports) and a frame goes through them; both containers stop with
exit status 0. The image holds no compiler, no apt, and runs as nobody."""

import os
import shlex
import shutil
import subprocess
import tempfile
import time

import fgtest
from fgproxy import Client, assert_frame, wait_proxy_health

TAG = "localhost/framegate:test"


def podman_cmd(tmp_path, runroot):
    # A private store (vfs: works on any file system); runc with cgroupfs and lowered rlimits
    # run in sandboxes where crun or systemd cgroups do not, and on ordinary hosts alike.
    # podman wants a runroot path shorter than 50 characters.
    return ["podman", "--root", str(tmp_path / "store"), "--runroot", runroot,
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--runtime", "runc"]


RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=1024:1024"]


def test_image_from_debian_packages_runs(procs, tmp_path):
    for tool in ("podman", "mmdebstrap", "runc"):
        assert shutil.which(tool), f"{tool} missing (scripts/deps.sh test installs it)"
    runroot = tempfile.mkdtemp(prefix="fgpm-")
    try:
        run_image_test(procs, tmp_path, podman_cmd(tmp_path, runroot))
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def run_image_test(procs, tmp_path, podman):
    script = fgtest.source_dir() / "deploy" / "container" / "build-image.sh"
    env = dict(os.environ, PODMAN=shlex.join(podman))
    t0 = time.monotonic()
    r = subprocess.run([str(script), str(fgtest.build_dir()), TAG, str(tmp_path / "rootfs.tar")],
                       capture_output=True, text=True, env=env, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    built_s = time.monotonic() - t0
    cfg = subprocess.run(podman + ["image", "inspect", "--format", "{{.Config.User}} {{.Config.ExposedPorts}}", TAG],
                         capture_output=True, text=True, timeout=60)
    assert cfg.returncode == 0 and cfg.stdout.startswith("65534:65534"), cfg.stdout + cfg.stderr
    for absent in ("/usr/bin/gcc", "/usr/bin/apt"):
        r = subprocess.run(podman + ["run", "--rm", *RUN_FLAGS, TAG, "test", "!", "-e", absent],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{absent} in the image: {r.stderr}"

    fs_port, ws_port = fgtest.free_port_range(2), None
    ws_port = fs_port + 1
    fs = procs.start(podman + ["run", "--rm", "--name", "fgtest-fs", *RUN_FLAGS, TAG,
                               "frameserver", "--host", "127.0.0.1", "--port", fs_port, "--load-ms", "0"],
                     name="podman-frameserver")
    fgtest.wait_health(f"127.0.0.1:{fs_port}", timeout=30)
    gate = procs.start(podman + ["run", "--rm", "--name", "fgtest-fg", *RUN_FLAGS, TAG,
                                 "framegate", "--host", "127.0.0.1", "--ws-port", ws_port,
                                 "--grpc-addrs", f"127.0.0.1:{fs_port}", "--log-frames", "off"],
                     name="podman-framegate")
    fgtest.wait_tcp("127.0.0.1", ws_port, 30)
    wait_proxy_health(ws_port, lambda h: h["healthy_count"] == 1)
    with Client(ws_port) as cl:
        r = cl.call(1, 1)
    assert_frame(r)
    # podman stop sends SIGTERM to the program; podman run exits with its status.
    for name, p in (("fgtest-fg", gate), ("fgtest-fs", fs)):
        subprocess.run(podman + ["stop", "-t", "10", name], capture_output=True, timeout=60)
        assert p.wait(30) == 0, p.log()[-2000:]
    subprocess.run(podman + ["rmi", "-f", TAG], capture_output=True, timeout=120)
    print(f"CONTAINER: image built from Debian packages in {built_s:.0f} s; a frame served through it")
