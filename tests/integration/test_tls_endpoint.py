"""An https S3 endpoint signed by a site's own CA (nginx terminating TLS in front of logbucket, as
a production store sits behind a TLS proxy): push, the admin commands and the remote viewer trust
it only when given the CA (--ca-bundle, AWS_CA_BUNDLE, store.ca_bundle), and say so when not,
without retrying a failure that retrying cannot fix."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import BIN, free_port
from test_remote_store import RemoteViewer

BUCKET = "alice-build-logs"


@pytest.fixture
def tls_endpoint(server):
    """(https URL of an nginx proxy to `server`'s S3 port, the CA file that signed it)."""
    work = tempfile.mkdtemp(prefix="lb-tls-")
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", work + "/key.pem", "-out", work + "/cert.pem", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    upstream = server.endpoint[7:]
    with open(work + "/nginx.conf", "w") as f:
        f.write("""
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %(w)s/body; proxy_temp_path %(w)s/proxy; fastcgi_temp_path %(w)s/fcgi;
  uwsgi_temp_path %(w)s/uwsgi; scgi_temp_path %(w)s/scgi;
  server {
    listen 127.0.0.1:%(p)d ssl;
    ssl_certificate %(w)s/cert.pem;
    ssl_certificate_key %(w)s/key.pem;
    client_max_body_size 0;
    location / {
      proxy_pass http://%(u)s;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
""" % {"w": work, "p": port, "u": upstream})
    proc = subprocess.Popen(["nginx", "-c", work + "/nginx.conf", "-g", "daemon off;"],
                            stderr=open(work + "/nginx.out", "w"))
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, open(work + "/nginx.out").read()
            time.sleep(0.05)
    try:
        yield "https://127.0.0.1:%d" % port, work + "/cert.pem"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def run(server, *args, cwd=None, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"]})
    env.update(extra_env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_push_and_admin_commands_trust_the_site_ca_only_when_given(server, s3, tls_endpoint, tmp_path):
    url, ca = tls_endpoint
    log_dir = tmp_path / "sw" / "BUILD" / "O2-latest"
    log_dir.mkdir(parents=True)
    (log_dir / "log").write_text("building O2\nsrc/a.cc:3:1: error: expected ';'\n")
    push = ["push", "--pr", "AliceO2Group/AliceO2#1@0123456789abcdef0123456789abcdef01234567",
            "--check", "build/O2/o2", "--logs", "sw/BUILD/*latest*/log", "--dest", "s3://" + BUCKET,
            "--endpoint", url]

    # Without the CA: refused, said plainly, exit 3 (failed to upload), nothing stored.
    r = run(server, "bucket", "create", BUCKET, "--endpoint", url)
    assert r.returncode != 0 and "SSL peer certificate" in r.stderr, r.stderr
    assert "attempts" not in r.stderr, r.stderr  # a certificate problem is not retried
    # (a transport failure that is retried says so: compare a closed port)
    r = run(server, "bucket", "ls", "--endpoint", "https://127.0.0.1:%d" % free_port())
    assert r.returncode != 0 and "(after 4 attempts)" in r.stderr, r.stderr
    s3.create_bucket(Bucket=BUCKET)
    r = run(server, *push, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "certificate" in r.stderr and "--ca-bundle" in r.stderr, r.stderr
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0

    # With it, from the flag or from AWS_CA_BUNDLE as the AWS tools read it.
    r = run(server, *push, "--ca-bundle", ca, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert [k.rsplit("/", 1)[1] for k in keys] == ["fullLog.txt", "pretty.html", "summary.json"]
    r = run(server, "bucket", "ls", "--endpoint", url, extra_env={"AWS_CA_BUNDLE": ca})
    assert r.returncode == 0 and BUCKET in r.stdout, r.stderr
    r = run(server, "verify", "-b", BUCKET, "--endpoint", url, "--ca-bundle", ca)
    assert "\u2713 signed PUT" in r.stdout and "\u2713 signed DELETE" in r.stdout, r.stdout + r.stderr

    # A CA file that is not there is a usage error naming where it came from.
    r = run(server, *push, "--ca-bundle", str(tmp_path / "missing.pem"), cwd=tmp_path)
    assert r.returncode == 2 and "--ca-bundle" in r.stderr and "missing.pem" in r.stderr, r.stderr
    r = run(server, "bucket", "ls", "--endpoint", url, extra_env={"AWS_CA_BUNDLE": "/nonexistent.pem"})
    assert r.returncode != 0 and "AWS_CA_BUNDLE /nonexistent.pem" in r.stderr, r.stderr


def test_remote_viewer_over_https_with_the_site_ca(server, s3, tls_endpoint, tmp_path):
    url, ca = tls_endpoint
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="o/r/1/latest/c/fullLog.txt", Body=b"line one\nline two\n",
                  ContentType="text/plain")
    creds = {"AWS_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
             "AWS_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"]}
    untrusting = RemoteViewer(url, env=creds)
    try:
        assert not untrusting.started
        assert untrusting.proc.wait(timeout=60) != 0
        assert "SSL peer certificate" in untrusting.read_log() and "--ca-bundle" in untrusting.read_log()
    finally:
        untrusting.stop()
    v = RemoteViewer(url, env=creds, args=["--ca-bundle", ca])
    try:
        assert v.started, v.read_log()
        with urllib.request.urlopen(v.web + "/%s/o/r/1/latest/c/fullLog.txt?raw" % BUCKET, timeout=60) as r:
            assert r.read() == b"line one\nline two\n"
    finally:
        code, log = v.stop()
        assert code == 0, log[-3000:]
