"""Certificates for the TLS tests, made with the openssl CLI in a temporary folder, and TLS
clients of the proxy (wss with websocket-client, https with http.client, grpcs with grpcio).

Certs(dir) makes: a test CA ("ca"), a second CA nobody trusts ("rogue_ca"); leaf certificates
for localhost/127.0.0.1 signed by the CA ("server", "server2" for reloads, "client" for mTLS),
one signed by the rogue CA ("rogue"), one for another name ("othername") and one that expired
in 2020 ("expired"). Each leaf is NAME.pem + NAME.key.
"""

import http.client
import re
import ssl
import subprocess
from pathlib import Path

import websocket

import fgtest
from fgproxy import HOST, Client

SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1"

CA_CONF = """
[ca]
default_ca = test
[test]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
"""


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


class Certs:
    def __init__(self, d):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ca("ca", "framegate test CA")
        self._ca("rogue_ca", "nobody's CA")
        self.leaf("server", "localhost")
        self.leaf("server2", "localhost")
        self.leaf("client", "test client")
        self.leaf("rogue", "localhost", ca="rogue_ca")
        self.leaf("othername", "other.example", san="subjectAltName=DNS:other.example")
        self._expired("expired")

    def pem(self, name):
        return str(self.dir / f"{name}.pem")

    def key(self, name):
        return str(self.dir / f"{name}.key")

    def _ca(self, name, cn):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={cn}", cwd=self.dir)

    def _csr(self, name, cn, san):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={cn}", "-addext", san, cwd=self.dir)

    def leaf(self, name, cn, ca="ca", san=SAN):
        self._csr(name, cn, san)
        (self.dir / f"{name}.ext").write_text(san + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile",
                 f"{name}.ext", cwd=self.dir)

    def _expired(self, name):
        """Valid from 2020-01-01 to 2020-01-02: `openssl ca` takes explicit dates."""
        self._csr(name, "localhost", SAN)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "ca.cnf").write_text(CA_CONF.format(dir=self.dir))
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                 "-in", f"{name}.csr", "-out", f"{name}.pem", "-startdate", "20200101000000Z",
                 "-enddate", "20200102000000Z", "-notext", cwd=self.dir)


def client_context(certs, cert=None, alpn=("http/1.1",)):
    """A TLS client context trusting the test CA; cert: a leaf name to present (mTLS)."""
    ctx = ssl.create_default_context(cafile=certs.pem("ca"))
    if cert:
        ctx.load_cert_chain(certs.pem(cert), certs.key(cert))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class WssClient(Client):
    """fgproxy.Client over wss:// (websocket-client with the test CA)."""

    def __init__(self, port, certs, cert=None, timeout=10.0, header=None):
        sslopt = {"ca_certs": certs.pem("ca")}
        if cert:
            sslopt.update(certfile=certs.pem(cert), keyfile=certs.key(cert))
        self.ws = websocket.create_connection(f"wss://{HOST}:{port}/ws", timeout=timeout,
                                              sslopt=sslopt, header=header or [])

    def peer_cert(self):
        """The DER certificate the proxy presented on this connection."""
        return self.ws.sock.getpeercert(binary_form=True)


def https_get(port, path, certs, cert=None, timeout=5.0):
    """(status, headers dict lowercased, body bytes, negotiated ALPN) of GET path over TLS."""
    conn = http.client.HTTPSConnection(HOST, port, timeout=timeout,
                                       context=client_context(certs, cert, ("h2", "http/1.1")))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        alpn = conn.sock.selected_alpn_protocol()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, alpn
    finally:
        conn.close()


def metric(text, name):
    """The value of an unlabelled framegate_NAME sample in a /metrics body."""
    m = re.search(rf"^framegate_{name} (\S+)$", text, re.M)
    assert m, f"no framegate_{name} in /metrics"
    return float(m.group(1))


def metrics(port, certs):
    status, _, body, _ = https_get(port, "/metrics", certs)
    assert status == 200
    return body.decode()


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


def grpcs_health(addr, certs, cert=None, timeout=2.0):
    """Health/Check over grpcs with grpcio (trusting the test CA): the status name."""
    import grpc

    p = fgtest.protos()
    key = Path(certs.key(cert)).read_bytes() if cert else None
    chain = Path(certs.pem(cert)).read_bytes() if cert else None
    creds = grpc.ssl_channel_credentials(Path(certs.pem("ca")).read_bytes(), key, chain)
    with grpc.secure_channel(addr, creds) as ch:
        stub = p.health_pb2_grpc.HealthStub(ch)
        try:
            r = stub.Check(p.health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name
    return p.health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
