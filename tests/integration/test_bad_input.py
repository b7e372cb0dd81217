"""Bad input gets the right S3 error and leaves nothing behind. Requests are signed with
botocore's own SigV4 signer and sent raw, so we control every byte on the wire."""
import email.utils
import http.client
import os
import re
import socket
import urllib.parse

import hashlib
import time

import pytest

import sigv4_client


def signed(server, method, path, body=b"", headers=None, payload_hash=None, query="", when=None):
    """(method, target, headers, body) signed with the admin key; payload hash defaults to the
    body's SHA-256."""
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest()
    target, h = sigv4_client.sign(method, server.endpoint, path, server.env["AWS_ACCESS_KEY_ID"],
                                  server.env["AWS_SECRET_ACCESS_KEY"], headers=headers,
                                  payload_hash=payload_hash, query=query, when=when)
    return method, target, h, body


def send(server, req, body_override=None, extra_raw_headers=b"", content_length=None):
    method, target, headers, body = req
    return sigv4_client.raw_request(server.endpoint, method, target, headers,
                                    body if body_override is None else body_override,
                                    extra_raw_headers=extra_raw_headers, content_length=content_length)


def leftovers(server):
    """Files in the store's tmp/ (unfinished uploads must never stay)."""
    return os.listdir(os.path.join(server.data_dir, "tmp"))


def test_wrong_content_length_and_truncated_body(server, s3, bucket):
    # Larger than an inline body (64 KiB), so the server has spilled it to tmp/ when the client
    # goes away: Content-Length says 200000, the client sends 100000 bytes and closes.
    req = signed(server, "PUT", "/%s/short" % bucket, body=b"x" * 200000, payload_hash="UNSIGNED-PAYLOAD")
    status, _, body = send(server, req, body_override=b"x" * 100000, content_length=200000)
    assert status == 400 and b"<Code>IncompleteBody</Code>" in body
    with pytest.raises(Exception):
        s3.head_object(Bucket=bucket, Key="short")
    assert leftovers(server) == []


def test_payload_hash_mismatch(server, s3, bucket):
    # 180 KB: received into tmp/ before the hash is known to be wrong.
    req = signed(server, "PUT", "/%s/k" % bucket, body=b"real body" * 20000,
                 payload_hash=hashlib.sha256(b"other").hexdigest())
    status, _, body = send(server, req)
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in body
    assert leftovers(server) == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_truncated_and_malformed_aws_chunked(server, s3, bucket):
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "11",
               "X-Amz-Trailer": "x-amz-checksum-crc32"}
    good = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    req = signed(server, "PUT", "/%s/chunked" % bucket, body=good, headers=headers,
                 payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    status, _, body = send(server, req)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello world"
    for bad, code in [(good[:20], b"IncompleteBody"),                                   # truncated
                      (good.replace(b"DUoRhQ==", b"AAAAAA=="), b"BadDigest"),            # wrong CRC
                      (b"zz\r\nhello\r\n0\r\n\r\n", b"IncompleteBody"),                  # bad size
                      (good.replace(b"0\r\nx-amz", b"0\r\nx-amz-other:1\r\nx-amz").replace(b"x-amz-checksum-crc32:DUoRhQ==\r\n", b""), b"InvalidRequest")]:
        req = signed(server, "PUT", "/%s/bad-chunked" % bucket, body=bad, headers=headers,
                     payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        status, _, body = send(server, req)
        assert status == 400 and code in body, (bad, body)
    with pytest.raises(Exception):
        s3.head_object(Bucket=bucket, Key="bad-chunked")
    assert leftovers(server) == []


def test_oversized_headers(server, bucket):
    req = signed(server, "GET", "/%s/k" % bucket)
    status, _, body = send(server, req, extra_raw_headers=b"X-Junk: " + b"a" * 100000 + b"\r\n")
    assert status == 400 and b"RequestHeaderSectionTooLarge" in body


def test_oversized_body_is_refused_before_reading(server_factory):
    server = server_factory().start()
    s3 = server.client()
    s3.create_bucket(Bucket="limits")
    server.stop()
    cfg = server.log_path[:-len(".log")] + ".toml"
    with open(cfg, "w") as f:
        f.write("[s3]\nmax_object_bytes = 1000\n")
    server.config_path = cfg  # removed with the server's directory
    server.extra_args = ["--config", cfg]
    server.start()
    s3 = server.client()
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="limits", Key="big", Body=b"x" * 1001)
    assert e.value.response["Error"]["Code"] == "EntityTooLarge"
    s3.put_object(Bucket="limits", Key="ok", Body=b"x" * 1000)
    assert leftovers(server) == []
    os.unlink(cfg)


def test_malformed_xml(server, bucket):
    for path, body in [("/%s?delete" % bucket, b"<Delete><Object><Key>a</Key>"),
                       ("/%s?delete" % bucket, b"<NotDelete/>"),
                       ("/%s?delete" % bucket, b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><Delete><Object><Key>&e;</Key></Object></Delete>"),
                       ("/%s?delete" % bucket, b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>")]:
        bucket_path, _, query = path.partition("?")
        req = signed(server, "POST", bucket_path, body=body, query=query)
        status, _, resp = send(server, req)
        assert status == 400 and b"<Code>MalformedXML</Code>" in resp, (body[:60], resp)
        assert b"root:" not in resp


def test_path_tricks_never_touch_the_filesystem(server, s3, bucket):
    # Keys are database rows, never file paths: ../ and friends are just bytes.
    for key in ["../../../../etc/passwd", "..", ".", "/leading", "a/./b", "%2e%2e/x"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    s3.put_object(Bucket=bucket, Key="../../../../etc/large", Body=b"L" * 100000)  # a blob file
    assert s3.get_object(Bucket=bucket, Key="../../../../etc/large")["Body"].read() == b"L" * 100000
    # Every file in the data directory is one the layout names (docs/formats/data-dir.md): small
    # bodies are rows of meta.sqlite, large ones blobs/ab/cd/<32 hex digits>.
    fixed = {"LOCK", "admin.env", "meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm", "users.version", "reserve",
             "web-session.key", "builds.sqlite", "builds.sqlite-wal", "builds.sqlite-shm"}
    blob_name = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{28}$")
    blobs = []
    for root, _, files in os.walk(server.data_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), server.data_dir)
            assert rel in fixed or blob_name.match(rel), rel
            if rel not in fixed:
                blobs.append(rel)
    assert len(blobs) == 1


def test_nul_and_invalid_utf8_keys_are_rejected(server, bucket):
    for raw in ["/%s/a%%00b" % bucket, "/%s/bad%%FFutf8" % bucket]:
        req = signed(server, "PUT", raw, body=b"x", payload_hash="UNSIGNED-PAYLOAD")
        status, _, body = send(server, req)
        assert status == 400 and b"<Code>InvalidArgument</Code>" in body, body
    assert leftovers(server) == []


def test_unsupported_apis_answer_at_once(server):
    # IAM/STS style form posts are not S3 REST: a proper error, never a hang.
    conn = http.client.HTTPConnection(server.endpoint[7:], timeout=10)
    conn.request("POST", "/", body="Action=ListUsers&Version=2010-05-08",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    assert r.status == 501 and b"NotImplemented" in r.read()
    # A Signature Version 2 header from an unknown key: the SigV4 answer for the same.
    conn.request("GET", "/bucket/key", headers={"Authorization": "AWS AKIA:c2lnbmF0dXJl",
                                                "Date": email.utils.formatdate(usegmt=True)})
    r = conn.getresponse()
    assert r.status == 403 and b"<Code>InvalidAccessKeyId</Code>" in r.read()


def test_skewed_clock(server, bucket):
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    for minutes, expected in [(-20, 403), (20, 403), (-10, 404), (10, 404)]:
        req = signed(server, "GET", "/%s/k" % bucket, when=now + datetime.timedelta(minutes=minutes))
        status, _, body = send(server, req)
        assert status == expected, (minutes, body)
        if expected == 403:
            assert b"<Code>RequestTimeTooSkewed</Code>" in body


def test_expect_100_continue_rejects_before_the_body(server, bucket):
    _, target, headers, _ = signed(server, "PUT", "/no-such-bucket/k", payload_hash="UNSIGNED-PAYLOAD")
    u = urllib.parse.urlsplit(server.endpoint)
    lines = ["PUT %s HTTP/1.1" % target, "Expect: 100-continue", "Content-Length: 100"]
    lines += ["%s: %s" % (k, v) for k, v in headers.items()]
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        first = sock.recv(65536)
    # The server answers the final error without asking for the body.
    assert first.startswith(b"HTTP/1.1 404") and b"NoSuchBucket" in first


def test_conditional_put(server, s3, bucket):
    """If-None-Match: * and If-Match on PUT (S3 conditional writes)."""
    etag = s3.put_object(Bucket=bucket, Key="cp", Body=b"1")["ETag"]
    cases = [({"If-None-Match": "*"}, b"2", 412), ({"If-Match": etag}, b"3", 200),
             ({"If-Match": etag}, b"4", 412),  # no longer the current ETag
             ({"If-None-Match": "*"}, b"5", None)]
    for headers, body, expected in cases:
        key = "cp" if expected is not None else "fresh"
        status, _, resp = send(server, signed(server, "PUT", "/%s/%s" % (bucket, key), body=body, headers=headers))
        assert status == (expected or 200), (headers, resp)
        if status == 412:
            assert b"<Code>PreconditionFailed</Code>" in resp
    # If-Match on a missing key: 404 NoSuchKey, as from AWS (not 412).
    status, _, resp = send(server, signed(server, "PUT", "/%s/never-there" % bucket, body=b"x",
                                          headers={"If-Match": etag}))
    assert status == 404 and b"<Code>NoSuchKey</Code>" in resp
    assert s3.get_object(Bucket=bucket, Key="cp")["Body"].read() == b"3"
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"5"


def _crc(data, poly, width):
    """Reflected CRC with init and xorout all ones (CRC32C, CRC64/NVME)."""
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return (crc ^ mask).to_bytes(width // 8, "big")


def test_every_checksum_algorithm_as_header(server, bucket):
    import base64
    import zlib
    body = b"fullLog.txt line\n" * 300
    algorithms = {
        "crc32": zlib.crc32(body).to_bytes(4, "big"),
        "crc32c": _crc(body, 0x82F63B78, 32),
        "crc64nvme": _crc(body, 0x9A6C9329AC4BC9B5, 64),
        "sha1": hashlib.sha1(body).digest(),
        "sha256": hashlib.sha256(body).digest(),
    }
    for name, digest in algorithms.items():
        value = base64.b64encode(digest).decode()
        header = "x-amz-checksum-" + name
        status, _, resp = send(server, signed(server, "PUT", "/%s/ck-%s" % (bucket, name), body=body, headers={header: value}))
        assert status == 200, (name, resp)
        # Returned on a full read when asked for, never on a range.
        status, head, got = send(server, signed(server, "GET", "/%s/ck-%s" % (bucket, name),
                                                headers={"x-amz-checksum-mode": "ENABLED"}))
        assert status == 200 and got == body
        assert ("%s: %s" % (header, value)).lower() in head.lower(), (name, head)
        status, head, _ = send(server, signed(server, "GET", "/%s/ck-%s" % (bucket, name),
                                              headers={"x-amz-checksum-mode": "ENABLED", "range": "bytes=0-9"}))
        assert status == 206 and header not in head.lower()
        # A wrong value is refused and stores nothing.
        wrong = base64.b64encode(bytes(len(digest))).decode()
        status, _, resp = send(server, signed(server, "PUT", "/%s/bad-%s" % (bucket, name), body=body, headers={header: wrong}))
        assert status == 400 and b"<Code>BadDigest</Code>" in resp, (name, resp)
        status, _, _ = send(server, signed(server, "HEAD", "/%s/bad-%s" % (bucket, name)))
        assert status == 404
    assert leftovers(server) == []


def test_connection_limit_makes_room_then_answers_slowdown(server_factory, tmp_path):
    cfg = tmp_path / "limits.toml"
    cfg.write_text("[http]\nmax_connections = 2\n")
    server = server_factory(extra_args=["--config", str(cfg)]).start()
    server.client().create_bucket(Bucket="bkt")
    host, port = server.endpoint[7:].rsplit(":", 1)
    # Both slots held by idle keep-alive connections, each served once: a new client still gets
    # in, and the longest-idle one is closed to make room (nginx reuses idle keep-alives so).
    idle = []
    for _ in range(2):
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        c.request("GET", "/_health")
        r = c.getresponse()
        r.read()
        assert r.status == 200
        idle.append(c)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/_health")
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    conn.close()
    # Nothing to make room with: every slot (and the slack above the limit) is a request in
    # flight — DeleteObjects bodies half sent, which the server is waiting to read on a worker.
    # The next client is told to slow down, in a properly framed S3 error.
    busy, refused = [], None
    try:
        for _ in range(12):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(b"POST /bkt?delete HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<Delete>")
            s.settimeout(0.5)
            try:
                got = s.recv(65536)
            except socket.timeout:
                got = None  # admitted, its body awaited
            if got is None:
                busy.append(s)
                continue
            refused = got
            s.close()
            break
        assert refused is not None, "12 requests in flight and none refused"
        assert 2 <= len(busy) <= 6, len(busy)  # the limit, plus at most max/16 (at least 4) over
        head, _, body = refused.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"<Code>SlowDown</Code>" in body
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        assert length == len(body) and body.endswith(b"</Error>")
    finally:
        for s in busy:
            s.close()
        for c in idle:
            c.close()
    # Once they are gone, requests are served again.
    deadline = time.monotonic() + 10
    while True:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/_health")
        r = conn.getresponse()
        r.read()
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status == 200


def test_response_overrides_cannot_inject_headers(server, s3, bucket):
    """response-* values come from the (decoded) query string: control characters there must be
    refused, never copied into the response head."""
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x")
    for value in ["inline\r\nX-Injected: yes", "inline\nX-Injected: yes", "a\x00b"]:
        url = s3.generate_presigned_url("get_object", Params={
            "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": value})
        u = urllib.parse.urlsplit(url)
        status, head, body = sigv4_client.raw_request(server.endpoint, "GET", u.path + "?" + u.query,
                                                      {"host": u.netloc})
        assert status == 400 and b"<Code>InvalidArgument</Code>" in body, (value, head)
        assert "x-injected" not in head.lower()
    # An ordinary override still works.
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": "attachment; filename=o.txt"})
    u = urllib.parse.urlsplit(url)
    status, head, body = sigv4_client.raw_request(server.endpoint, "GET", u.path + "?" + u.query, {"host": u.netloc})
    assert status == 200 and "content-disposition: attachment; filename=o.txt" in head.lower()
