"""Issue 13, deploy/k8s: every manifest validates against the Kubernetes API schemas
(kubernetes-models from npm, offline), `kubectl kustomize` builds the whole set when kubectl is
installed (Debian: kubernetes-client), and the manifests keep the promises docs/deploy.md makes:
readiness on /health, a liveness probe, preStop + --drain-ms within
terminationGracePeriodSeconds, resource requests, Prometheus scrape annotations, a headless
frameserver Service with a gRPC health probe and the SRV port name framegate resolves, PDBs and
an HPA on a framegate metric."""

import os
import re
import shutil
import subprocess

import fgtest
import pytest
import yaml

K8S = fgtest.source_dir() / "deploy" / "k8s"


def docs():
    out = {}
    for f in sorted(K8S.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d and d.get("kind") != "Kustomization":
                out[(d["kind"], d["metadata"]["name"])] = d
    return out


def test_schema_valid(tmp_path):
    setup = fgtest.source_dir() / "tests" / "interop" / "npm-setup.sh"
    r = subprocess.run([str(setup), str(fgtest.build_dir()), "k8s", "kubernetes-models@5", "yaml@2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"npm-setup.sh failed:\n{r.stderr}"
    env = dict(os.environ, NODE_PATH=r.stdout.strip().splitlines()[-1])
    files = [str(f) for f in sorted(K8S.glob("*.yaml"))]
    script = str(fgtest.source_dir() / "tests" / "deploy" / "validate_k8s.mjs")
    r = subprocess.run(["node", script, *files], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") == len(docs()), r.stdout
    # The validator catches a wrong type (so a pass means something).
    broken = tmp_path / "broken.yaml"
    broken.write_text((K8S / "frameserver.yaml").read_text().replace("port: 50051", "port: fifty"))
    r = subprocess.run(["node", script, str(broken)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and "must be integer" in r.stdout, r.stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (Debian: kubernetes-client)")
def test_kustomize_builds():
    r = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    built = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert {(d["kind"], d["metadata"]["name"]) for d in built} == set(docs())
    for d in built:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "framegate", d["metadata"]


def container(deploy):
    return deploy["spec"]["template"]["spec"]["containers"][0]


def test_manifests_keep_the_promises():
    d = docs()
    fg = d[("Deployment", "framegate")]
    c = container(fg)
    args = " ".join(c["command"])
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "livenessProbe" in c
    drain_s = int(re.search(r"--drain-ms[= ](\d+)", args).group(1)) / 1000
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre[0] == "sleep"
    grace = fg["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert int(pre[1]) + drain_s < grace, "preStop + --drain-ms must fit in the grace period"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    ann = fg["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
    assert ann["prometheus.io/port"] == str(c["ports"][0]["containerPort"])

    svc = d[("Service", "frameserver")]
    assert svc["spec"]["clusterIP"] == "None"
    port_name = svc["spec"]["ports"][0]["name"]
    assert f"dns+srv:///_{port_name}._tcp.frameserver" in args
    fs = container(d[("Deployment", "frameserver")])
    fs_port = fs["ports"][0]["containerPort"]
    assert fs["readinessProbe"]["grpc"]["port"] == fs_port and fs["livenessProbe"]["grpc"]["port"] == fs_port
    assert str(fs_port) in " ".join(fs["command"])

    for name in ("framegate", "frameserver"):
        pdb = d[("PodDisruptionBudget", name)]
        assert pdb["spec"]["selector"]["matchLabels"] == d[("Deployment", name)]["spec"]["selector"]["matchLabels"]
    hpa = d[("HorizontalPodAutoscaler", "framegate")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "framegate"
    metric_names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert metric_names and all(n.startswith("framegate_") for n in metric_names)
