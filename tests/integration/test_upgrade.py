"""Upgrades keep data, downgrades are refused.

Each fixture in tests/fixtures/ is a data directory written by an earlier release
(tests/fixtures/make_data_fixture.py, binaries named in tests/fixtures/README.md). This build
must open it, migrate it, and serve every object byte-identical, with its ETag and headers, the
bucket's policy and lifecycle, the admin's keys and the unfinished upload (which must still
complete); fsck must pass it afterwards. A directory from a newer schema is refused with a clear
message, and left exactly as it was.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile

import pytest

import lbserver
from conftest import BIN, START_TIMEOUT, Server

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "data-*.tar.xz")))


def schema_version_of_this_build():
    with open(os.path.join(HERE, "..", "..", "src", "store", "local", "schema.h")) as f:
        return int(re.search(r"kSchemaVersion = (\d+);", f.read()).group(1))


def stored_version(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "meta.sqlite"))
    try:
        return int(db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0])
    finally:
        db.close()


def extract(fixture, into):
    with tarfile.open(fixture) as tar:
        tar.extractall(into)
    return os.path.join(into, "data")


def test_there_are_fixtures():
    assert len(FIXTURES) >= 2, FIXTURES


@pytest.mark.parametrize("fixture", FIXTURES, ids=[os.path.basename(f) for f in FIXTURES])
def test_a_directory_from_an_earlier_release_opens_migrates_and_serves_everything(fixture):
    with open(fixture[:-len(".tar.xz")] + ".json") as f:
        manifest = json.load(f)
    work = tempfile.mkdtemp(prefix="lb-upgrade-")
    try:
        data = extract(fixture, work)
        before = stored_version(data)
        s = Server(data_dir=data).start()
        try:
            if before < schema_version_of_this_build():
                assert "metadata schema upgraded from version %d" % before in s.read_log()
            assert s.env["AWS_ACCESS_KEY_ID"] == manifest["admin_access_key"]
            s3 = s.client()
            bucket = manifest["bucket"]
            listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
            assert listed == set(manifest["objects"])
            for key, want in manifest["objects"].items():
                got = s3.get_object(Bucket=bucket, Key=key)
                body = got["Body"].read()
                assert len(body) == want["size"], key
                assert hashlib.sha256(body).hexdigest() == want["sha256"], key
                assert got["ETag"] == want["etag"], key
                assert got.get("ContentType") == want["content_type"], key
                assert got.get("ContentDisposition") == want["content_disposition"], key
                assert got.get("Metadata", {}) == want["metadata"], key
            assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == manifest["policy"]
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            assert [r["Expiration"]["Days"] for r in rules] == [60]
            pending = manifest["pending_upload"]
            parts = s3.list_parts(Bucket=bucket, Key=pending["key"],
                                  UploadId=pending["upload_id"])["Parts"]
            assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, pending["part_etag"])]
            s3.complete_multipart_upload(
                Bucket=bucket, Key=pending["key"], UploadId=pending["upload_id"],
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": pending["part_etag"]}]})
            body = s3.get_object(Bucket=bucket, Key=pending["key"])["Body"].read()
            assert hashlib.sha256(body).hexdigest() == pending["part_sha256"]
            # And it takes new writes.
            s3.put_object(Bucket=bucket, Key="after-upgrade.txt", Body=b"new\n")
        finally:
            assert s.stop() == 0
        assert stored_version(data) == schema_version_of_this_build()
        r = subprocess.run([BIN, "fsck", "--data", data, "--json"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["problems"] == []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def digest_tree(path):
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_a_directory_from_a_newer_release_is_refused_and_left_alone():
    work = tempfile.mkdtemp(prefix="lb-downgrade-")
    try:
        data = extract(FIXTURES[-1], work)
        newer = schema_version_of_this_build() + 1
        db = sqlite3.connect(os.path.join(data, "meta.sqlite"))
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(newer),))
        db.execute("CREATE TABLE a_newer_release(x)")  # what a newer schema might add
        db.commit()
        db.close()
        before = digest_tree(data)
        launched = lbserver.launch(BIN, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                         "--web-listen", "127.0.0.1:0"],
                                   stderr=subprocess.PIPE, timeout=START_TIMEOUT, check=False)
        try:
            code = launched.proc.wait(timeout=START_TIMEOUT)
            err = launched.proc.stderr.read()
        finally:
            lbserver.stop(launched.proc)
        assert code != 0
        assert "was written by a newer logbucket (metadata schema %d; this binary knows up to %d)" \
            % (newer, newer - 1) in err, err
        assert "Downgrades are refused" in err
        r = subprocess.run([BIN, "fsck", "--data", data], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 8 and "newer logbucket" in r.stderr
        r = subprocess.run([BIN, "user", "list", "--data", data], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0 and "newer logbucket" in r.stderr
        after = digest_tree(data)
        # Only the files a start may create and that hold no data (the lock, the admin keys
        # file is never written before the schema check).
        for name in ("LOCK",):
            after.pop(name, None)
        assert after == before
    finally:
        shutil.rmtree(work, ignore_errors=True)
