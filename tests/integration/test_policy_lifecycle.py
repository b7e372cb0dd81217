"""Bucket policy with anonymous access by source IP, and lifecycle expiration, on real TCP.

The server listens on 127.0.0.1; clients bind other loopback source addresses (127.0.0.2 is
"the frontend", 127.0.0.3 "somewhere else") so aws:SourceIp conditions are exercised for real.
"""
import json
import os
import subprocess
import time

import botocore.exceptions
import pytest

from test_clients import aws_env, run

FRONTEND = "127.0.0.2"
ELSEWHERE = "127.0.0.3"


def add_user(server, name):
    out = server.cli("user", "add", name).stdout
    env = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]


def production_policy(bucket, frontends, bot="alibot"):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "BotReadWrite", "Effect": "Allow",
             "Principal": {"AWS": ["arn:aws:iam:::user/%s" % bot]},
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]},
            {"Sid": "FrontendRead", "Effect": "Allow", "Principal": "*",
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket],
             "Condition": {"IpAddress": {"aws:SourceIp": ["%s/32" % ip for ip in frontends]}}},
        ],
    }


def curl(url, source, *extra):
    """Anonymous (or --aws-sigv4 signed) curl from a given loopback source address."""
    r = subprocess.run(["curl", "-s", "--interface", source, "-o", "-", "-w", "\n%{http_code}",
                        *extra, url], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def signed(key, secret):
    # S3 requires x-amz-content-sha256; curl signs it when given.
    return ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "%s:%s" % (key, secret),
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]


def test_anonymous_read_by_source_ip(server, s3, bucket):
    bot_key, bot_secret = add_user(server, "alibot")
    s3.put_object(Bucket=bucket, Key="test.txt", Body=b"hello from the bucket\n")
    url = "%s/%s/test.txt" % (server.endpoint, bucket)

    # No policy: nobody but the owner gets in.
    assert curl(url, FRONTEND)[0] == 403
    assert curl(url, ELSEWHERE, *signed(bot_key, bot_secret))[0] == 403

    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(production_policy(bucket, [FRONTEND])))
    code, body = curl(url, FRONTEND)
    assert (code, body) == (200, "hello from the bucket\n")
    code, body = curl(url, ELSEWHERE)
    assert code == 403 and "<Code>AccessDenied</Code>" in body
    # The explanation is logged server-side, never sent to the client.
    assert "FrontendRead" not in body and ELSEWHERE not in body
    log = server.read_log()
    assert "access denied" in log and "'FrontendRead'" in log and ELSEWHERE in log

    # Listing is allowed to the frontend too, writing is not.
    code, body = curl("%s/%s?list-type=2" % (server.endpoint, bucket), FRONTEND)
    assert code == 200 and "<Key>test.txt</Key>" in body
    code, _ = curl("%s/%s/new.txt" % (server.endpoint, bucket), FRONTEND, "-X", "PUT", "--data-binary", "x")
    assert code == 403

    # The bot user reads and writes from anywhere.
    code, _ = curl("%s/%s/from-bot.txt" % (server.endpoint, bucket), ELSEWHERE, "-X", "PUT",
                   "--data-binary", "bot data", *signed(bot_key, bot_secret))
    assert code == 200
    assert s3.get_object(Bucket=bucket, Key="from-bot.txt")["Body"].read() == b"bot data"
    assert curl(url, ELSEWHERE, *signed(bot_key, bot_secret)) == (200, "hello from the bucket\n")
    # ...but only what the policy grants: no policy management for the bot.
    code, _ = curl("%s/%s?policy" % (server.endpoint, bucket), ELSEWHERE, *signed(bot_key, bot_secret))
    assert code == 403

    # Policy deleted: anonymous is denied again.
    s3.delete_bucket_policy(Bucket=bucket)
    assert curl(url, FRONTEND)[0] == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_source_ip_through_trusted_proxy(server_factory):
    server = server_factory(extra_args=["--trusted-proxy", "127.0.0.9/32"]).start()
    s3 = server.client()
    s3.create_bucket(Bucket="logs")
    s3.put_object(Bucket="logs", Key="test.txt", Body=b"ok")
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps(production_policy("logs", [FRONTEND], bot="admin")))
    url = server.endpoint + "/logs/test.txt"
    # The trusted proxy forwards the frontend's requests: the first untrusted hop counts.
    assert curl(url, "127.0.0.9", "-H", "X-Forwarded-For: %s" % FRONTEND) == (200, "ok")
    assert curl(url, "127.0.0.9", "-H", "X-Forwarded-For: %s" % ELSEWHERE)[0] == 403
    # The same header from an untrusted peer is ignored (spoofing does not help).
    assert curl(url, ELSEWHERE, "-H", "X-Forwarded-For: %s" % FRONTEND)[0] == 403
    # aws:SecureTransport: only the trusted proxy can vouch that the client used TLS.
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    assert curl(url, "127.0.0.9", "-H", "X-Forwarded-Proto: https") == (200, "ok")
    assert curl(url, "127.0.0.9")[0] == 403
    assert curl(url, ELSEWHERE, "-H", "X-Forwarded-Proto: https")[0] == 403


def test_deny_overrides_and_owner_rules(server, s3, bucket):
    eve_key, eve_secret = add_user(server, "eve")
    eve = server.client(eve_key, eve_secret)
    s3.put_object(Bucket=bucket, Key="a/secret.txt", Body=b"s")
    s3.put_object(Bucket=bucket, Key="b/public.txt", Body=b"p")
    # Another user: nothing without a policy.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        eve.get_object(Bucket=bucket, Key="b/public.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadAll", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::%s/*" % bucket},
        {"Sid": "NotSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::%s/a/*" % bucket}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert eve.get_object(Bucket=bucket, Key="b/public.txt")["Body"].read() == b"p"
    for client in (eve, s3):  # an explicit Deny binds the owner too
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.get_object(Bucket=bucket, Key="a/secret.txt")
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    # DeleteObjects is checked per key.
    result = eve.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b/public.txt"}]})
    assert result["Errors"][0]["Code"] == "AccessDenied"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    # A deny-everything policy cannot lock the admin out of the policy itself.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::%s" % bucket,
                                                                           "arn:aws:s3:::%s/*" % bucket]}]}))
    with pytest.raises(botocore.exceptions.ClientError):
        s3.list_objects_v2(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2


def test_policy_bad_input_keeps_previous(server, s3, bucket):
    good = json.dumps(production_policy(bucket, [FRONTEND], bot="admin"))
    s3.put_bucket_policy(Bucket=bucket, Policy=good)
    bad = {
        "not json": "{",
        "too large": json.dumps({"Id": "x" * 21000, **json.loads(good)}),
        "deep": '{"Statement":' + "[" * 200 + "]" * 200 + "}",
        "unknown operator": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                                       "Action": "s3:GetObject", "Resource": "*",
                                                       "Condition": {"IpAddres": {"aws:SourceIp": "10.0.0.1"}}}]}),
        "unknown user": json.dumps(production_policy(bucket, [FRONTEND], bot="nobody")),
        "other bucket": json.dumps(production_policy("another-bucket", [FRONTEND], bot="admin")),
    }
    for name, doc in bad.items():
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=doc)
        assert e.value.response["Error"]["Code"] == "MalformedPolicy", name
        assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == good, name
    # Non-UTF-8 bytes, sent raw.
    import hashlib
    import sigv4_client
    body = b'{"Id":"caf\xe9","Statement":[]}'
    target, headers = sigv4_client.sign("PUT", server.endpoint, "/%s" % bucket, server.env["AWS_ACCESS_KEY_ID"],
                                        server.env["AWS_SECRET_ACCESS_KEY"], query="policy",
                                        payload_hash=hashlib.sha256(body).hexdigest())
    status, _, body = sigv4_client.raw_request(server.endpoint, "PUT", target, headers, body)
    assert status == 400 and b"MalformedPolicy" in body
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == good


def test_policy_with_awscli_and_s3cmd(server, bucket, tmp_path):
    aws = ["/usr/bin/aws", "--endpoint-url", server.endpoint]
    env = aws_env(server)
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(production_policy(bucket, [FRONTEND], bot="admin")))
    run(aws + ["s3api", "put-bucket-policy", "--bucket", bucket, "--policy", "file://%s" % policy_file], env)
    got = json.loads(json.loads(run(aws + ["s3api", "get-bucket-policy", "--bucket", bucket], env))["Policy"])
    assert got["Statement"][1]["Sid"] == "FrontendRead"
    run(aws + ["s3api", "delete-bucket-policy", "--bucket", bucket], env)

    host = server.endpoint[len("http://"):]
    cfg = tmp_path / "s3cfg"
    cfg.write_text("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"
                   "use_https = False\nsignature_v2 = False\n"
                   % (server.env["AWS_ACCESS_KEY_ID"], server.env["AWS_SECRET_ACCESS_KEY"], host, host))
    s3cmd = ["s3cmd", "-c", str(cfg)]
    run(s3cmd + ["setpolicy", str(policy_file), "s3://%s" % bucket])
    assert "FrontendRead" in run(s3cmd + ["info", "s3://%s" % bucket])
    assert curl("%s/%s?list-type=2" % (server.endpoint, bucket), FRONTEND)[0] == 200
    run(s3cmd + ["delpolicy", "s3://%s" % bucket])
    assert curl("%s/%s?list-type=2" % (server.endpoint, bucket), FRONTEND)[0] == 403

    # Lifecycle through s3cmd and awscli.
    run(s3cmd + ["expire", "s3://%s" % bucket, "--expiry-days=60", "--expiry-prefix=alisw/"])
    rules = json.loads(run(aws + ["s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket], env))["Rules"]
    assert rules[0]["Expiration"]["Days"] == 60 and rules[0]["Status"] == "Enabled"
    lifecycle = tmp_path / "lifecycle.json"
    lifecycle.write_text(json.dumps({"Rules": [{"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": ""},
                                                "Expiration": {"Days": 60},
                                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}))
    run(aws + ["s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
               "--lifecycle-configuration", "file://%s" % lifecycle], env)
    rules = json.loads(run(aws + ["s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket], env))["Rules"]
    assert [r["ID"] for r in rules] == ["expire-logs"]
    assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2
    run(aws + ["s3api", "delete-bucket-lifecycle", "--bucket", bucket], env)
    r = subprocess.run(aws + ["s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "NoSuchLifecycleConfiguration" in r.stderr


def test_lifecycle_config_and_expiration_header(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "logs60", "Status": "Enabled", "Filter": {"Prefix": "alisw/"}, "Expiration": {"Days": 60}},
        {"ID": "tmp1", "Status": "Enabled", "Filter": {"And": {"Prefix": "alisw/tmp/", "ObjectSizeGreaterThan": 10}},
         "Expiration": {"Days": 1}},
        {"Status": "Disabled", "Prefix": "old/", "Expiration": {"Days": 1}},
    ]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r.get("ID") for r in rules][:2] == ["logs60", "tmp1"]
    assert rules[2]["ID"] and rules[2]["Prefix"] == "old/"  # an ID is made up, as AWS does

    put = s3.put_object(Bucket=bucket, Key="alisw/O2/1/fullLog.txt", Body=b"x")
    header = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    assert header.endswith('rule-id="logs60"') and "00:00:00 GMT" in header
    # AWS semantics: creation + 60 days, rounded up to the next midnight UTC.
    expiry = time.mktime(time.strptime(header.split('"')[1], "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    days = (expiry - time.time()) / 86400
    assert 60 <= days <= 61
    head = s3.head_object(Bucket=bucket, Key="alisw/O2/1/fullLog.txt")
    assert head["Expiration"] == header
    assert s3.get_object(Bucket=bucket, Key="alisw/O2/1/fullLog.txt")["Expiration"] == header
    # The earliest applicable rule wins; small objects skip the size-filtered rule.
    assert 'rule-id="tmp1"' in s3.put_object(Bucket=bucket, Key="alisw/tmp/big", Body=b"y" * 100)["Expiration"]
    assert 'rule-id="logs60"' in s3.put_object(Bucket=bucket, Key="alisw/tmp/small", Body=b"y")["Expiration"]
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="other/x", Body=b"z")
    # Multipart completion reports it too (AWS does).
    upload = s3.create_multipart_upload(Bucket=bucket, Key="alisw/big.log")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="alisw/big.log", UploadId=upload, PartNumber=1, Body=b"p")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="alisw/big.log", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert 'rule-id="logs60"' in done["Expiration"]


def test_lifecycle_bad_input_keeps_previous(s3, bucket):
    good = {"Rules": [{"ID": "keep", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 60}}]}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=good)
    cases = {
        "duplicate ids": ({"Rules": [good["Rules"][0], good["Rules"][0]]}, "InvalidArgument"),
        "too many rules": ({"Rules": [{"ID": "r%d" % i, "Status": "Enabled", "Filter": {"Prefix": "p%d/" % i},
                                       "Expiration": {"Days": 1}} for i in range(1001)]}, "InvalidArgument"),
        "zero days": ({"Rules": [{"ID": "z", "Status": "Enabled", "Filter": {"Prefix": ""},
                                  "Expiration": {"Days": 0}}]}, "InvalidArgument"),
        "long id": ({"Rules": [{"ID": "i" * 256, "Status": "Enabled", "Filter": {"Prefix": ""},
                                "Expiration": {"Days": 1}}]}, "InvalidArgument"),
        "transition": ({"Rules": [{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""},
                                   "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]}, "NotImplemented"),
    }
    for name, (config, code) in cases.items():
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
        assert e.value.response["Error"]["Code"] == code, name
        assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "keep", name


def wait_until(predicate, seconds):
    """Polls a condition with a hard bound (the janitor runs on its own timer)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def keys(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_expiry_end_to_end_with_shifted_clock(server_factory):
    # Real 86400-second days; the janitor runs every second and lives 61 days in the future.
    server = server_factory(extra_args=["--lifecycle-interval-seconds", "1",
                                        "--lifecycle-clock-offset-seconds", str(61 * 86400)]).start()
    s3 = server.client()
    s3.create_bucket(Bucket="logs")
    for k in ["alisw/O2/1/fullLog.txt", "alisw/O2/2/fullLog.txt", "keep/test.txt"]:
        s3.put_object(Bucket="logs", Key=k, Body=b"log")
    upload = s3.create_multipart_upload(Bucket="logs", Key="alisw/partial.bin")["UploadId"]
    assert wait_until(lambda: len(keys(s3, "logs")) == 3, 3)  # nothing happens without rules
    s3.put_bucket_lifecycle_configuration(Bucket="logs", LifecycleConfiguration={"Rules": [
        {"ID": "sixty", "Status": "Enabled", "Filter": {"Prefix": "alisw/"}, "Expiration": {"Days": 60},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    assert wait_until(lambda: keys(s3, "logs") == ["keep/test.txt"], 20), keys(s3, "logs")
    assert wait_until(lambda: not s3.list_multipart_uploads(Bucket="logs").get("Uploads"), 20)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.list_parts(Bucket="logs", Key="alisw/partial.bin", UploadId=upload)
    assert "lifecycle: expired 2 objects" in server.read_log()


def test_expiry_with_short_days(server_factory):
    # Ceph-style accelerated days (what external lifecycle suites use): one day is 2 seconds.
    server = server_factory(extra_args=["--lifecycle-day-seconds", "2"]).start()
    s3 = server.client()
    s3.create_bucket(Bucket="fast")
    s3.put_bucket_lifecycle_configuration(Bucket="fast", LifecycleConfiguration={"Rules": [
        {"ID": "one", "Status": "Enabled", "Filter": {"Prefix": "expire1/"}, "Expiration": {"Days": 1}},
        {"ID": "many", "Status": "Enabled", "Filter": {"Prefix": "expire3/"}, "Expiration": {"Days": 1000}}]})
    for k in ["expire1/a", "expire1/b", "keep2/a", "expire3/a"]:
        s3.put_object(Bucket="fast", Key=k, Body=b"x")
    assert wait_until(lambda: keys(s3, "fast") == ["expire3/a", "keep2/a"], 20), keys(s3, "fast")
    # An object rewritten after the janitor looked is never deleted by that look.
    s3.put_object(Bucket="fast", Key="expire1/new", Body=b"x")
    assert "expire1/new" in keys(s3, "fast")


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=alice&kind=log%20file")
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"team": "alice", "kind": "log file"}
    before = s3.head_object(Bucket=bucket, Key="t")
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "expire", "Value": "soon"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "expire", "Value": "soon"}]
    after = s3.head_object(Bucket=bucket, Key="t")
    assert after["ETag"] == before["ETag"] and after["LastModified"] == before["LastModified"]
    # Copies keep tags unless told otherwise.
    s3.copy_object(Bucket=bucket, Key="t2", CopySource={"Bucket": bucket, "Key": "t"})
    assert s3.get_object_tagging(Bucket=bucket, Key="t2")["TagSet"] == [{"Key": "expire", "Value": "soon"}]
    s3.copy_object(Bucket=bucket, Key="t3", CopySource={"Bucket": bucket, "Key": "t"},
                   TaggingDirective="REPLACE", Tagging="a=b")
    assert s3.get_object_tagging(Bucket=bucket, Key="t3")["TagSet"] == [{"Key": "a", "Value": "b"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    for bad in ["&".join("k%d=v" % i for i in range(11)), "a=1&a=2", "=v"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging=bad)
        assert e.value.response["Error"]["Code"] == "InvalidTag", bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_tag_filters_in_lifecycle_and_policy(server_factory):
    server = server_factory(extra_args=["--lifecycle-day-seconds", "2"]).start()
    s3 = server.client()
    s3.create_bucket(Bucket="tags")
    s3.put_object(Bucket="tags", Key="days1/tom", Body=b"t", Tagging="tom=sawyer")
    s3.put_object(Bucket="tags", Key="days1/huck", Body=b"h", Tagging="tom=finn")
    s3.put_object(Bucket="tags", Key="days1/later", Body=b"l")
    s3.put_object_tagging(Bucket="tags", Key="days1/later", Tagging={"TagSet": [{"Key": "tom", "Value": "sawyer"}]})
    s3.put_bucket_lifecycle_configuration(Bucket="tags", LifecycleConfiguration={"Rules": [
        {"ID": "rule_tag1", "Status": "Enabled", "Expiration": {"Days": 1},
         "Filter": {"And": {"Prefix": "days1/", "Tags": [{"Key": "tom", "Value": "sawyer"}]}}}]})
    head = s3.head_object(Bucket="tags", Key="days1/tom")
    assert 'rule-id="rule_tag1"' in head["Expiration"]
    assert "Expiration" not in s3.head_object(Bucket="tags", Key="days1/huck")
    assert wait_until(lambda: keys(s3, "tags") == ["days1/huck"], 20), keys(s3, "tags")
    # A policy on existing tags: anonymous may read only objects tagged public=yes.
    s3.put_object(Bucket="tags", Key="pub", Body=b"p", Tagging="public=yes")
    s3.put_object(Bucket="tags", Key="priv", Body=b"q")
    s3.put_bucket_policy(Bucket="tags", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tags/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}}]}))
    assert curl(server.endpoint + "/tags/pub", FRONTEND) == (200, "p")
    assert curl(server.endpoint + "/tags/priv", FRONTEND)[0] == 403
