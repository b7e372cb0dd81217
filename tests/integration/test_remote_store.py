"""`logbucket serve --store s3://BUCKET --endpoint URL`: the viewer over a bucket of another S3
endpoint. The upstream here is a second logbucket (its embedded store); tests/integration/
test_ceph_rgw.py runs the same viewer against a real Ceph RGW. Logs come from the shared
generator and are uploaded with boto3, as the CI bot does.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, START_TIMEOUT, assert_sanitizer_clean, lbserver, scrape
from test_web_oidc import forge_session
from test_web_viewer import generate

BUCKET = "alice-build-logs"
KEY = "AliceO2Group/AliceO2/14473/0c5c7fd0a6a3a4506513270e269e0d37f2a74de4/build_O2_o2/fullLog.txt"


class RemoteViewer:
    """One `logbucket serve --store` process; stopped by PID."""

    def __init__(self, endpoint, bucket=BUCKET, args=(), env=None, data_dir=None):
        self.dir = data_dir or tempfile.mkdtemp(prefix="lb-remote-")
        fd, self.log_path = tempfile.mkstemp(prefix="lb-remote-", suffix=".log")
        os.close(fd)
        self.result = None  # (exit code, log) once stopped
        self.log = open(self.log_path, "ab")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        full_env.update(env or {})
        launched = lbserver.launch(
            BIN, ["--data", self.dir, "--web-listen", "127.0.0.1:0", "--store", "s3://" + bucket,
                  "--endpoint", endpoint, *args],
            stderr=self.log, env=full_env, timeout=START_TIMEOUT, check=False)
        self.proc, self.web = launched.proc, launched.web
        self.started = self.web is not None

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, keep_dir=False):
        if self.result is not None:
            return self.result
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        log = self.read_log()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        os.unlink(self.log_path)
        self.result = (code, log)
        return self.result


@pytest.fixture
def viewers():
    started = []

    def make(*a, **kw):
        v = RemoteViewer(*a, **kw)
        started.append(v)
        return v

    yield make
    for v in started:
        code, log = v.stop()
        assert_sanitizer_clean(log)
        if v.started:
            assert code == 0, log[-3000:]


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {"Accept": "text/html"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def creds_env(server):
    return {"AWS_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture
def upstream(server, s3, tmp_path):
    s3.create_bucket(Bucket=BUCKET)
    path, truth = generate(tmp_path, 3_000_000, seed=7)
    s3.upload_file(path, BUCKET, KEY, ExtraArgs={"ContentType": "text/plain",
                                                  "ContentDisposition": "inline"})
    s3.put_object(Bucket=BUCKET, Key=KEY.replace("fullLog.txt", "pretty.html"),
                  Body=b"<h1>summary</h1><script>alert(1)</script>", ContentType="text/html")
    server.truth = truth
    return server


def test_remote_viewer_shows_what_the_embedded_viewer_shows(upstream, viewers):
    v = viewers(upstream.endpoint, env=creds_env(upstream))
    assert v.started, v.read_log()
    for query in ["?errors", "?meta", "?lines=1-200", "?lines=9000-9100", "?search=error%3A",
                  "?raw"]:
        here = get(upstream.web + "/" + BUCKET + "/" + KEY + query)
        there = get(v.web + "/" + BUCKET + "/" + KEY + query)
        assert here[0] == 200 and there[0] == 200, query
        if query == "?meta":  # HTTP dates carry seconds; the embedded store knows milliseconds
            here = (200, json.loads(here[1]))
            there = (200, json.loads(there[1]))
            assert here[1].pop("last_modified")[:19] == there[1].pop("last_modified")[:19]
        assert there == here, query
    errors = json.loads(get(v.web + "/" + BUCKET + "/" + KEY + "?errors")[1])
    assert [s["begin_line"] for s in errors["sections"]] == \
        [p["begin_line"] for p in upstream.truth["packages"]]
    assert errors["errors"], "the generated log has a failure"
    # Folder pages list the same entries.
    folder = "/" + BUCKET + "/AliceO2Group/AliceO2/14473/"
    assert get(v.web + folder)[1] == get(upstream.web + folder)[1]
    # User HTML stays sandboxed over the remote store too.
    req = urllib.request.Request(v.web + "/" + BUCKET + "/" + KEY.replace("fullLog.txt", "pretty.html"))
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Security-Policy"] == "sandbox"
    # Read-only: the viewer answers GET/HEAD only, and other buckets do not exist.
    assert get(v.web + "/another-bucket/")[0] == 404


def test_anonymous_remote_viewer_needs_the_bucket_policy(upstream, viewers):
    v = viewers(upstream.endpoint, args=["--anonymous"])
    assert not v.started
    v.proc.wait(timeout=30)
    assert v.proc.returncode == 1 and "AccessDenied" in v.read_log() + "".join(v.proc.stdout or [])
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "frontend", "Effect": "Allow", "Principal": "*",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::%s" % BUCKET, "arn:aws:s3:::%s/*" % BUCKET],
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}}]}
    upstream.client().put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    v = viewers(upstream.endpoint, args=["--anonymous"])
    assert v.started, v.read_log()
    status, body = get(v.web + "/" + BUCKET + "/" + KEY + "?lines=1-5")
    assert status == 200 and json.loads(body)["lines"]


def test_overwritten_log_is_never_served_stale(upstream, viewers):
    # With HEAD answers not reused, every view sees the current version.
    v = viewers(upstream.endpoint, env=creds_env(upstream), args=["--metadata-ttl-ms", "0"])
    s3 = upstream.client()
    s3.put_object(Bucket=BUCKET, Key="a/fullLog.txt", Body=b"first version\n", ContentType="text/plain")
    assert b"first version" in get(v.web + "/" + BUCKET + "/a/fullLog.txt?lines=1-1")[1]
    s3.put_object(Bucket=BUCKET, Key="a/fullLog.txt", Body=b"second version\n", ContentType="text/plain")
    assert b"second version" in get(v.web + "/" + BUCKET + "/a/fullLog.txt?lines=1-1")[1]


def test_reused_head_answers_fall_back_when_the_object_changed(upstream, viewers):
    # HEAD answers reused for a minute; the cached body is evicted, the object overwritten: the
    # download for the stale answer is refused by If-Match, and the new version is served.
    v = viewers(upstream.endpoint, env=creds_env(upstream),
                args=["--cache-max-bytes", str(1 << 20), "--metadata-ttl-ms", "60000"])
    s3 = upstream.client()
    s3.put_object(Bucket=BUCKET, Key="b/x.bin", Body=b"A" * 10)
    for name in ("f1", "f2"):
        s3.put_object(Bucket=BUCKET, Key="b/%s.bin" % name, Body=os.urandom(600_000))
    assert get(v.web + "/" + BUCKET + "/b/x.bin?raw")[1] == b"A" * 10
    for name in ("f1", "f2"):  # pushes x.bin out of the 1 MiB cache
        assert get(v.web + "/" + BUCKET + "/b/%s.bin?raw" % name)[0] == 200
    assert "evicted" in v.read_log()
    s3.put_object(Bucket=BUCKET, Key="b/x.bin", Body=b"B" * 12)
    status, body = get(v.web + "/" + BUCKET + "/b/x.bin?raw")
    assert status == 200 and body == b"B" * 12


def test_cache_stays_under_its_cap(upstream, viewers):
    cap = 3 << 20
    v = viewers(upstream.endpoint, env=creds_env(upstream), args=["--cache-max-bytes", str(cap)])
    s3 = upstream.client()
    bodies = {}
    for i in range(4):
        body = "log %d line %%07d src/x.cc:1:1: warning: w\n" % i
        data = "".join(body % n for n in range(30000)).encode()  # ~1.3 MB each
        bodies[i] = data
        s3.put_object(Bucket=BUCKET, Key="c/%d/fullLog.txt" % i, Body=data, ContentType="text/plain")
    cache = os.path.join(v.dir, "remote-cache")
    for i in range(4):
        status, body = get(v.web + "/" + BUCKET + "/c/%d/fullLog.txt?raw" % i)
        assert status == 200 and body == bodies[i]
        total = sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache))
        assert total <= cap, (i, total)
    assert len(os.listdir(cache)) == 2
    assert "evicted" in v.read_log()
    # The first log was evicted; it is fetched again, whole and right.
    status, body = get(v.web + "/" + BUCKET + "/c/0/fullLog.txt?raw")
    assert status == 200 and body == bodies[0]
    status, body = get(v.web + "/" + BUCKET + "/c/0/fullLog.txt?raw")
    assert status == 200 and body == bodies[0]
    # The frontend's metrics tell where those bytes came from: five downloads (one a re-fetch
    # after its eviction), then one read from the cache.
    status, m = scrape(v.web + "/_metrics")
    assert status == 200
    assert m["logbucket_remote_cache_downloads_total"] == 5
    assert m["logbucket_remote_cache_downloaded_bytes_total"] == sum(map(len, bodies.values())) + len(bodies[0])
    assert m["logbucket_remote_cache_hits_total"] == 1
    assert m["logbucket_remote_cache_evictions_total"] == 3
    assert m["logbucket_remote_cache_bytes"] <= cap
    assert m['logbucket_http_requests_total{listener="web",operation="raw",status="200"}'] == 6


def test_a_lowered_cap_trims_the_cache_at_start(upstream, viewers):
    s3 = upstream.client()
    for i in range(3):
        data = b"".join(b"log %d line %07d\n" % (i, n) for n in range(60000))  # ~1.1 MB each
        s3.put_object(Bucket=BUCKET, Key="t/%d/fullLog.txt" % i, Body=data, ContentType="text/plain")
    first = viewers(upstream.endpoint, env=creds_env(upstream))
    for i in range(3):
        assert get(first.web + "/" + BUCKET + "/t/%d/fullLog.txt?raw" % i)[0] == 200
    first.stop(keep_dir=True)
    cache = os.path.join(first.dir, "remote-cache")
    assert len(os.listdir(cache)) == 3
    # The next run has a cap for two of them: the least recently used goes before it serves.
    cap = 2_400_000
    second = viewers(upstream.endpoint, env=creds_env(upstream), args=["--cache-max-bytes", str(cap)],
                     data_dir=first.dir)
    assert second.started, second.read_log()
    assert len(os.listdir(cache)) == 2
    assert sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache)) <= cap
    _, m = scrape(second.web + "/_metrics")
    assert m["logbucket_remote_cache_evictions_total"] == 1 and 0 < m["logbucket_remote_cache_bytes"] <= cap
    # The two kept (the newest) are served from the cache; the evicted one is fetched again.
    for i in (2, 1, 0):
        assert get(second.web + "/" + BUCKET + "/t/%d/fullLog.txt?raw" % i)[0] == 200
    _, m = scrape(second.web + "/_metrics")
    assert m["logbucket_remote_cache_hits_total"] == 2 and m["logbucket_remote_cache_downloads_total"] == 1


def test_two_viewers_share_sessions(upstream, viewers, tmp_path):
    secret = "shared-secret-for-both-frontends-0123456789"
    cfg = tmp_path / "v.toml"
    cfg.write_text('[web]\npublic_url = "http://127.0.0.1:1"\n[auth]\nmode = "oidc"\n'
                   'require_role = "alice-member"\nsession_secret = "%s"\n[auth.oidc]\n'
                   'issuer = "http://127.0.0.1:1"\nclient_id = "x"\n' % secret)
    a = viewers(upstream.endpoint, env=creds_env(upstream), args=["--config", str(cfg)])
    b = viewers(upstream.endpoint, env=creds_env(upstream), args=["--config", str(cfg)])
    session = forge_session("alice", ["alice-member"], int(time.time()) + 600, secret=secret)
    cookie = {"Cookie": "lb_session=" + session, "Accept": "application/json"}
    for v in (a, b):
        status, body = get(v.web + "/" + BUCKET + "/" + KEY + "?lines=1-3", cookie)
        assert status == 200, body
        status, _ = get(v.web + "/" + BUCKET + "/" + KEY + "?lines=1-3", {"Accept": "application/json"})
        assert status == 401


class FlakyProxy:
    """Forwards TCP to `target`, but cuts the first `cut` connections that carry more than
    64 KiB in `direction` ("down": responses, "up": request bodies) after 64 KiB: a server
    dropping connections mid-transfer."""

    def __init__(self, target_port, cut, direction="down"):
        self.target_port = target_port
        self.cut = cut
        self.direction = direction
        self.cuts = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.pipe, args=(client,), daemon=True).start()

    def pipe(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        lock = threading.Lock()

        def forward(src, dst, may_cut):
            sent = 0
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    sent += len(data)
                    with lock:
                        cut_now = may_cut and sent > 65536 and self.cuts < self.cut
                        if cut_now:
                            self.cuts += 1
                    if cut_now:
                        dst.sendall(data[:1000])
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for sock in (src, dst):  # either side ending (or cut) ends both
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=forward, args=(client, upstream, self.direction == "up"), daemon=True)
        t.start()
        forward(upstream, client, self.direction == "down")
        t.join(timeout=30)
        client.close()
        upstream.close()

    def stop(self):
        self.running = False
        self.sock.close()


def test_downloads_cut_mid_transfer_are_retried(upstream, viewers):
    port = int(upstream.endpoint.rsplit(":", 1)[1])
    proxy = FlakyProxy(port, cut=2)
    try:
        v = viewers("http://127.0.0.1:%d" % proxy.port, env=creds_env(upstream))
        assert v.started, v.read_log()
        here = get(upstream.web + "/" + BUCKET + "/" + KEY + "?raw")
        there = get(v.web + "/" + BUCKET + "/" + KEY + "?raw")
        assert there == here
        assert proxy.cuts == 2
        assert v.read_log().count("download of") >= 2
    finally:
        proxy.stop()


class GateProxy:
    """Forwards one request per connection to the upstream S3 (Connection: close), holding GETs
    of keys under /slow/ until `release` is set: a slow or stalled upstream, under test control."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.release = threading.Event()
        self.held = 0
        self.heads = 0
        self.cond = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            lines = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            if method == b"HEAD" and b"/slow/" in target:
                with self.cond:
                    self.heads += 1
                    self.cond.notify_all()
            if method == b"GET" and b"/slow/" in target:
                with self.cond:
                    self.held += 1
                    self.cond.notify_all()
                self.release.wait(timeout=60)
            kept = [l for l in lines[1:] if not l.lower().startswith(b"connection:")]
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=60)
            upstream.sendall(b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n")
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
            upstream.close()
        except OSError:
            pass
        finally:
            client.close()

    def wait_held(self, n, seconds=60, heads=0):
        with self.cond:
            return self.cond.wait_for(lambda: self.held >= n and self.heads >= heads, timeout=seconds)

    def stop(self):
        self.release.set()
        self.sock.close()


def test_a_stalled_first_view_never_holds_up_other_viewers(upstream, viewers):
    """First views wait for the upstream (the log is downloaded into the cache). More of them than
    the viewer has event loops must not stall pages that are ready: they run on worker threads."""
    s3 = upstream.client()
    bodies = {}
    for name in ["slow/%d" % i for i in range(4)] + ["fast"]:
        bodies[name] = ("%s line\n" % name).encode() * 1000
        s3.put_object(Bucket=BUCKET, Key=name + "/fullLog.txt", Body=bodies[name], ContentType="text/plain")
    proxy = GateProxy(int(upstream.endpoint.rsplit(":", 1)[1]))
    results = {}
    threads = []
    try:
        v = viewers("http://127.0.0.1:%d" % proxy.port, env=creds_env(upstream))
        assert v.started, v.read_log()
        for i in range(4):  # more than the cores (and so the event loops) of any test machine here
            name = "slow/%d" % i
            t = threading.Thread(target=lambda n=name: results.__setitem__(
                n, get(v.web + "/" + BUCKET + "/" + n + "/fullLog.txt?raw")))
            t.start()
            threads.append(t)
        assert proxy.wait_held(4), "the slow downloads never reached the upstream"
        # All four are stuck upstream; a log that is not answers now.
        assert get(v.web + "/" + BUCKET + "/fast/fullLog.txt?raw") == (200, bodies["fast"])
        assert get(v.web + "/" + BUCKET + "/fast/fullLog.txt?meta", headers={"Accept": "application/json"})[0] == 200
        assert not results, "a slow view finished while the upstream held it"
        proxy.release.set()
        for t in threads:
            t.join(timeout=60)
        for i in range(4):
            assert results["slow/%d" % i] == (200, bodies["slow/%d" % i])
    finally:
        proxy.stop()
        for t in threads:
            t.join(timeout=60)


def test_readers_of_a_log_being_fetched_wait_for_that_download(upstream, viewers):
    """Three people open the same fresh log at once: it is downloaded once."""
    s3 = upstream.client()
    body = b"popular line\n" * 50000
    s3.put_object(Bucket=BUCKET, Key="slow/popular/fullLog.txt", Body=body, ContentType="text/plain")
    proxy = GateProxy(int(upstream.endpoint.rsplit(":", 1)[1]))
    results = []
    threads = []
    try:
        # Every request asks for the object's metadata itself, so the proxy sees each one arrive.
        v = viewers("http://127.0.0.1:%d" % proxy.port, env=creds_env(upstream), args=["--metadata-ttl-ms", "0"])
        assert v.started, v.read_log()
        for _ in range(3):
            t = threading.Thread(target=lambda: results.append(
                get(v.web + "/" + BUCKET + "/slow/popular/fullLog.txt?raw")))
            t.start()
            threads.append(t)
        # All three have their metadata; one download is held upstream.
        assert proxy.wait_held(1, heads=3), (proxy.held, proxy.heads)
        proxy.release.set()
        for t in threads:
            t.join(timeout=60)
        assert results == [(200, body)] * 3
        assert proxy.held == 1
        _, m = scrape(v.web + "/_metrics")
        assert m["logbucket_remote_cache_downloads_total"] == 1
        assert m["logbucket_remote_cache_hits_total"] == 2
    finally:
        proxy.stop()
        for t in threads:
            t.join(timeout=60)


def test_bad_remote_settings_are_refused_at_start(tmp_path):
    for args, expected in [
        (["--store", "s3://b"], "store.endpoint"),
        (["--store", "b", "--endpoint", "http://127.0.0.1:1"], "s3://BUCKET"),
        (["--store", "s3://b/prefix", "--endpoint", "http://127.0.0.1:1"], "bucket only"),
        (["--store", "s3://b", "--endpoint", "http://127.0.0.1:1", "--anonymous"], "cannot be reached"),
    ]:
        r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--web-listen", "127.0.0.1:0",
                            *args], capture_output=True, text=True, timeout=60)
        assert r.returncode in (1, 2) and expected in r.stderr, (args, r.stderr)


def test_virtual_hosted_style(server_factory, viewers, tmp_path):
    # <bucket>.localhost: curl resolves *.localhost to loopback itself, no DNS needed.
    up = server_factory(extra_args=["--domain", "localhost"]).start()
    c = up.client()
    c.create_bucket(Bucket=BUCKET)
    c.put_object(Bucket=BUCKET, Key="v/fullLog.txt", Body=b"hosted line\n", ContentType="text/plain")
    cfg = tmp_path / "v.toml"
    cfg.write_text("[store]\nvirtual_host = true\n")
    endpoint = up.endpoint.replace("127.0.0.1", "localhost")
    v = viewers(endpoint, env=creds_env(up), args=["--config", str(cfg)])
    assert v.started, v.read_log()
    status, body = get(v.web + "/" + BUCKET + "/v/fullLog.txt?lines=1-1")
    assert status == 200 and b"hosted line" in body
    # The upstream saw virtual-hosted requests: targets without the bucket in the path.
    log = up.read_log()
    assert " HEAD /v/fullLog.txt 200" in log and " GET /v/fullLog.txt 200" in log
    assert " HEAD /%s/v/fullLog.txt" % BUCKET not in log
