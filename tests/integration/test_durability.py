"""Crash safety and process behaviour: kill -9 under load, restart recovery, SIGTERM drain."""
import concurrent.futures
import hashlib
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import botocore.exceptions
import pytest

import sigv4_client
from conftest import BIN

UPLOADERS = 20


def test_kill9_during_uploads_loses_nothing_acknowledged(server_factory):
    server = server_factory().start()
    s3 = server.client()
    s3.create_bucket(Bucket="crash")
    acked = {}            # key -> md5 of the body that got a 200
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(n):
        client = server.client()
        i = 0
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and i < 500:
            key = "u%02d/obj%04d" % (n, i)
            body = os.urandom(1000 + (i * 7919) % 300000)  # 1 KB .. 300 KB
            try:
                client.put_object(Bucket="crash", Key=key, Body=body)
            except Exception:
                return  # the server died under us: this body was never acknowledged
            with lock:
                acked[key] = hashlib.md5(body).hexdigest()
            i += 1

    with concurrent.futures.ThreadPoolExecutor(UPLOADERS) as pool:
        futures = [pool.submit(uploader, n) for n in range(UPLOADERS)]
        # Let the uploads run until a good number are acknowledged, then kill without warning.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 200:
                    break
            time.sleep(0.05)
        server.kill9()
        stop.set()
        for f in futures:
            f.result(timeout=60)
    assert len(acked) >= 200

    server.start()  # same data dir: start-up recovery runs
    s3 = server.client()
    listed, sizes = {}, {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["ETag"].strip('"')
            sizes[o["Key"]] = o["Size"]
    # Every acknowledged object is there, byte-identical.
    for key, md5 in acked.items():
        assert listed.get(key) == md5, key
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5
    # Whatever else is listed (committed just before the kill, ack lost) is whole too.
    for key in set(listed) - set(acked):
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == listed[key]
    # Nothing partial or orphaned on disk: tmp/ is empty and every blob file is referenced. Bodies
    # up to 64 KiB live in meta.sqlite (docs/formats/data-dir.md); the uploads above mix both kinds.
    assert os.listdir(os.path.join(server.data_dir, "tmp")) == []
    blob_files = sum(len(files) for _, _, files in os.walk(os.path.join(server.data_dir, "blobs")))
    large = sum(1 for size in sizes.values() if size > 64 * 1024)
    assert 0 < large < len(listed)
    assert blob_files == large


def test_sigterm_drains_in_flight_requests(server_factory):
    server = server_factory().start()
    s3 = server.client()
    s3.create_bucket(Bucket="drain")
    body = os.urandom(2 * 1024 * 1024)
    target, headers = sigv4_client.sign("PUT", server.endpoint, "/drain/slow", server.env["AWS_ACCESS_KEY_ID"],
                                        server.env["AWS_SECRET_ACCESS_KEY"])
    host, port = server.endpoint[7:].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = ["PUT %s HTTP/1.1" % target] + ["%s: %s" % kv for kv in headers.items()]
    head.append("content-length: %d" % len(body))
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:1024 * 1024])
    # Wait until the server has seen the request (its access log is written after the
    # response, so look for the temp file that receiving the body creates).
    deadline = time.monotonic() + 10
    while not os.listdir(os.path.join(server.data_dir, "tmp")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.listdir(os.path.join(server.data_dir, "tmp")), "upload never started"
    server.proc.send_signal(signal.SIGTERM)
    # New connections are refused once draining has started…
    deadline = time.monotonic() + 10
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            time.sleep(0.02)
        except OSError:
            refused = True
    assert refused
    # …but the request in flight completes.
    sock.sendall(body[1024 * 1024:])
    reply = sigv4_client.read_head(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert server.proc.wait(timeout=30) == 0
    server.proc = None
    server.start()
    assert hashlib.md5(server.client().get_object(Bucket="drain", Key="slow")["Body"].read()).digest() == \
        hashlib.md5(body).digest()


def test_first_start_writes_admin_env_and_secrets_stay_out_of_logs(server, s3):
    env_path = os.path.join(server.data_dir, "admin.env")
    mode = stat.S_IMODE(os.stat(env_path).st_mode)
    assert mode == 0o600
    env = open(env_path).read()
    for name in ["AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_DEFAULT_REGION=", "AWS_ENDPOINT_URL=" + server.endpoint]:
        assert name in env
    assert stat.S_IMODE(os.stat(os.path.join(server.data_dir, "meta.sqlite")).st_mode) == 0o600
    # Exercise signed, presigned and failing requests, then scan the server log for secrets.
    s3.create_bucket(Bucket="secrets")
    s3.put_object(Bucket="secrets", Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "secrets", "Key": "k"})
    import urllib.request
    urllib.request.urlopen(url).read()
    signature = url.split("X-Amz-Signature=")[1]
    bad = server.client(secret_key="z" * 40)
    with pytest.raises(botocore.exceptions.ClientError):
        bad.list_buckets()
    log = server.read_log()
    assert "GET /secrets/k?" in log
    assert server.env["AWS_SECRET_ACCESS_KEY"] not in log
    assert signature not in log
    assert "Signature=" not in log.replace("X-Amz-Signature=REDACTED", "")


def test_second_server_on_same_data_dir_is_refused(server, tmp_path):
    r = subprocess.run([BIN, "serve", "--data", server.data_dir, "--s3-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "in use" in r.stderr


def test_cli_errors_name_the_flag(tmp_path):
    r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--s3-listen", "nonsense"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "s3.listen" in r.stderr
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[s3]\nlisten = 12\nbogus = 1\n[nope]\n")
    r = subprocess.run([BIN, "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "nope" in r.stderr and str(cfg) in r.stderr
    # A mistyped command or flag is named, not reported as a missing one.
    for argv in (["frobnicate"], ["push", "--pr", "o/r#1@abc", "--frobnicate"], ["bucket", "frobnicate"]):
        r = subprocess.run([BIN, *argv], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "unknown argument '%s'" % argv[-1] in r.stderr, (argv, r.stderr)
    r = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--s3-listen" in r.stdout


def test_trusted_proxy_forwarded_address(server_factory):
    import urllib.request
    trusting = server_factory(extra_args=["--trusted-proxy", "127.0.0.0/8"]).start()
    plain = server_factory().start()
    for server in (trusting, plain):
        server.client().create_bucket(Bucket="somebucket")
        req = urllib.request.Request(server.endpoint + "/somebucket/test.txt",
                                     headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.5"})
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(req, timeout=10)
        assert denied.value.code == 403  # anonymous, and the bucket has no policy
    # Behind a trusted proxy the log names the real client; otherwise the header is ignored.
    assert "203.0.113.9(via 127.0.0.1)" in trusting.read_log()
    assert "203.0.113.9" not in plain.read_log()
    r = subprocess.run([BIN, "serve", "--trusted-proxy", "10.0.0.0/99", "--data", "/nonexistent/x"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "trusted_proxies" in r.stderr


def test_first_start_examples_work_as_printed(server_factory, tmp_path):
    """The 'Try' lines printed at first start are ready to paste: run them in a clean shell."""
    server = server_factory().start()
    # The fixture consumes the server's stdout; print the block from a short-lived second start
    # on another directory, then point it at the running server.
    r = subprocess.run(["timeout", "-s", "TERM", "3", BIN, "serve", "--data", str(tmp_path / "d"),
                        "--s3-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    block = r.stdout.split("Try", 1)[1].split("\n", 1)[1]
    block = block.replace(str(tmp_path / "d"), server.data_dir)
    block = block.replace(r.stdout.split("serving S3 at http://", 1)[1].split(" ", 1)[0], server.endpoint[7:])
    (tmp_path / "fullLog.txt").write_text("log\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert server.client().get_object(Bucket="alice-build-logs", Key="test.txt")["Body"].read() == b"log\n"
    assert "s3://alice-build-logs" in out.stdout
