"""TLS on the viewer's own listener (web.tls_cert_file / web.tls_key_file): pages and large raw
downloads over https with a certificate the test makes, the client's address still seen by the
sign-in gate, Secure cookies, plain HTTP on the TLS port refused without harm, and bad
certificate settings refused at start."""
import hashlib
import http.client
import os
import socket
import ssl
import subprocess
import urllib.parse

import pytest

from conftest import BIN
from oidc_test_provider import ScriptedProvider
from test_web_oidc import CLIENT_ID, CLIENT_SECRET, write_config

KEY = "AliceO2Group/AliceO2/14473/latest/build_O2_o2/fullLog.txt"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return str(d / "cert.pem"), str(d / "key.pem")


def https(server, cert_file, path, headers=None, source="127.0.0.1"):
    u = urllib.parse.urlsplit(server.web)
    assert u.scheme == "https"
    ctx = ssl.create_default_context(cafile=cert_file)
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx,
                                       source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Accept": "text/html", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read(), r.getheaders()
    finally:
        conn.close()


def test_pages_and_large_downloads_over_tls(server_factory, cert):
    s = server_factory(extra_args=["--web-tls-cert", cert[0], "--web-tls-key", cert[1]]).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    big = os.urandom(20 << 20)
    c.put_object(Bucket="alice-build-logs", Key=KEY, Body=b"line one\nsrc/a.cc:1:2: error: boom\n",
                 ContentType="text/plain")
    c.put_object(Bucket="alice-build-logs", Key="big.bin", Body=big)
    status, body, _ = https(s, cert[0], "/alice-build-logs/" + KEY)
    assert status == 200 and b"error: boom" in body
    status, body, _ = https(s, cert[0], "/alice-build-logs/big.bin?raw")
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    # Keep-alive: several requests on one TLS connection.
    u = urllib.parse.urlsplit(s.web)
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=30,
                                       context=ssl.create_default_context(cafile=cert[0]))
    for _ in range(5):
        conn.request("GET", "/_health")
        r = conn.getresponse()
        assert r.status == 200
        r.read()
    conn.close()
    # Plain HTTP to the TLS port gets nowhere and harms nothing.
    with socket.create_connection((u.hostname, u.port), timeout=10) as raw:
        raw.sendall(b"GET /alice-build-logs/" + KEY.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            reply = raw.recv(65536)
        except OSError:
            reply = b""
    assert b"error: boom" not in reply
    assert https(s, cert[0], "/_health")[0] == 200
    # A client that does not trust the certificate is refused by its own TLS check.
    with pytest.raises(ssl.SSLError):
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10,
                                           context=ssl.create_default_context())
        conn.request("GET", "/_health")


def test_the_gate_still_sees_the_client_address(server_factory, cert):
    s = server_factory(extra_args=["--web-tls-cert", cert[0], "--web-tls-key", cert[1],
                                   "--auth", "proxy", "--auth-trusted-proxy", "127.0.0.2/32",
                                   "--require-role", "alice-member"]).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    c.put_object(Bucket="alice-build-logs", Key=KEY, Body=b"secret line\n", ContentType="text/plain")
    member = {"OIDC_CLAIM_sub": "alice", "OIDC_CLAIM_cern_roles": "alice-member"}
    status, body, _ = https(s, cert[0], "/alice-build-logs/" + KEY, member, source="127.0.0.2")
    assert status == 200 and b"secret line" in body
    status, body, _ = https(s, cert[0], "/alice-build-logs/" + KEY, member, source="127.0.0.1")
    assert status == 401 and b"secret line" not in body
    assert "ignored identity headers from 127.0.0.1" in s.read_log()


def test_oidc_cookies_are_secure_over_tls(server_factory, cert, tmp_path):
    import test_web_oidc
    port = test_web_oidc.free_port()
    provider = ScriptedProvider(CLIENT_ID, CLIENT_SECRET, "https://127.0.0.1:%d/_auth/callback" % port).start()
    try:
        cfg = tmp_path / "v.toml"
        write_config(cfg, provider.issuer, "https://127.0.0.1:%d" % port)
        s = server_factory(extra_args=["--config", str(cfg), "--web-tls-cert", cert[0],
                                       "--web-tls-key", cert[1]],
                           web_listen="127.0.0.1:%d" % port).start()
        status, _, headers = https(s, cert[0], "/_auth/login?go=1&return_to=%2F")
        assert status == 302
        cookies = [v for k, v in headers if k.lower() == "set-cookie"]
        assert cookies and all("; Secure" in c for c in cookies), cookies
    finally:
        provider.stop()


def test_bad_tls_settings_refuse_to_start(cert, tmp_path):
    other_key = tmp_path / "other.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(other_key)], check=True, capture_output=True, timeout=60)
    for args, expected in [
        (["--web-tls-cert", cert[0]], "go together"),
        (["--web-tls-cert", str(tmp_path / "missing.pem"), "--web-tls-key", cert[1]], "missing.pem"),
        (["--web-tls-cert", cert[0], "--web-tls-key", str(other_key)], "key values mismatch"),
    ]:
        r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--s3-listen", "127.0.0.1:0",
                            "--web-listen", "127.0.0.1:0", *args], capture_output=True, text=True, timeout=60)
        assert r.returncode in (1, 2) and expected in r.stderr, (args, r.stderr)
