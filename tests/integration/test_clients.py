"""Real clients, unchanged: awscli v2 (Debian), s3cmd, rclone, curl, the AWS SDK for JavaScript v3
(npm, newest) and the machine's newer boto3 (2025 checksum defaults), each as a subprocess."""
import hashlib
import json
import os
import shutil
import subprocess
import zlib
import base64

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODERN_PYTHON = os.path.expanduser("~/.pyenv/versions/3.11.7/bin/python3")


def run(cmd, env=None, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd[0], r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r.stdout


def aws_env(server):
    env = dict(os.environ)
    env.update(server.env)
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return env


def test_awscli(server, tmp_path):
    aws = ["/usr/bin/aws", "--endpoint-url", server.endpoint]
    env = aws_env(server)
    run(aws + ["s3", "mb", "s3://cli-bucket"], env)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.log": os.urandom(20 * 1024 * 1024), "sub/c d.txt": b"spaced\n"}
    for name, data in files.items():
        (src / name).write_bytes(data)
    run(aws + ["s3", "sync", "--only-show-errors", str(src), "s3://cli-bucket/logs"], env)
    out = run(aws + ["s3", "ls", "--recursive", "s3://cli-bucket/logs/"], env)
    assert sorted(line.split(None, 3)[3] for line in out.splitlines()) == sorted("logs/" + n for n in files)
    # A second sync has nothing to do.
    assert run(aws + ["s3", "sync", str(src), "s3://cli-bucket/logs"], env).strip() == ""
    dst = tmp_path / "dst"
    run(aws + ["s3", "cp", "--only-show-errors", "--recursive", "s3://cli-bucket/logs", str(dst)], env)
    for name, data in files.items():
        assert (dst / name).read_bytes() == data
    meta = json.loads(run(aws + ["s3api", "head-object", "--bucket", "cli-bucket", "--key", "logs/a.txt"], env))
    assert meta["ContentLength"] == 6
    run(aws + ["s3api", "put-object", "--bucket", "cli-bucket", "--key", "x.html", "--body", str(src / "a.txt"),
               "--content-type", "text/html", "--content-disposition", "inline"], env)
    meta = json.loads(run(aws + ["s3api", "head-object", "--bucket", "cli-bucket", "--key", "x.html"], env))
    assert meta["ContentType"] == "text/html" and meta["ContentDisposition"] == "inline"
    run(aws + ["s3", "rm", "--only-show-errors", "--recursive", "s3://cli-bucket/"], env)
    assert run(aws + ["s3", "ls", "--recursive", "s3://cli-bucket/"], env).strip() == ""
    run(aws + ["s3", "rb", "s3://cli-bucket"], env)


def s3cmd_command(server, tmp_path, signature_v2=False):
    """s3cmd for `server` (plain HTTP, path style), its configuration written into tmp_path."""
    host = server.endpoint[len("http://"):]
    cfg = tmp_path / "s3cfg"
    cfg.write_text("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"
                   "use_https = False\nsignature_v2 = %s\nbucket_location = us-east-1\n"
                   % (server.env["AWS_ACCESS_KEY_ID"], server.env["AWS_SECRET_ACCESS_KEY"], host, host,
                      signature_v2))
    return ["s3cmd", "-c", str(cfg), "--no-progress"]


def test_s3cmd(server, tmp_path):
    s3cmd = s3cmd_command(server, tmp_path)
    run(s3cmd + ["mb", "s3://s3cmd-bucket"])
    f = tmp_path / "fullLog.txt"
    f.write_bytes(b"log line\n" * 100000)
    run(s3cmd + ["put", str(f), "s3://s3cmd-bucket/pr/1/fullLog.txt"])
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(17 * 1024 * 1024))  # multipart with s3cmd's 15 MiB chunks
    run(s3cmd + ["put", str(big), "s3://s3cmd-bucket/big.bin"])
    listing = run(s3cmd + ["ls", "--recursive", "s3://s3cmd-bucket"])
    assert "s3://s3cmd-bucket/pr/1/fullLog.txt" in listing and "s3://s3cmd-bucket/big.bin" in listing
    out = tmp_path / "back"
    run(s3cmd + ["get", "s3://s3cmd-bucket/pr/1/fullLog.txt", str(out)])
    assert out.read_bytes() == f.read_bytes()
    run(s3cmd + ["get", "s3://s3cmd-bucket/big.bin", str(tmp_path / "big.back")])
    assert (tmp_path / "big.back").read_bytes() == big.read_bytes()
    run(s3cmd + ["del", "s3://s3cmd-bucket/pr/1/fullLog.txt", "s3://s3cmd-bucket/big.bin"])
    assert "fullLog.txt" not in run(s3cmd + ["ls", "--recursive", "s3://s3cmd-bucket"])
    run(s3cmd + ["rb", "s3://s3cmd-bucket"])


def test_rclone(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"RCLONE_CONFIG_LB_TYPE": "s3", "RCLONE_CONFIG_LB_PROVIDER": "Other",
                "RCLONE_CONFIG_LB_ENDPOINT": server.endpoint,
                "RCLONE_CONFIG_LB_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
                "RCLONE_CONFIG_LB_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"],
                "RCLONE_CONFIG_LB_REGION": "us-east-1", "RCLONE_CONFIG": "/dev/null"})
    src = tmp_path / "src"
    (src / "deep" / "er").mkdir(parents=True)
    for i in range(30):
        (src / ("f%02d.txt" % i)).write_bytes(os.urandom(1000 + i))
    (src / "deep" / "er" / "big.bin").write_bytes(os.urandom(12 * 1024 * 1024))
    run(["rclone", "mkdir", "lb:rclone-bucket"], env)
    run(["rclone", "copy", str(src), "lb:rclone-bucket/data", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"], env)
    run(["rclone", "check", str(src), "lb:rclone-bucket/data"], env)
    # check must notice a difference.
    (src / "f00.txt").write_bytes(b"changed")
    r = subprocess.run(["rclone", "check", str(src), "lb:rclone-bucket/data"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0
    out = tmp_path / "out"
    run(["rclone", "copy", "lb:rclone-bucket/data", str(out)], env)
    assert (out / "deep" / "er" / "big.bin").read_bytes() == (src / "deep" / "er" / "big.bin").read_bytes()
    run(["rclone", "purge", "lb:rclone-bucket"], env)


def test_javascript_sdk_v3(server, s3):
    if not os.path.isdir(os.path.join(ROOT, "tests/js/node_modules/@aws-sdk/client-s3")):
        pytest.fail("tests/js/node_modules missing: run scripts/install-deps")
    s3.create_bucket(Bucket="js-bucket")
    env = aws_env(server)
    out = run(["node", os.path.join(ROOT, "tests/js/s3_client_test.mjs"), server.endpoint, "js-bucket"], env,
              cwd=os.path.join(ROOT, "tests/js"))
    results = json.loads(out.strip().splitlines()[-1])
    assert results["put_etag_ok"] and results["get_ok"] and results["multipart_ok"] and results["multipart_etag_ok"]
    body = b"hello from the JavaScript SDK\n" * 1000
    expected_crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    # The SDK sent its CRC32 as an aws-chunked trailer; we verified, stored and returned it.
    assert results["put_checksum"] == expected_crc and results["get_checksum"] == expected_crc
    assert results["listed"] == ["js/multi.bin", "js/small.txt"]
    assert results["deleted"] == ["js/multi.bin", "js/small.txt"]


MODERN_BOTO = r'''
import base64, hashlib, os, sys, zlib, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
b = sys.argv[2]
data = os.urandom(3 * 1024 * 1024 + 17)
r = s3.put_object(Bucket=b, Key="modern/put.bin", Body=data)
assert r["ChecksumCRC32"] == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(), r
g = s3.get_object(Bucket=b, Key="modern/put.bin", ChecksumMode="ENABLED")
assert g["Body"].read() == data and g["ChecksumCRC32"] == r["ChecksumCRC32"]
big = os.urandom(20 * 1024 * 1024)
open("/tmp/lb-modern-%d" % os.getpid(), "wb").write(big)
s3.upload_file("/tmp/lb-modern-%d" % os.getpid(), b, "modern/big.bin",
               ExtraArgs={"ContentType": "text/plain", "ContentDisposition": "inline"},
               Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20))
s3.download_file(b, "modern/big.bin", "/tmp/lb-modern-back-%d" % os.getpid())
assert open("/tmp/lb-modern-back-%d" % os.getpid(), "rb").read() == big
os.unlink("/tmp/lb-modern-%d" % os.getpid()); os.unlink("/tmp/lb-modern-back-%d" % os.getpid())
h = s3.head_object(Bucket=b, Key="modern/big.bin", ChecksumMode="ENABLED")
assert h["ContentType"] == "text/plain" and h["ETag"].endswith('-3"'), h
d = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "modern/put.bin"}, {"Key": "modern/big.bin"}]})
assert sorted(x["Key"] for x in d["Deleted"]) == ["modern/big.bin", "modern/put.bin"], d
print("modern-boto3-ok", boto3.__version__)
'''


def test_modern_boto3_with_default_checksums(server, s3, tmp_path):
    if not os.path.exists(MODERN_PYTHON):
        pytest.skip("no pyenv python with a 2025 boto3 on this machine")
    s3.create_bucket(Bucket="modern-bucket")
    script = tmp_path / "modern.py"
    script.write_text(MODERN_BOTO)
    env = aws_env(server)
    env.pop("AWS_ENDPOINT_URL", None)
    out = run([MODERN_PYTHON, str(script), server.endpoint, "modern-bucket"], env)
    assert "modern-boto3-ok" in out


def test_virtual_hosted_style(server_factory, monkeypatch):
    """<bucket>.<domain> requests (the operator's `curl <bucket>.<s3-host>/test.txt` form)."""
    import socket
    import boto3
    import botocore.config
    server = server_factory(extra_args=["--domain", "s3.localhost"]).start()
    port = server.endpoint.rsplit(":", 1)[1]
    real_getaddrinfo = socket.getaddrinfo

    def resolve_test_domain(host, *args, **kwargs):  # no DNS here: *.s3.localhost is loopback
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve_test_domain)
    vhost = boto3.client("s3", endpoint_url="http://s3.localhost:%s" % port, region_name="us-east-1",
                         aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                         config=botocore.config.Config(s3={"addressing_style": "virtual"}, signature_version="s3v4"))
    vhost.create_bucket(Bucket="vhost-bucket")
    vhost.put_object(Bucket="vhost-bucket", Key="test.txt", Body=b"virtual\n")
    assert vhost.get_object(Bucket="vhost-bucket", Key="test.txt")["Body"].read() == b"virtual\n"
    assert [o["Key"] for o in vhost.list_objects_v2(Bucket="vhost-bucket")["Contents"]] == ["test.txt"]
    # The same object path-style.
    assert server.client().get_object(Bucket="vhost-bucket", Key="test.txt")["Body"].read() == b"virtual\n"
    # curl on a presigned virtual-host URL.
    url = vhost.generate_presigned_url("get_object", Params={"Bucket": "vhost-bucket", "Key": "test.txt"})
    assert url.startswith("http://vhost-bucket.s3.localhost:")
    out = run(["curl", "-sS", "-f", "--resolve", "vhost-bucket.s3.localhost:%s:127.0.0.1" % port, url])
    assert out == "virtual\n"
    assert "GET /test.txt?" in server.read_log()  # the bucket really came from the Host header
    # Signature Version 2 signs the Host's bucket as part of the path.
    v2 = boto3.client("s3", endpoint_url="http://s3.localhost:%s" % port, region_name="us-east-1",
                      aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                      config=botocore.config.Config(s3={"addressing_style": "virtual"}, signature_version="s3"))
    assert v2.get_object(Bucket="vhost-bucket", Key="test.txt")["Body"].read() == b"virtual\n"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": "vhost-bucket", "Key": "test.txt"})
    assert "AWSAccessKeyId=" in url
    out = run(["curl", "-sS", "-f", "--resolve", "vhost-bucket.s3.localhost:%s:127.0.0.1" % port, url])
    assert out == "virtual\n"
