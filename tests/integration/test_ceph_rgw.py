"""logbucket against a real Ceph RGW (Debian 12's Ceph Pacific, started by scripts/ceph-rgw on
127.0.0.1): push, the remote viewer and the admin commands (bucket, policy, lifecycle, verify)
work exactly as against the embedded store, and show the same errors for the same logs.
"""
import json
import os
import subprocess
import tempfile
import time

import boto3
import botocore.config
import pytest

from conftest import BIN
from test_push import PNG, PR, PREFIX, make_build_dir
from test_remote_store import RemoteViewer, get

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUCKET = "alice-build-logs"


@pytest.fixture(scope="module")
def rgw():
    d = tempfile.mkdtemp(prefix="lb-rgw-")
    # Bluestore on a sparse file: the tests push 200 MB, which memstore would keep in RAM 2-3×.
    r = subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "start", d], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, OSD_OBJECTSTORE="bluestore"))
    if r.returncode != 0:
        subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "stop", d], timeout=120)
        pytest.fail("scripts/ceph-rgw start failed:\n" + r.stderr[-4000:])
    env = dict(line.split("=", 1) for line in r.stdout.split())
    yield env
    subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "stop", d], timeout=120, check=True)


def lb(rgw, *args, check=True, cwd=None, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({k: v for k, v in rgw.items() if k.startswith("AWS_")})
    env["AWS_ENDPOINT_URL"] = rgw["S3_ENDPOINT"]
    env.update(extra_env or {})
    r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def test_push_to_rgw_and_view_it_like_the_embedded_store(rgw, server, s3, tmp_path):
    lb(rgw, "bucket", "create", BUCKET)
    # Several package logs, 200 MB in all.
    make_build_dir(tmp_path, [40_000_000, 60_000_000, 100_000_000])
    (tmp_path / "qc").mkdir()
    (tmp_path / "qc" / "pt.png").write_bytes(PNG)
    r = lb(rgw, "push", "--pr", PR, "--check", "build/O2/o2", "--logs", "sw/BUILD/*latest*/log",
           "--dest", "s3://" + BUCKET, "--endpoint", rgw["S3_ENDPOINT"], "--latest",
           "--artifacts", "qc", cwd=tmp_path)
    assert r.stdout.splitlines()[0].endswith(PREFIX + "fullLog.txt")
    # RGW made the latest/ copies (CopyObject) with the type, disposition and every byte.
    rgw_s3 = boto3.client("s3", endpoint_url=rgw["S3_ENDPOINT"], region_name="default",
                          aws_access_key_id=rgw["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=rgw["AWS_SECRET_ACCESS_KEY"],
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
    latest = PREFIX.replace("0c5c7fd0a6a3a4506513270e269e0d37f2a74de4", "latest")
    for name, ctype in [("fullLog.txt", "text/plain; charset=utf-8"), ("artifacts/pt.png", "image/png")]:
        original = rgw_s3.head_object(Bucket=BUCKET, Key=PREFIX + name)
        copy = rgw_s3.head_object(Bucket=BUCKET, Key=latest + name)
        assert original["ContentType"] == copy["ContentType"] == ctype, name
        assert copy["ContentDisposition"] == "inline", name
        assert copy["ContentLength"] == original["ContentLength"], name
    assert rgw_s3.get_object(Bucket=BUCKET, Key=latest + "artifacts/pt.png")["Body"].read() == PNG
    # The same logs to the embedded store.
    s3.create_bucket(Bucket=BUCKET)
    r2 = lb(rgw, "push", "--pr", PR, "--check", "build/O2/o2", "--logs", "sw/BUILD/*latest*/log",
            "--dest", "s3://" + BUCKET, "--endpoint", server.endpoint, cwd=tmp_path,
            extra_env={"AWS_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
                       "AWS_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"],
                       "AWS_DEFAULT_REGION": "us-east-1"})
    assert r2.returncode == 0
    head = lb(rgw, "bucket", "ls").stdout
    assert BUCKET in head

    # The viewer over RGW shows what the embedded viewer shows.
    v = RemoteViewer(rgw["S3_ENDPOINT"], env={k: v for k, v in rgw.items() if k.startswith("AWS_")},
                     args=["--region", "default"])
    try:
        assert v.started, v.read_log()
        path = "/" + BUCKET + "/" + PREFIX + "fullLog.txt"
        over_rgw = json.loads(get(v.web + path + "?errors")[1])
        embedded = json.loads(get(server.web + path + "?errors")[1])
        assert over_rgw["errors"] == embedded["errors"] and over_rgw["errors"]
        assert over_rgw["sections"] == embedded["sections"]
        # (line 1 holds the push time, a second apart between the two pushes)
        for q in ("?lines=2-300", "?lines=1500000-1500100", "?search=error%3A"):
            assert get(v.web + path + q) == get(server.web + path + q)
        # The page, the summary and the latest/ copy are all there with their types.
        status, body = get(v.web + "/" + BUCKET + "/" + latest + "pretty.html")
        assert status == 200 and b"Build failed" in body and b"artifacts/pt.png" in body
        assert get(v.web + "/" + BUCKET + "/" + latest + "artifacts/pt.png") == (200, PNG)
    finally:
        v.stop()


def test_policy_lifecycle_and_verify_against_rgw(rgw, tmp_path):
    bucket = "lb-admin-checks"
    lb(rgw, "bucket", "create", bucket)
    # Anonymous reads allowed from 127.0.0.1 only, as production allows the frontend's address.
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "FrontendAnonymousRead", "Effect": "Allow", "Principal": "*",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket],
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}}]}
    (tmp_path / "p.json").write_text(json.dumps(policy))
    lb(rgw, "policy", "set", "-b", bucket, str(tmp_path / "p.json"))
    shown = json.loads(lb(rgw, "policy", "get", "-b", bucket).stdout)
    assert shown["Statement"][0]["Sid"] == "FrontendAnonymousRead"
    (tmp_path / "test.txt").write_text("ok\n")
    subprocess.run(["aws", "--endpoint-url", rgw["S3_ENDPOINT"], "s3", "cp", str(tmp_path / "test.txt"),
                    "s3://%s/test.txt" % bucket], check=True, capture_output=True, timeout=120,
                   env=dict(os.environ, **{k: v for k, v in rgw.items() if k.startswith("AWS_")}))
    ok = lb(rgw, "verify", "-b", bucket, "--source-address", "127.0.0.1", "--expect-anonymous", "allowed")
    assert "\u2713 anonymous GET test.txt: 200" in ok.stdout
    denied = lb(rgw, "verify", "-b", bucket, "--source-address", "127.0.0.2", "--expect-anonymous",
                "allowed", check=False)
    assert denied.returncode == 1 and "403" in denied.stdout and "does not exist" not in denied.stdout
    # A missing probe object is told apart from a denied read.
    missing = lb(rgw, "verify", "-b", bucket, "--source-address", "127.0.0.1", "--key", "gone.txt", check=False)
    assert "404" in missing.stdout and "let through, but gone.txt does not exist" in missing.stdout
    # The anonymous remote viewer over RGW works from the allowed address.
    v = RemoteViewer(rgw["S3_ENDPOINT"], bucket=bucket, args=["--anonymous", "--region", "default"])
    try:
        assert v.started, v.read_log()
        assert get(v.web + "/" + bucket + "/test.txt?lines=1-1")[0] == 200
    finally:
        v.stop()

    # Lifecycle: 60-day expiry, as production; RGW takes it and shows it back.
    lb(rgw, "lifecycle", "set", "-b", bucket, "--expire-days", "60")
    shown = lb(rgw, "lifecycle", "get", "-b", bucket).stdout
    assert "60" in shown
    lb(rgw, "lifecycle", "delete", "-b", bucket)
    r = lb(rgw, "lifecycle", "get", "-b", bucket, check=False)
    assert r.returncode != 0 and "NoSuchLifecycleConfiguration" in r.stderr


def test_the_build_index_over_rgw(rgw, tmp_path):
    """The board, recurring failures, a log's recurrence and the diff, for a frontend over RGW
    (serve --store): its crawler indexes the bucket, incrementally, with ranged reads."""
    from test_across_builds import generated, key, metrics, sha
    lb(rgw, "bucket", "create", "alice-index")
    rgw_s3 = boto3.client("s3", endpoint_url=rgw["S3_ENDPOINT"], region_name="default",
                          aws_access_key_id=rgw["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=rgw["AWS_SECRET_ACCESS_KEY"],
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
    tmp = str(tmp_path)
    oom, green, own = [16001, 16002, 16003, 16004], [16101, 16102], 16201
    for pr in oom:
        rgw_s3.put_object(Bucket="alice-index", Key=key(pr), ContentType="text/plain",
                          Body=generated(tmp, "compiler-killed-oom", 3, "alibuild-07", pr))
    for pr in green:
        rgw_s3.put_object(Bucket="alice-index", Key=key(pr), ContentType="text/plain",
                          Body=generated(tmp, "none", 5, "alibuild-02", pr))
    rgw_s3.put_object(Bucket="alice-index", Key=key(own), ContentType="text/plain",
                      Body=generated(tmp, "linker-undefined-reference", 5, "alibuild-03", own))
    config = tmp_path / "viewer.toml"
    config.write_text("[builds]\ncrawl_interval_seconds = 1\n")
    v = RemoteViewer(rgw["S3_ENDPOINT"], bucket="alice-index",
                     env={k: v for k, v in rgw.items() if k.startswith("AWS_")},
                     args=["--region", "default", "--config", str(config)])
    try:
        assert v.started, v.read_log()

        def api(path):
            status, body = get(v.web + "/alice-index/" + path)
            assert status == 200, body[:300]
            return json.loads(body)

        def until(predicate, timeout=120):
            deadline = time.monotonic() + timeout
            while not predicate():
                assert time.monotonic() < deadline, metrics(v)
                time.sleep(0.1)

        until(lambda: metrics(v).get("logbucket_build_index_indexed_total", 0) >= 7)
        groups = api("?failures&format=json")["groups"]
        assert groups[0]["prs"] == 4 and groups[0]["infrastructure"] is True, groups[0]
        assert groups[0]["hosts"] == [{"host": "alibuild-07", "builds": 4}]
        assert "while other hosts passed the same check 2 times" in groups[0]["reason"]
        board = api("AliceO2Group/AliceO2/?board&format=json")
        assert {int(e["pr"]): e["failing"] for e in board["entries"]} == \
            {**{p: True for p in oom}, **{p: False for p in green}, own: True}
        assert api(key(oom[0]) + "?recurring")["others"]["prs"] == 3
        diff = api(key(own) + "?diff")
        # (RGW dates objects to the second: the two green builds may tie)
        assert diff["base"]["key"] in [key(p) for p in green]
        decisive = api(key(own) + "?errors")["errors"][0]["line"]
        assert any(a <= decisive <= b for a, b in diff["shown"])
        assert diff["shown_lines"] * 10 < diff["lines"]
        # Incremental: a new log is found by the next pass, a deleted one forgotten, and the
        # unchanged ones are not read again.
        before = metrics(v)["logbucket_build_index_indexed_total"]
        rgw_s3.put_object(Bucket="alice-index", Key=key(16005), ContentType="text/plain",
                          Body=generated(tmp, "compiler-killed-oom", 3, "alibuild-07", 16005))
        rgw_s3.delete_object(Bucket="alice-index", Key=key(green[0]))
        until(lambda: api("?failures&format=json")["groups"][0]["prs"] == 5)
        until(lambda: len(api("AliceO2Group/AliceO2/?board&format=json")["entries"]) == 7)
        m = metrics(v)
        assert m["logbucket_build_index_indexed_total"] == before + 1, m
        # What it cost: requests per indexed log (a log's read is one ranged GET here).
        assert m["logbucket_build_index_errors_total"] == 0
    finally:
        code, log = v.stop()
        assert code == 0, log[-3000:]
