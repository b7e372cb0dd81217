"""The S3 API through boto3 (Debian's 1.26, in this process): what the CI bot and tools rely on."""
import datetime
import hashlib
import io
import os
import urllib.request

import boto3.s3.transfer
import botocore.exceptions
import pytest


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_bucket_lifecycle(s3):
    s3.create_bucket(Bucket="one-bucket")
    s3.create_bucket(Bucket="two-bucket", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["one-bucket", "two-bucket"]
    # Created again by its owner: 200 in us-east-1, as AWS (legacy) and Ceph RGW answer there.
    s3.create_bucket(Bucket="one-bucket")
    s3.head_bucket(Bucket="one-bucket")
    assert s3.get_bucket_location(Bucket="one-bucket")["LocationConstraint"] is None
    s3.put_object(Bucket="one-bucket", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket="one-bucket")
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="one-bucket", Key="k")
    s3.delete_bucket(Bucket="one-bucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket="one-bucket")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert error_code(e) == "InvalidBucketName"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="three-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(e) == "InvalidArgument"


def test_put_get_head_with_metadata(s3, bucket):
    body = b"Finished building on host at 2026-11-17\n" * 100
    r = s3.put_object(Bucket=bucket, Key="org/repo/1/sha/check/fullLog.txt", Body=body,
                      ContentType="text/plain", ContentDisposition="inline", CacheControl="max-age=60",
                      ContentEncoding="identity", Metadata={"builder": "alibuild", "pr": "14473"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="org/repo/1/sha/check/fullLog.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentEncoding"] == "identity"
    assert got["Metadata"] == {"builder": "alibuild", "pr": "14473"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="org/repo/1/sha/check/fullLog.txt")
    assert head["ETag"] == r["ETag"] and head["ContentLength"] == len(body)
    assert abs((head["LastModified"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 60
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="no-such-bucket", Key="x")
    assert error_code(e) == "NoSuchBucket"
    # Default content type, empty objects, overwrite.
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentType"] == "binary/octet-stream"
    s3.put_object(Bucket=bucket, Key="empty", Body=b"now full")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b"now full"


def test_ranges(s3, bucket):
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {"bytes=0-9": data[0:10], "bytes=100-": data[100:], "bytes=-20": data[-20:],
             "bytes=10000-20000": data[10000:]}
    for header, expected in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == expected, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].endswith("/%d" % len(data))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20000-")
    assert error_code(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    # A syntactically invalid range is ignored, as HTTP says: the whole object comes back.
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=9-3")
    assert got["Body"].read() == data and got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_conditionals(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert error_code(e) == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"v1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["Body"].read() == b"v1"


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="o.txt", ResponseContentType="application/json",
                        ResponseContentDisposition="attachment; filename=o.txt")
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "attachment; filename=o.txt"


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/plain", Metadata={"a": "1"})
    src_etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == src_etag
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload" and got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", ContentType="text/html", Metadata={"b": "2"})
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["ContentType"] == "text/html" and head["Metadata"] == {"b": "2"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst3", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfMatch='"nope"')
    assert error_code(e) == "PreconditionFailed"
    s3.copy_object(Bucket=bucket, Key="dst3", CopySource={"Bucket": bucket, "Key": "src"},
                   CopySourceIfMatch=src_etag)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert error_code(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert error_code(e) == "NoSuchKey"


def test_delete_objects_quiet_and_verbose(s3, bucket):
    for i in range(5):
        s3.put_object(Bucket=bucket, Key="d/%d" % i, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/0"}, {"Key": "d/1"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d/0", "d/1", "never"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/2"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/3", "VersionId": "v9"}]})
    assert r["Errors"][0]["Code"] == "NoSuchVersion"
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["d/3", "d/4"]


def test_list_v1_v2_delimiter_and_pagination(s3, bucket):
    # The CI layout: <org>/<repo>/<pr>/<sha>/<check>/fullLog.txt, 2,500 keys in all.
    keys = []
    for pr in range(25):
        for check in range(50):
            keys.append("AliceO2Group/AliceO2/%d/sha%02d/check_%02d/fullLog.txt" % (pr, pr, check))
    for pr in range(25):
        for check in range(50):
            keys.append("alisw/alidist/%d/latest/build_%02d/pretty.html" % (pr, check))
    keys = keys[:2500]
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"."), keys))
    # v2 paginator over everything, 1000 per page.
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed == sorted(keys) and len(pages) == 3
    # v1 paginator with a small page size.
    listed = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 333})
              for o in p.get("Contents", [])]
    assert listed == sorted(keys)
    # Delimiter: the top of the tree is two common prefixes.
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["AliceO2Group/", "alisw/"]
    assert "Contents" not in top and top["KeyCount"] == 2
    # PR folders under a repo, paginated two at a time with a delimiter (v1 and v2).
    prefix = "AliceO2Group/AliceO2/"
    expected = sorted({prefix + "%d/" % pr for pr in range(25)})
    got = [p["Prefix"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": 2})
        for p in page.get("CommonPrefixes", [])]
    assert got == expected
    got = [p["Prefix"] for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": 2})
        for p in page.get("CommonPrefixes", [])]
    assert got == expected
    # start-after, max-keys, fetch-owner.
    r = s3.list_objects_v2(Bucket=bucket, StartAfter=sorted(keys)[10], MaxKeys=5, FetchOwner=True)
    assert [o["Key"] for o in r["Contents"]] == sorted(keys)[11:16]
    assert r["IsTruncated"] and r["Contents"][0]["Owner"]["ID"] == "admin"
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket, MaxKeys=1)["Contents"][0]
    # Versions listing answers as an unversioned bucket.
    v = s3.list_object_versions(Bucket=bucket, Prefix="alisw/alidist/0/", MaxKeys=3)
    assert [x["VersionId"] for x in v["Versions"]] == ["null"] * 3


def test_awkward_keys(s3, bucket):
    keys = ["with space.txt", "plus+sign", "percent%20literal", "double//slash", "dots/../up",
            "unicode/ñandú/日本語.log", "tilde~and*star", "quote'\"", "amp&lt;", "question?mark",
            "hash#tag", "trailing/", "a" * 1024]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode(), k
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda s: s.encode())
    # Asked for explicitly, boto3 leaves the URL encoding to us.
    import urllib.parse
    listed = [urllib.parse.unquote_plus(o["Key"])
              for o in s3.list_objects(Bucket=bucket, EncodingType="url")["Contents"]]
    assert listed == sorted(keys, key=lambda s: s.encode())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="b" * 1025, Body=b"x")
    assert error_code(e) == "KeyTooLongError"
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert len(r["Deleted"]) == len(keys)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_upload_file_multipart_like_the_ci_bot(s3, bucket, tmp_path):
    path = tmp_path / "fullLog.txt"
    data = os.urandom(50 * 1024 * 1024)
    path.write_bytes(data)
    transfer = boto3.s3.transfer.S3Transfer(s3)
    transfer.upload_file(str(path), bucket, "AliceO2Group/AliceO2/14473/abc/build_O2_fullCI/fullLog.txt",
                         extra_args={"ContentType": "text/plain", "ContentDisposition": "inline"})
    head = s3.head_object(Bucket=bucket, Key="AliceO2Group/AliceO2/14473/abc/build_O2_fullCI/fullLog.txt")
    assert head["ContentType"] == "text/plain" and head["ContentDisposition"] == "inline"
    assert head["ContentLength"] == len(data)
    parts = 50 // 8 + 1  # S3Transfer's default 8 MiB chunks
    md5s = b"".join(hashlib.md5(data[i:i + (8 << 20)]).digest() for i in range(0, len(data), 8 << 20))
    assert head["ETag"] == '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), parts)
    out = tmp_path / "back"
    transfer.download_file(bucket, "AliceO2Group/AliceO2/14473/abc/build_O2_fullCI/fullLog.txt", str(out))
    assert out.read_bytes() == data


def test_multipart_api(s3, bucket):
    part = os.urandom(5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/plain")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    # Re-uploading a part replaces it.
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"tail2")["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part)), (2, 5)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [up]
    other = s3.create_multipart_upload(Bucket=bucket, Key="other")["UploadId"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="mp")["Uploads"]] == ["mp"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="o")["Uploads"]] == ["other"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket, Prefix="zz")
    s3.abort_multipart_upload(Bucket=bucket, Key="other", UploadId=other)
    for bad, code in [([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}], "InvalidPartOrder"),
                      ([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e2}], "InvalidPart"),
                      ([{"PartNumber": 1, "ETag": '"deadbeef"'}], "InvalidPart")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": bad})
        assert error_code(e) == code
    r = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    expected = hashlib.md5(hashlib.md5(part).digest() + hashlib.md5(b"tail2").digest()).hexdigest() + "-2"
    assert r["ETag"] == '"%s"' % expected
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == part + b"tail2" and got["ContentType"] == "text/plain"
    # Parts can be read back by number, as parallel downloaders do.
    p2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert p2["Body"].read() == b"tail2" and p2["PartsCount"] == 2
    assert p2["ContentRange"] == "bytes %d-%d/%d" % (len(part), len(part) + 4, len(part) + 5)
    assert s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)["ContentLength"] == len(part)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert error_code(e) == "InvalidPartNumber"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)
    assert error_code(e) == "NoSuchUpload"

    # EntityTooSmall: a non-last part under 5 MiB.
    up = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    a = s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=1, Body=b"a")["ETag"]
    b = s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": b}]})
    assert error_code(e) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=up)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=3, Body=b"c")
    assert error_code(e) == "NoSuchUpload"

    # UploadPartCopy with a range.
    s3.put_object(Bucket=bucket, Key="source", Body=part + b"0123456789")
    up = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    c1 = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "source"},
                             CopySourceRange="bytes=0-%d" % (len(part) - 1))["CopyPartResult"]["ETag"]
    c2 = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "source"},
                             CopySourceRange="bytes=%d-%d" % (len(part) + 2, len(part) + 4))["CopyPartResult"]["ETag"]
    for bad_range, code in [("bytes=0-%d" % (len(part) + 10), "InvalidRange"), ("bytes=5-3", "InvalidArgument"),
                            ("bytes=-5", "InvalidArgument")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=up, PartNumber=3,
                                CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=bad_range)
        assert error_code(e) == code, bad_range
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": c1}, {"PartNumber": 2, "ETag": c2}]})
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == part + b"234"


def test_presigned_url_with_curl(s3, bucket):
    import subprocess
    s3.put_object(Bucket=bucket, Key="test.txt", Body=b"presigned hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "test.txt"}, ExpiresIn=300)
    out = subprocess.run(["curl", "-sS", "-f", url], capture_output=True, check=True)
    assert out.stdout == b"presigned hello"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=300)
    subprocess.run(["curl", "-sS", "-f", "-X", "PUT", "--data-binary", "via curl", put_url],
                   capture_output=True, check=True)
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"via curl"
    tampered = url.replace("test.txt", "other.txt")
    out = subprocess.run(["curl", "-sS", "-w", "%{http_code}", tampered], capture_output=True, text=True)
    assert out.stdout.endswith("403") and "<Code>SignatureDoesNotMatch</Code>" in out.stdout


def test_auth_errors_and_anonymous(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="test.txt", Body=b"x")
    # Anonymous (the operator's curl check) is denied until a bucket policy allows it.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.endpoint + "/" + bucket + "/test.txt", timeout=10)
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()
    bad_key = server.client(access_key="LBNOSUCHKEY000000000", secret_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad_key.list_buckets()
    assert error_code(e) == "InvalidAccessKeyId"
    bad_secret = server.client(secret_key="y" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad_secret.get_object(Bucket=bucket, Key="test.txt")
    assert error_code(e) == "SignatureDoesNotMatch"


def test_users_are_isolated(server, s3, bucket):
    keys = dict(line.split("=", 1) for line in server.cli("user", "add", "ci-bot").stdout.split())
    bot = server.client(access_key=keys["AWS_ACCESS_KEY_ID"], secret_key=keys["AWS_SECRET_ACCESS_KEY"])
    # The bot owns what it creates and cannot touch the admin's bucket.
    bot.create_bucket(Bucket="bot-bucket")
    bot.put_object(Bucket="bot-bucket", Key="k", Body=b"mine")
    assert [b["Name"] for b in bot.list_buckets()["Buckets"]] == ["bot-bucket"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bot.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_code(e) == "AccessDenied"
    # The admin sees everything.
    assert s3.get_object(Bucket="bot-bucket", Key="k")["Body"].read() == b"mine"
    listing = server.cli("user", "list").stdout
    assert "ci-bot" in listing and keys["AWS_ACCESS_KEY_ID"] in listing
    assert keys["AWS_SECRET_ACCESS_KEY"] not in listing
    rotated = dict(line.split("=", 1) for line in server.cli("user", "rotate", "ci-bot").stdout.split())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bot.list_buckets()
    assert error_code(e) == "InvalidAccessKeyId"
    server.client(access_key=rotated["AWS_ACCESS_KEY_ID"], secret_key=rotated["AWS_SECRET_ACCESS_KEY"]).list_buckets()
    server.cli("user", "remove", "ci-bot")
    assert "ci-bot" not in server.cli("user", "list").stdout
    r = server.cli("user", "remove", "ci-bot", check=False)
    assert r.returncode != 0 and "ci-bot" in r.stderr


def test_unsupported_features_answer_not_implemented(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    calls = [
        lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
        lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
        lambda: s3.put_object(Bucket=bucket, Key="e", Body=b"x", ServerSideEncryption="AES256"),
        lambda: s3.put_object(Bucket=bucket, Key="e", Body=b"x", ObjectLockMode="GOVERNANCE",
                              ObjectLockRetainUntilDate="2030-01-01T00:00:00Z"),
        lambda: s3.get_bucket_website(Bucket=bucket),
        lambda: s3.get_bucket_replication(Bucket=bucket),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "NotImplemented"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    # Nothing was half-done: the SSE and object-lock object does not exist.
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="e")
    # Polite unversioned answers.
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_content_md5_is_verified(s3, bucket):
    import base64
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"data", ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="m", Body=b"changed", ContentMD5=bad)
    assert error_code(e) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"data"
