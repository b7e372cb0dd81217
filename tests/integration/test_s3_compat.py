"""S3 behaviour that ceph/s3-tests found wrong (issue 15), each with the real client that showed
it: Debian's boto3 1.26 in this process (headers it has no parameter for are added before
signing), the machine's newer boto3 as a subprocess, and raw signed requests for races."""
import base64
import os
import hashlib
import socket
import subprocess
import urllib.parse

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest

import sigv4_client
from test_clients import MODERN_PYTHON, s3cmd_command
from test_policy_lifecycle import add_user


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def with_headers(s3, operation, headers):
    """Adds headers to the next `operation` calls of client `s3` (signed with the request)."""
    def add(request, **kwargs):
        for k, v in headers.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.%s" % operation, add, unique_id="add-%s" % operation)
    return lambda: s3.meta.events.unregister("before-sign.s3.%s" % operation, unique_id="add-%s" % operation)


# ---------------------------------------------------------------- 1. conditional writes

def test_put_if_none_match_star_is_decided_at_the_commit(server, s3, bucket):
    """Two PUTs with If-None-Match: * whose bodies arrive slowly: exactly one creates the
    object, the other gets 412 (the check used to run before the body, so both won)."""
    body = b"x" * 200_000

    def slow_put(sock, key):
        target, h = sigv4_client.sign("PUT", server.endpoint, "/%s/%s" % (bucket, key),
                                      server.env["AWS_ACCESS_KEY_ID"], server.env["AWS_SECRET_ACCESS_KEY"],
                                      headers={"if-none-match": "*"})
        head = "PUT %s HTTP/1.1\r\n" % target + "".join("%s: %s\r\n" % kv for kv in h.items())
        head += "content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        sock.sendall(head.encode() + body[:1000])  # the head and a first bit: the request is in

    for trial in range(3):
        key = "race-%d" % trial
        u = urllib.parse.urlsplit(server.endpoint)
        socks = [socket.create_connection((u.hostname, u.port), timeout=30) for _ in range(2)]
        try:
            for sock in socks:
                slow_put(sock, key)
            for sock in socks:  # both are waiting for their bodies; now finish them
                sock.sendall(body[1000:])
            answers = [int(sigv4_client.read_head(sock).split(b" ", 2)[1]) for sock in socks]
        finally:
            for sock in socks:
                sock.close()
        assert sorted(answers) == [200, 412], (trial, answers)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_put_conditions_follow_aws(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    done = with_headers(s3, "PutObject", {"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")  # another ETag: the write goes ahead
    done()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    done = with_headers(s3, "PutObject", {"If-Match": etag})  # the old ETag: refused
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"three")
    done()
    assert status(e) == 412
    done = with_headers(s3, "PutObject", {"If-Match": etag})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x")
    done()
    assert error_code(e) == "NoSuchKey" and status(e) == 404
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"


def multipart(s3, bucket, key, parts=2, checksum=None):
    extra = {"ChecksumAlgorithm": checksum} if checksum else {}
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    done = []
    for n in range(1, parts + 1):
        data = bytes([n]) * (5 * 1024 * 1024 if n < parts else 1000)
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=data, **extra)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    return upload, done


def test_complete_multipart_honours_conditions_and_a_retry_gets_the_same_answer(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"keep me")
    upload, parts = multipart(s3, bucket, "exists")
    done = with_headers(s3, "CompleteMultipartUpload", {"If-None-Match": "*"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="exists", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
    done()
    assert status(e) == 412
    assert s3.get_object(Bucket=bucket, Key="exists")["Body"].read() == b"keep me"
    # The upload is still there: completing without the condition works, and so does a retry
    # of that completion (its answer lost, as SDKs retry).
    first = s3.complete_multipart_upload(Bucket=bucket, Key="exists", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="exists", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"] and first["ETag"].endswith('-2"')
    # Other parts under the same (finished) upload id are still refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="exists", UploadId=upload,
                                     MultipartUpload={"Parts": parts[:1]})
    assert error_code(e) == "NoSuchUpload"


def test_conditional_deletes_are_honoured_not_ignored(server, s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="d", Body=b"12345")["ETag"]
    head = s3.head_object(Bucket=bucket, Key="d")
    for headers, want in [({"If-Match": '"ffffffffffffffffffffffffffffffff"'}, 412),
                          ({"x-amz-if-match-size": "4"}, 412),
                          ({"x-amz-if-match-last-modified-time": "Fri, 01 Jan 2021 00:00:00 GMT"}, 412),
                          ({"x-amz-if-match-size": "five"}, 400)]:
        done = with_headers(s3, "DeleteObject", headers)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.delete_object(Bucket=bucket, Key="d")
        done()
        assert status(e) == want, headers
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"12345"
    modified = head["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
    done = with_headers(s3, "DeleteObject", {"If-Match": etag, "x-amz-if-match-size": "5",
                                             "x-amz-if-match-last-modified-time": modified})
    s3.delete_object(Bucket=bucket, Key="d")
    done()
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="d")
    # A missing key: nothing to delete, 204, whatever the condition (as S3 and RGW answer).
    done = with_headers(s3, "DeleteObject", {"If-Match": etag})
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    done()
    # DeleteObjects: each object's ETag is a condition of its own.
    a = s3.put_object(Bucket=bucket, Key="a", Body=b"a")["ETag"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    body = ('<Delete><Object><Key>a</Key><ETag>%s</ETag></Object>'
            '<Object><Key>b</Key><ETag>"00000000000000000000000000000000"</ETag></Object></Delete>' % a)
    out = raw_delete_objects(server, bucket, body)
    assert b"<Deleted><Key>a</Key></Deleted>" in out, out
    assert b"<Key>b</Key><Code>PreconditionFailed</Code>" in out, out
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b"


def raw_delete_objects(server, bucket, xml):
    """POST ?delete with a body boto3 1.26 cannot build (per-object ETag), signed here."""
    body = xml.encode()
    target, h = sigv4_client.sign("POST", server.endpoint, "/%s" % bucket, server.env["AWS_ACCESS_KEY_ID"],
                                  server.env["AWS_SECRET_ACCESS_KEY"], query="delete=",
                                  headers={"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    code, _, out = sigv4_client.raw_request(server.endpoint, "POST", target, h, body=body)
    assert code == 200, out
    return out


# ---------------------------------------------------------------- 3. checksums on completion

MODERN_COMPLETE = r'''
import base64, sys, zlib, boto3, botocore.exceptions
endpoint, key_id, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret,
                  region_name="us-east-1")
for kind in ("FULL_OBJECT", "COMPOSITE"):
    key = "sum-" + kind
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType=kind)["UploadId"]
    data = [b"a" * (5 * 1024 * 1024), b"b" * 1000]
    parts = []
    for n, d in enumerate(data, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=d, ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    if kind == "FULL_OBJECT":
        whole = base64.b64encode(zlib.crc32(b"".join(data)).to_bytes(4, "big")).decode()
    else:
        raw = b"".join(base64.b64decode(p["ChecksumCRC32"]) for p in parts)
        whole = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    wrong = base64.b64encode((zlib.crc32(b"other")).to_bytes(4, "big")).decode()
    try:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, ChecksumCRC32=wrong,
                                     ChecksumType=kind, MultipartUpload={"Parts": parts})
        print(kind, "wrong accepted")
    except botocore.exceptions.ClientError as e:
        print(kind, "wrong", e.response["Error"]["Code"])
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, ChecksumCRC32=whole,
                                     ChecksumType=kind, MultipartUpload={"Parts": parts})
    print(kind, "right", r["ChecksumCRC32"] == whole)
'''


def test_complete_multipart_accepts_the_right_object_checksum_and_refuses_a_wrong_one(server, s3, bucket):
    out = subprocess.run([MODERN_PYTHON, "-c", MODERN_COMPLETE, server.endpoint, server.env["AWS_ACCESS_KEY_ID"],
                          server.env["AWS_SECRET_ACCESS_KEY"], bucket],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:4] == ["FULL_OBJECT wrong BadDigest", "FULL_OBJECT right True",
                                          "COMPOSITE wrong BadDigest", "COMPOSITE right True"], out.stdout
    # The refused completion committed nothing: the object is the accepted one.
    assert s3.head_object(Bucket=bucket, Key="sum-FULL_OBJECT")["ContentLength"] == 5 * 1024 * 1024 + 1000


# ---------------------------------------------------------------- 4. blank XML text

def test_blank_xml_text_is_kept(s3, bucket):
    s3.put_object(Bucket=bucket, Key=" ", Body=b"blank key")
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": " "}]})
    assert [d["Key"] for d in out.get("Deleted", [])] == [" "], out
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["other"]
    s3.put_object_tagging(Bucket=bucket, Key="other", Tagging={"TagSet": [{"Key": "t", "Value": " "}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="other")["TagSet"] == [{"Key": "t", "Value": " "}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "few", "Status": "Enabled", "Filter": {"Prefix": " "}, "Expiration": {"Days": 1}}]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["Filter"] == {"Prefix": " "}, rules


# ---------------------------------------------------------------- 5. smaller differences

def test_content_encoding_comes_back_as_sent(s3, bucket):
    s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
    assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"


def test_listing_prefixes_and_tokens_as_clients_read_them(s3, bucket):
    for key in ("a b/1", "a b/2", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # botocore asks for encoding-type=url itself and decodes what it knows is encoded: in
    # version 1 keys and common prefixes, not Prefix; in version 2 Prefix too.
    v1 = s3.list_objects(Bucket=bucket, Prefix="a b/")
    assert v1["Prefix"] == "a b/" and [o["Key"] for o in v1["Contents"]] == ["a b/1", "a b/2"]
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix="a b/")
    assert v2["Prefix"] == "a b/" and [o["Key"] for o in v2["Contents"]] == ["a b/1", "a b/2"]
    # An empty continuation token is no token: the listing starts, and the token is echoed.
    empty = s3.list_objects_v2(Bucket=bucket, ContinuationToken="")
    assert empty["ContinuationToken"] == "" and [o["Key"] for o in empty["Contents"]] == ["a b/1", "a b/2", "c"]


def test_bucket_with_only_unfinished_uploads_can_be_deleted(s3, bucket):
    s3.create_bucket(Bucket="uploads-only")
    s3.create_multipart_upload(Bucket="uploads-only", Key="big")
    s3.delete_bucket(Bucket="uploads-only")
    assert "uploads-only" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.create_bucket(Bucket="uploads-only")  # a new bucket of that name starts empty
    assert s3.list_multipart_uploads(Bucket="uploads-only").get("Uploads", []) == []


def test_get_without_list_permission_does_not_reveal_missing_keys(server, s3, bucket):
    import json
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"hello")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::%s/*" % bucket}]}))
    anonymous = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                             config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                                           s3={"addressing_style": "path"}))
    assert anonymous.get_object(Bucket=bucket, Key="public.txt")["Body"].read() == b"hello"
    for call in (anonymous.get_object, anonymous.head_object):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(Bucket=bucket, Key="missing.txt")
        assert status(e) == 403, call
    with pytest.raises(botocore.exceptions.ClientError) as e:  # the owner may list: 404
        s3.get_object(Bucket=bucket, Key="missing.txt")
    assert error_code(e) == "NoSuchKey"


def test_policy_accepts_documented_condition_keys(s3, bucket):
    import json
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::%s/*" % bucket,
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"},
                       "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}}]}))


def test_list_buckets_pages(s3):
    names = ["page-%02d" % i for i in range(5)]
    for n in names:
        s3.create_bucket(Bucket=n)
    s3.create_bucket(Bucket="other")
    seen, token = [], None
    for _ in range(10):
        kwargs = {"MaxBuckets": 2, "Prefix": "page-"}
        if token:
            kwargs["ContinuationToken"] = token
        out = list_buckets_raw(s3, kwargs)
        seen += out["names"]
        token = out["token"]
        if not token:
            break
    assert seen == names


def list_buckets_raw(s3, params):
    """ListBuckets with max-buckets/prefix/continuation-token (boto3 1.26 has no such parameters)."""
    import xml.etree.ElementTree as ET

    def add_query(request, **kwargs):
        q = urllib.parse.urlencode({{"MaxBuckets": "max-buckets", "Prefix": "prefix",
                                     "ContinuationToken": "continuation-token"}[k]: v for k, v in params.items()})
        request.url += ("&" if "?" in request.url else "?") + q
    captured = {}

    def keep(http_response, **kwargs):
        captured["body"] = http_response.content
    s3.meta.events.register("before-sign.s3.ListBuckets", add_query, unique_id="lb-q")
    s3.meta.events.register("after-call.s3.ListBuckets", keep, unique_id="lb-keep")
    try:
        s3.list_buckets()
    finally:
        s3.meta.events.unregister("before-sign.s3.ListBuckets", unique_id="lb-q")
        s3.meta.events.unregister("after-call.s3.ListBuckets", unique_id="lb-keep")
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    root = ET.fromstring(captured["body"])
    token = root.find(ns + "ContinuationToken")
    return {"names": [b.find(ns + "Name").text for b in root.iter(ns + "Bucket")],
            "token": token.text if token is not None else None}


def test_put_without_a_length_is_refused_not_stored_empty(server, s3, bucket):
    """AWS answers a PUT whose head gives no length (no Content-Length, no chunked framing)
    411 MissingContentLength; it used to store an empty object."""
    for length in (None, 0):
        target, h = sigv4_client.sign("PUT", server.endpoint, "/%s/nolength" % bucket,
                                      server.env["AWS_ACCESS_KEY_ID"], server.env["AWS_SECRET_ACCESS_KEY"])
        code, _, body = sigv4_client.raw_request(server.endpoint, "PUT", target, h, content_length=length)
        if length is None:
            assert code == 411 and b"<Code>MissingContentLength</Code>" in body, body
            with pytest.raises(botocore.exceptions.ClientError):
                s3.head_object(Bucket=bucket, Key="nolength")
        else:
            assert code == 200, body
            assert s3.head_object(Bucket=bucket, Key="nolength")["ContentLength"] == 0


def test_missing_key_is_404_to_whoever_may_list_it(server, s3, bucket):
    """ListBucket allowed for public/* only, GetObject not at all: a missing key under public/
    is 404 (the caller could list it), elsewhere 403 (s3-tests
    test_head_object_404_with_policy_prefix; AWS's rule)."""
    import json
    s3.put_object(Bucket=bucket, Key="public/there", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::%s" % bucket,
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}}]}))
    anonymous = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                             config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                                           s3={"addressing_style": "path"}))
    for key, want in (("public/missing", 404), ("private/missing", 403), ("public/there", 403)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            anonymous.head_object(Bucket=bucket, Key=key)
        assert status(e) == want, key
    # Listing is what the policy allows: under public/ only.
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket, Prefix="public/")["Contents"]] == \
        ["public/there"]


# ---------------------------------------------------------------- 6. Signature Version 2

def test_signature_v2_header_and_presigned_urls(server, bucket, tmp_path):
    """boto3 signing with Signature Version 2 (`signature_version="s3"`, the legacy HMAC-SHA1
    scheme), its presigned URLs (`AWSAccessKeyId=…&Expires=…&Signature=…`, boto3's default in
    us-east-1) through curl, and s3cmd with `signature_v2 = True`: all accepted, with the same
    expiry and key checks as SigV4; a wrong secret is refused."""
    v2 = server.client(signature_version="s3")
    v2.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"v2 body", ContentType="text/plain",
                  Metadata={"k": "v"}, Tagging="t=1")
    got = v2.get_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert got["Body"].read() == b"v2 body" and got["Metadata"] == {"k": "v"}
    v2.create_bucket(Bucket="made-with-v2")
    v2.delete_bucket(Bucket="made-with-v2")
    # Operations whose URI names a sub-resource, which botocore signs doubled ("?tagging?tagging").
    assert v2.get_object_tagging(Bucket=bucket, Key="dir/a b+c.txt")["TagSet"] == [{"Key": "t", "Value": "1"}]
    v2.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    upload = v2.create_multipart_upload(Bucket=bucket, Key="mp-v2")
    part = v2.upload_part(Bucket=bucket, Key="mp-v2", UploadId=upload["UploadId"], PartNumber=1, Body=b"part")
    v2.complete_multipart_upload(Bucket=bucket, Key="mp-v2", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert v2.get_object(Bucket=bucket, Key="mp-v2")["Body"].read() == b"part"
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="dir/")["Contents"]] == ["dir/a b+c.txt"]
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a b+c.txt"},
                                    ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "X-Amz-" not in url
    assert subprocess.run(["curl", "-sS", "-f", url], capture_output=True, timeout=30).stdout == b"v2 body"
    for expires_in, why in ((-10, "expired"), (8 * 24 * 3600, "more than a week")):
        url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a b+c.txt"},
                                        ExpiresIn=expires_in)
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url],
                           capture_output=True, text=True, timeout=30)
        assert r.stdout == "403", why
    # A presigned PUT (V2 signs Content-Type: curl must not add its form type).
    url = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "put-by-url"}, ExpiresIn=300)
    r = subprocess.run(["curl", "-sS", "-f", "-X", "PUT", "-H", "Content-Type:", "--data-binary", "uploaded", url],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert v2.get_object(Bucket=bucket, Key="put-by-url")["Body"].read() == b"uploaded"
    # The wrong secret: SignatureDoesNotMatch with the string to sign, as AWS answers.
    wrong = server.client(secret_key="0" * 40, signature_version="s3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong.get_object(Bucket=bucket, Key="put-by-url")
    assert error_code(e) == "SignatureDoesNotMatch"
    assert e.value.response["Error"]["StringToSign"].startswith("GET\n\n\n")

    s3cmd = s3cmd_command(server, tmp_path, signature_v2=True)
    src = tmp_path / "fullLog.txt"
    src.write_bytes(b"s3cmd v2\n" * 1000)

    def run(args):
        r = subprocess.run(s3cmd + args, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    run(["put", str(src), "s3://%s/pr/1/fullLog.txt" % bucket])
    assert "s3://%s/pr/1/fullLog.txt" % bucket in run(["ls", "--recursive", "s3://%s" % bucket])
    run(["get", "s3://%s/pr/1/fullLog.txt" % bucket, str(tmp_path / "back")])
    assert (tmp_path / "back").read_bytes() == src.read_bytes()
    run(["del", "s3://%s/pr/1/fullLog.txt" % bucket])


def test_policy_sees_the_signature_version(server, s3, bucket):
    """s3:signatureversion is "AWS" for Signature Version 2 and "AWS4-HMAC-SHA256" for 4, so a
    bucket policy can refuse the legacy scheme."""
    import json
    key, secret = add_user(server, "reader")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/reader"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::%s/*" % bucket},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::%s/*" % bucket,
         "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}}}]}))
    assert server.client(key, secret).get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client(key, secret, signature_version="s3").get_object(Bucket=bucket, Key="k")
    assert error_code(e) == "AccessDenied"


# ---------------------------------------------------------------- 7. ACLs

def anonymous_status(url):
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=30)
    return int(r.stdout)


def test_canned_acls_from_ci_scripts(server, s3, bucket, tmp_path):
    """`aws s3 cp --acl public-read` and `s3cmd put --acl-public`, common in CI scripts, used to
    get 501: now the object is readable anonymously (and only that object), and GetObjectAcl
    says why."""
    from test_clients import aws_env, run
    src = tmp_path / "fullLog.txt"
    src.write_bytes(b"public log\n")
    aws = ["/usr/bin/aws", "--endpoint-url", server.endpoint]
    run(aws + ["s3", "cp", "--only-show-errors", "--acl", "public-read", str(src),
               "s3://%s/pr/1/fullLog.txt" % bucket], aws_env(server))
    run(aws + ["s3", "cp", "--only-show-errors", str(src), "s3://%s/pr/1/private.txt" % bucket],
        aws_env(server))
    run(s3cmd_command(server, tmp_path) + ["put", "--acl-public", str(src), "s3://%s/pr/2/fullLog.txt" % bucket])
    base = "%s/%s/" % (server.endpoint, bucket)
    assert anonymous_status(base + "pr/1/fullLog.txt") == 200
    assert anonymous_status(base + "pr/2/fullLog.txt") == 200
    assert anonymous_status(base + "pr/1/private.txt") == 403
    assert anonymous_status(base) == 403  # the bucket itself is not listed
    grants = s3.get_object_acl(Bucket=bucket, Key="pr/1/fullLog.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in grants
    # Made private again: anonymous readers lose it at once.
    s3.put_object_acl(Bucket=bucket, Key="pr/1/fullLog.txt", ACL="private")
    assert anonymous_status(base + "pr/1/fullLog.txt") == 403
    # A copy does not inherit the source's ACL.
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "pr/2/fullLog.txt"})
    assert anonymous_status(base + "copy.txt") == 403
    # Multipart uploads carry theirs to the object.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp.txt", ACL="public-read")
    part = s3.upload_part(Bucket=bucket, Key="mp.txt", UploadId=upload["UploadId"], PartNumber=1, Body=b"mp")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp.txt", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert anonymous_status(base + "mp.txt") == 200
    # The stored ACL is never sent as a header.
    assert not any(k.startswith("x-logbucket") for k in
                   s3.head_object(Bucket=bucket, Key="mp.txt")["ResponseMetadata"]["HTTPHeaders"])


def test_bucket_acl_grants_work_with_the_policy_whose_deny_wins(server, s3, bucket):
    """Grants to another user by id (x-amz-grant-* and an AccessControlPolicy document): READ
    lets them list, WRITE lets them upload (they own what they upload and may read it; the
    bucket owner may too); a bucket policy's explicit Deny still wins over any grant."""
    import json
    key, secret = add_user(server, "ci-bot")
    bot = server.client(key, secret)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bot.list_objects_v2(Bucket=bucket)
    assert error_code(e) == "AccessDenied"
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=bucket, GrantRead='id="ci-bot"', GrantFullControl='id="%s"' % owner)
    assert bot.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bot.put_object(Bucket=bucket, Key="by-bot.txt", Body=b"bot")
    assert error_code(e) == "AccessDenied"
    # The document form, as SDKs send it after reading the current ACL.
    acl = s3.get_bucket_acl(Bucket=bucket)
    acl["Grants"].append({"Grantee": {"Type": "CanonicalUser", "ID": "ci-bot"}, "Permission": "WRITE"})
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Grants": acl["Grants"], "Owner": acl["Owner"]})
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]
            if g["Grantee"].get("ID") == "ci-bot"] == ["READ", "WRITE"]
    bot.put_object(Bucket=bucket, Key="by-bot.txt", Body=b"bot")
    assert bot.get_object(Bucket=bucket, Key="by-bot.txt")["Body"].read() == b"bot"
    assert bot.get_object_acl(Bucket=bucket, Key="by-bot.txt")["Owner"]["ID"] == "ci-bot"
    assert s3.get_object(Bucket=bucket, Key="by-bot.txt")["Body"].read() == b"bot"
    # An unknown user and an e-mail grantee are refused, not ignored.
    for grant, code in (('id="nobody"', "InvalidArgument"), ('emailAddress="a@b.c"', "UnresolvableGrantByEmailAddress")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_acl(Bucket=bucket, GrantRead=grant)
        assert error_code(e) == code
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam:::user/ci-bot"}, "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::%s" % bucket}]}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bot.list_objects_v2(Bucket=bucket)
    assert error_code(e) == "AccessDenied"
    bot.put_object(Bucket=bucket, Key="still-writes.txt", Body=b"w")  # WRITE is not denied


def test_creating_a_bucket_again_cannot_change_its_acl(s3):
    s3.create_bucket(Bucket="acl-bucket", ACL="public-read")
    s3.create_bucket(Bucket="acl-bucket", ACL="public-read")  # the same: 200, as before
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="acl-bucket")
    assert status(e) == 409 and error_code(e) == "BucketAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="acl-bucket", ACL="public-read-wrong")
    assert error_code(e) == "InvalidArgument"


# ---------------------------------------------------------------- 8. CORS

def test_cors_lets_a_page_on_another_origin_read_and_upload(server, s3, bucket):
    """Headless Chromium on another origin: fetch() of a presigned GET works where the bucket's
    CORS rules allow the origin (and ETag is exposed), is blocked where the bucket has none; a
    presigned PUT passes the browser's preflight. The preflight's own answers checked raw."""
    import http.server
    import json
    import os
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>CI dashboard</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    origin = "http://127.0.0.1:%d" % page_server.server_address[1]
    s3.create_bucket(Bucket="no-cors")
    s3.put_object(Bucket=bucket, Key="log.txt", Body=b"hello from logbucket")
    s3.put_object(Bucket="no-cors", Key="log.txt", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert status(e) == 404 and error_code(e) == "NoSuchCORSConfiguration"
    rules = [{"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["content-type"],
              "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    job = {"origin": origin,
           "get": s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "log.txt"}),
           "blocked": s3.generate_presigned_url("get_object", Params={"Bucket": "no-cors", "Key": "log.txt"}),
           "put": s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-page.txt"})}
    try:
        r = subprocess.run(["node", "cors_browser_test.mjs", json.dumps(job)], capture_output=True, text=True,
                           timeout=300, cwd=os.path.join(os.path.dirname(__file__), "..", "js"))
    finally:
        page_server.shutdown()
        page_server.server_close()
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["origin"] == origin
    assert seen["get"].get("status") == 200 and seen["get"]["body"] == "hello from logbucket", seen
    assert seen["get"]["etag"], seen  # exposed by the rule
    assert seen["blocked"]["blocked"] == "TypeError", seen
    # ... and for the right reason: no Access-Control-Allow-Origin on the answer.
    assert any("/no-cors/" in f and "Access-Control-Allow-Origin" in f for f in seen["failures"]), seen  # the browser refused to hand it over
    assert seen["put"]["status"] == 200, seen
    assert s3.get_object(Bucket=bucket, Key="from-page.txt")["Body"].read() == b"uploaded by a page"

    def options(path, headers):
        code, head, body = sigv4_client.raw_request(
            server.endpoint, "OPTIONS", path, {"Host": server.endpoint[len("http://"):], **headers})
        fields = dict((k.strip().lower(), v.strip()) for k, _, v in
                      (line.partition(":") for line in head.split("\r\n")[1:]))
        return code, fields, body

    code, h, _ = options("/%s/log.txt" % bucket, {"Origin": origin, "Access-Control-Request-Method": "GET"})
    assert code == 200 and h["access-control-allow-origin"] == origin
    assert h["access-control-allow-methods"] == "GET, PUT" and h["access-control-max-age"] == "60"
    assert options("/%s/log.txt" % bucket, {"Origin": origin})[0] == 400  # no method asked about
    code, _, body = options("/%s/log.txt" % bucket, {"Origin": "http://elsewhere", "Access-Control-Request-Method": "GET"})
    assert code == 403 and b"<Code>AccessForbidden</Code>" in body
    assert options("/%s/log.txt" % bucket, {"Origin": origin, "Access-Control-Request-Method": "DELETE"})[0] == 403
    assert options("/no-cors/log.txt", {"Origin": origin, "Access-Control-Request-Method": "GET"})[0] == 403
    # A preflight naming more headers than any browser would is refused, not matched at length.
    many = ", ".join("content-type" for _ in range(101))
    assert options("/%s/log.txt" % bucket, {"Origin": origin, "Access-Control-Request-Method": "GET",
                                            "Access-Control-Request-Headers": many})[0] == 403
    assert options("/%s/log.txt" % bucket, {"Origin": origin, "Access-Control-Request-Method": "GET",
                                            "Access-Control-Request-Headers": "content-type"})[0] == 200
    s3.delete_bucket_cors(Bucket=bucket)
    assert options("/%s/log.txt" % bucket, {"Origin": origin, "Access-Control-Request-Method": "GET"})[0] == 403


# ---------------------------------------------------------------- 7b. ownership, public access

def test_object_ownership_controls(server, s3):
    """BucketOwnerEnforced turns ACLs off (the bucket owner owns everything written, an ACL other
    than bucket-owner-full-control is refused); BucketOwnerPreferred hands objects written with
    bucket-owner-full-control to the bucket owner; the controls cannot hide a public bucket ACL."""
    import json
    key, secret = add_user(server, "ci-bot")
    bot = server.client(key, secret)
    s3.create_bucket(Bucket="plain")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket="plain")
    assert status(e) == 404 and error_code(e) == "OwnershipControlsNotFoundError"
    owner = s3.get_bucket_acl(Bucket="plain")["Owner"]["ID"]
    allow_bot = lambda b: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/ci-bot"}, "Action": ["s3:PutObject", "s3:GetObjectAcl"],
         "Resource": "arn:aws:s3:::%s/*" % b}]})

    s3.create_bucket(Bucket="enforced", ObjectOwnership="BucketOwnerEnforced")
    s3.put_bucket_policy(Bucket="enforced", Policy=allow_bot("enforced"))
    assert s3.get_bucket_ownership_controls(Bucket="enforced")["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "BucketOwnerEnforced"}]
    bot.put_object(Bucket="enforced", Key="log", Body=b"x")
    bot.put_object(Bucket="enforced", Key="log2", Body=b"x", ACL="bucket-owner-full-control")
    for k in ("log", "log2"):
        assert bot.get_object_acl(Bucket="enforced", Key=k)["Owner"]["ID"] == owner
    for call in (lambda: bot.put_object(Bucket="enforced", Key="log3", Body=b"x", ACL="private"),
                 lambda: s3.put_bucket_acl(Bucket="enforced", ACL="private"),
                 lambda: s3.put_object_acl(Bucket="enforced", Key="log", ACL="public-read")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert status(e) == 400 and error_code(e) == "AccessControlListNotSupported"

    s3.create_bucket(Bucket="preferred")
    s3.put_bucket_ownership_controls(Bucket="preferred", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.put_bucket_policy(Bucket="preferred", Policy=allow_bot("preferred"))
    bot.put_object(Bucket="preferred", Key="mine", Body=b"x")
    bot.put_object(Bucket="preferred", Key="theirs", Body=b"x", ACL="bucket-owner-full-control")
    assert bot.get_object_acl(Bucket="preferred", Key="mine")["Owner"]["ID"] == "ci-bot"
    assert bot.get_object_acl(Bucket="preferred", Key="theirs")["Owner"]["ID"] == owner

    s3.create_bucket(Bucket="public-acl", ACL="public-read")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_ownership_controls(Bucket="public-acl", OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert error_code(e) == "InvalidBucketAclWithObjectOwnership"
    assert s3.get_bucket_policy_status(Bucket="public-acl")["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_ownership_controls(Bucket="preferred")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket="preferred")
    assert status(e) == 404


def test_public_access_block(server, s3, bucket):
    """The four switches: public ACLs refused (BlockPublicAcls) or ignored (IgnorePublicAcls),
    public policies refused (BlockPublicPolicy) — the production policy, which allows the
    frontend's address only, is not public and still goes in — and a public policy kept from
    anonymous callers (RestrictPublicBuckets)."""
    import json
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"p", ACL="public-read")
    url = "%s/%s/public.txt" % (server.endpoint, bucket)
    assert anonymous_status(url) == 200
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert status(e) == 404 and error_code(e) == "NoSuchPublicAccessBlockConfiguration"

    def block(**flags):
        conf = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False, **flags}
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=conf)
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == conf

    block(IgnorePublicAcls=True)
    assert anonymous_status(url) == 403
    block(BlockPublicAcls=True)
    assert anonymous_status(url) == 200  # no longer ignored; only new public ACLs are refused
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new.txt", Body=b"n", ACL="public-read")
    assert status(e) == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=bucket, Key="public.txt", ACL="authenticated-read")
    assert status(e) == 403
    s3.put_object(Bucket=bucket, Key="new.txt", Body=b"n", ACL="private")

    public = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % bucket}]}
    frontend_only = json.loads(json.dumps(public))
    frontend_only["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}
    block(BlockPublicPolicy=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    assert status(e) == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(frontend_only))
    assert anonymous_status("%s/%s/new.txt" % (server.endpoint, bucket)) == 200

    block()
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    assert anonymous_status("%s/%s/new.txt" % (server.endpoint, bucket)) == 200
    block(RestrictPublicBuckets=True)
    assert anonymous_status("%s/%s/new.txt" % (server.endpoint, bucket)) == 403
    assert s3.get_object(Bucket=bucket, Key="new.txt")["Body"].read() == b"n"  # the owner still reads
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous_status("%s/%s/new.txt" % (server.endpoint, bucket)) == 200


# ---------------------------------------------------------------- 9. GetObjectAttributes

def test_get_object_attributes(s3, bucket):
    """ETag, checksum, size, storage class and the parts of a multipart object, paged, from the
    metadata alone; an unknown attribute is refused."""
    put = s3.put_object(Bucket=bucket, Key="small", Body=b"x" * 1024, ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="small",
                                   ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    assert got["ETag"] == put["ETag"].strip('"') and got["ObjectSize"] == 1024
    assert got["StorageClass"] == "STANDARD" and "ObjectParts" not in got
    assert got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 7]
    parts = []
    for n, size in enumerate(sizes, 1):
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=n, Body=b"p" * size)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    got = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ETag", "ObjectParts", "ObjectSize"],
                                   MaxParts=1, PartNumberMarker=1)
    assert got["ETag"] == done["ETag"].strip('"') and got["ObjectSize"] == sum(sizes)
    op = got["ObjectParts"]
    assert (op["TotalPartsCount"], op["PartNumberMarker"], op["NextPartNumberMarker"], op["MaxParts"],
            op["IsTruncated"]) == (3, 1, 2, 1, True)
    assert op["Parts"] == [{"PartNumber": 2, "Size": 5 * 1024 * 1024}]
    rest = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=2)["ObjectParts"]
    assert rest["IsTruncated"] is False and rest["Parts"] == [{"PartNumber": 3, "Size": 7}]
    beyond = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ObjectParts"],
                                      PartNumberMarker=10 ** 9)["ObjectParts"]
    assert beyond["IsTruncated"] is False and "Parts" not in beyond
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["Colour"])
    assert error_code(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert error_code(e) == "NoSuchKey"


# ---------------------------------------------------------------- what Ceph RGW accepts

def test_what_the_production_rgw_accepts_is_accepted(s3, bucket):
    """Production is Ceph RGW: its `allow-unordered=true` listing parameter (refused with a
    delimiter, as there), HEAD bucket's `?read-stats=true`, and a lifecycle Filter with Prefix
    and Tag side by side (RGW requires both; AWS wants <And>) work here as they do there."""
    for key in ("b", "a", "c/d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    def unordered(request, **kwargs):
        request.url += ("&" if "?" in request.url else "?") + "allow-unordered=true"
    s3.meta.events.register("before-sign.s3.ListObjects", unordered)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]) == ["a", "b", "c/d"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects(Bucket=bucket, Delimiter="/")
    assert status(e) == 400 and error_code(e) == "InvalidArgument"
    s3.meta.events.unregister("before-sign.s3.ListObjects", unordered)

    # HEAD with ?read-stats=true: RGW's object count and bytes used.
    def read_stats(request, **kwargs):
        request.params["read-stats"] = "true"
    s3.meta.events.register("request-created.s3.HeadBucket", read_stats)
    headers = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["x-rgw-object-count"], headers["x-rgw-bytes-used"]) == ("3", "3")
    s3.meta.events.unregister("request-created.s3.HeadBucket", read_stats)
    assert "x-rgw-object-count" not in s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]

    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Expiration": {"Days": 1},
         "Filter": {"Prefix": "tmp/", "Tag": {"Key": "kind", "Value": "scratch"}}}]})
    rule = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert rule["Filter"] == {"And": {"Prefix": "tmp/", "Tags": [{"Key": "kind", "Value": "scratch"}]}}
    tagged = s3.put_object(Bucket=bucket, Key="tmp/x", Body=b"x", Tagging="kind=scratch")
    plain = s3.put_object(Bucket=bucket, Key="tmp/y", Body=b"x")
    assert "x-amz-expiration" in tagged["ResponseMetadata"]["HTTPHeaders"]
    assert "x-amz-expiration" not in plain["ResponseMetadata"]["HTTPHeaders"]


def test_part_checksums_are_kept_with_the_object(server):
    """boto3 1.43 (2025 checksum defaults): a multipart upload with SHA-256 part checksums; after
    completion each part read whole (partNumber=N) carries its own checksum and the object's
    checksum type, and GetObjectAttributes lists them."""
    script = r'''
import base64, hashlib, sys, boto3, botocore.config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="sums")
up = s3.create_multipart_upload(Bucket="sums", Key="k", ChecksumAlgorithm="SHA256", ChecksumType="COMPOSITE")
bodies = [b"A" * (5 * 1024 * 1024), b"B" * 10]
sums = [base64.b64encode(hashlib.sha256(b).digest()).decode() for b in bodies]
parts = []
for n, (b, c) in enumerate(zip(bodies, sums), 1):
    r = s3.upload_part(Bucket="sums", Key="k", UploadId=up["UploadId"], PartNumber=n, Body=b,
                       ChecksumAlgorithm="SHA256", ChecksumSHA256=c)
    parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
done = s3.complete_multipart_upload(Bucket="sums", Key="k", UploadId=up["UploadId"],
                                    MultipartUpload={"Parts": parts})
assert done["ChecksumType"] == "COMPOSITE", done
for n, c in enumerate(sums, 1):
    got = s3.get_object(Bucket="sums", Key="k", PartNumber=n, ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == c and got["ChecksumType"] == "COMPOSITE", (n, got)
    assert got["Body"].read() == bodies[n - 1]
attrs = s3.get_object_attributes(Bucket="sums", Key="k", ObjectAttributes=["Checksum", "ObjectParts"])
assert [p["ChecksumSHA256"] for p in attrs["ObjectParts"]["Parts"]] == sums, attrs
assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
print("part-checksums-ok")
'''
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.env["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=server.env["AWS_SECRET_ACCESS_KEY"], AWS_CONFIG_FILE="/dev/null")
    r = subprocess.run([MODERN_PYTHON, "-c", script, server.endpoint], capture_output=True, text=True,
                       timeout=300, env=env)
    assert "part-checksums-ok" in r.stdout, r.stdout + r.stderr


def test_tag_sets_come_back_by_key(s3, bucket):
    """`x-amz-tagging: foo=bar&bar` (a tag without a value) is two tags, listed by key whatever
    order they were sent in (s3-tests test_put_obj_with_tags)."""
    undo = with_headers(s3, "PutObject", {"x-amz-tagging": "foo=bar&bar"})
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x")
    undo()
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == \
        [{"Key": "bar", "Value": ""}, {"Key": "foo", "Value": "bar"}]
