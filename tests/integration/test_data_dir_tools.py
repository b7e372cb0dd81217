"""`logbucket fsck`, `backup` and `restore` on real data directories written by the real server.

fsck must find each fault a test plants (a missing blob, a truncated blob, a flipped byte in a
blob and in an inline body, an orphan blob, a stale temp file, a part of no upload) and nothing
on a healthy directory, live or not; `--repair` removes only what no row references. A backup
taken while clients keep writing must restore to a directory fsck passes and that serves every
object acknowledged before the backup started, byte for byte.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, Server

BUCKET = "alice-build-logs"


def run(*args, timeout=300):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def fsck(data_dir, *flags):
    r = run("fsck", "--data", data_dir, "--json", *flags)
    assert r.returncode in (0, 1, 4), r.stderr
    report = json.loads(r.stdout)
    assert report["exit_code"] == r.returncode
    return report


def blob_of(data_dir, key, table="objects"):
    db = sqlite3.connect(os.path.join(data_dir, "meta.sqlite"))
    try:
        if table == "objects":
            row = db.execute("SELECT blob, body FROM objects WHERE bucket = ? AND key = ?",
                             (BUCKET, key.encode())).fetchone()
        else:
            row = db.execute("SELECT blob, NULL FROM parts WHERE upload_id = ? AND number = 1",
                             (key,)).fetchone()
    finally:
        db.close()
    assert row is not None, key
    return row


def blob_path(data_dir, blob):
    return os.path.join(data_dir, "blobs", blob[:2], blob[2:4], blob)


def fill(s3):
    """A bucket with every kind of body: inline, file, multipart, an unfinished upload."""
    s3.create_bucket(Bucket=BUCKET)
    bodies = {
        "pr/1/inline.txt": b"error: inline body\n" * 10,
        "pr/1/missing.txt": os.urandom(100_000),
        "pr/1/truncated.txt": os.urandom(100_000),
        "pr/1/flipped.txt": os.urandom(100_000),
        "pr/1/inline-flipped.txt": b"a small log\n" * 50,
        "pr/1/healthy.txt": os.urandom(300_000),
    }
    for key, body in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="pr/1/multipart.txt")
    parts = []
    for n, size in ((1, 5 << 20), (2, 12345)):
        body = os.urandom(size)
        bodies.setdefault("pr/1/multipart.txt", b"")
        bodies["pr/1/multipart.txt"] += body
        e = s3.upload_part(Bucket=BUCKET, Key="pr/1/multipart.txt", UploadId=up["UploadId"],
                           PartNumber=n, Body=body)["ETag"]
        parts.append({"PartNumber": n, "ETag": e})
    s3.complete_multipart_upload(Bucket=BUCKET, Key="pr/1/multipart.txt", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})
    unfinished = s3.create_multipart_upload(Bucket=BUCKET, Key="pr/2/unfinished.txt")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="pr/2/unfinished.txt", UploadId=unfinished, PartNumber=1,
                   Body=os.urandom(70_000))
    return bodies, unfinished


def test_fsck_passes_a_healthy_directory_live_and_stopped():
    s = Server().start()
    try:
        bodies, _ = fill(s.client())
        live = fsck(s.data_dir)
        assert live["server_running"] is True
        assert live["problems"] == [], live
        assert live["objects"] == len(bodies) and live["inline_objects"] == 2
        assert live["parts"] == 1 and live["uploads"] == 1
        assert live["bytes_verified"] >= sum(len(b) for b in bodies.values())
        assert s.stop() == 0
        stopped = fsck(s.data_dir)
        assert stopped["server_running"] is False and stopped["problems"] == []
        text = run("fsck", "--data", s.data_dir)
        assert text.returncode == 0 and "clean: no problem found" in text.stdout, text.stdout
    finally:
        s.cleanup()


def test_fsck_finds_each_planted_fault_and_repairs_only_the_unreferenced():
    s = Server().start()
    try:
        bodies, unfinished = fill(s.client())
        assert s.stop() == 0
        d = s.data_dir
        os.unlink(blob_path(d, blob_of(d, "pr/1/missing.txt")[0]))
        with open(blob_path(d, blob_of(d, "pr/1/truncated.txt")[0]), "r+b") as f:
            f.truncate(99_000)
        flipped = blob_path(d, blob_of(d, "pr/1/multipart.txt")[0])
        with open(flipped, "r+b") as f:
            f.seek(3 << 20)
            byte = f.read(1)
            f.seek(3 << 20)
            f.write(bytes([byte[0] ^ 0x01]))
        with open(blob_path(d, blob_of(d, "pr/1/flipped.txt")[0]), "r+b") as f:
            f.seek(10)
            byte = f.read(1)
            f.seek(10)
            f.write(bytes([byte[0] ^ 0x80]))
        db = sqlite3.connect(os.path.join(d, "meta.sqlite"))
        inline_id = blob_of(d, "pr/1/inline-flipped.txt")[1]
        db.execute("UPDATE bodies SET data = ? WHERE id = ?",
                   (b"A" + bodies["pr/1/inline-flipped.txt"][1:], inline_id))
        db.execute("DELETE FROM uploads WHERE upload_id = ?", (unfinished,))
        db.commit()
        db.close()
        healthy_blob = blob_of(d, "pr/1/healthy.txt")[0]
        orphan_id = "ab" + "cd" + "0" * 28
        os.makedirs(os.path.dirname(blob_path(d, orphan_id)), exist_ok=True)
        shutil.copy(blob_path(d, healthy_blob), blob_path(d, orphan_id))
        with open(os.path.join(d, "tmp", "0123456789abcdef0123456789abcdef"), "wb") as f:
            f.write(b"half an upload")

        report = fsck(d)
        found = {(p["kind"], p.get("key") or p["file"]) for p in report["problems"]}
        part_file = "blobs/%s" % "/".join((blob_of(d, unfinished, "parts")[0][:2],
                                           blob_of(d, unfinished, "parts")[0][2:4],
                                           blob_of(d, unfinished, "parts")[0]))
        assert found == {
            ("missing_body", "pr/1/missing.txt"),
            ("wrong_size", "pr/1/truncated.txt"),
            ("corrupt_body", "pr/1/multipart.txt"),
            ("corrupt_body", "pr/1/flipped.txt"),
            ("corrupt_body", "pr/1/inline-flipped.txt"),
            ("orphan_blob", "blobs/ab/cd/" + orphan_id),
            ("stale_temp_file", "tmp/0123456789abcdef0123456789abcdef"),
            ("orphan_part", part_file),
        }, report["problems"]
        assert report["exit_code"] == 4
        text = run("fsck", "--data", d)
        assert text.returncode == 4
        assert "missing body: %s/pr/1/missing.txt" % BUCKET in text.stdout, text.stdout
        assert "8 problems, 0 repaired, 8 left" in text.stdout, text.stdout

        repaired = fsck(d, "--repair")
        done = {(p["kind"], p["file"]) for p in repaired["problems"] if p["repaired"]}
        # The part of no upload goes, and then its file, which no row refers to any more.
        assert done == {("orphan_blob", "blobs/ab/cd/" + orphan_id),
                        ("stale_temp_file", "tmp/0123456789abcdef0123456789abcdef"),
                        ("orphan_part", part_file), ("orphan_blob", part_file)}, \
            repaired["problems"]
        assert not os.path.exists(os.path.join(d, part_file))
        assert not os.path.exists(blob_path(d, orphan_id))
        # What rows reference stays, damaged or not: the truncated and flipped bodies, the
        # healthy blob the orphan was copied from.
        for key in ("pr/1/truncated.txt", "pr/1/flipped.txt", "pr/1/multipart.txt",
                    "pr/1/healthy.txt"):
            assert os.path.exists(blob_path(d, blob_of(d, key)[0])), key
        assert repaired["exit_code"] == 4  # the damaged bodies are still there
        again = fsck(d)
        assert sorted(p["kind"] for p in again["problems"]) == [
            "corrupt_body", "corrupt_body", "corrupt_body", "missing_body", "wrong_size"]
        # --quick: sizes only, so the flipped bytes go unseen but the sizes do not.
        quick = fsck(d, "--quick")
        assert sorted(p["kind"] for p in quick["problems"]) == ["missing_body", "wrong_size"]
        assert quick["bytes_verified"] == 0
    finally:
        s.cleanup()


def test_fsck_leaves_young_files_alone_while_the_server_runs():
    s = Server().start()
    try:
        s.client().create_bucket(Bucket=BUCKET)
        young = blob_path(s.data_dir, "ef01" + "1" * 28)
        os.makedirs(os.path.dirname(young), exist_ok=True)
        with open(young, "wb") as f:
            f.write(b"a blob being committed")
        live = fsck(s.data_dir)
        assert live["problems"] == [] and live["in_flight_files"] == 1, live
        # Unless told that nothing is in flight for that long; --repair then removes it.
        assert [p["kind"] for p in fsck(s.data_dir, "--grace", "0")["problems"]] == ["orphan_blob"]
        assert fsck(s.data_dir, "--grace", "0", "--repair")["exit_code"] == 1
        assert not os.path.exists(young)
    finally:
        s.cleanup()


def test_fsck_prints_keys_without_their_control_characters():
    """Keys are any client's bytes: a carriage return (which S3 allows in a key) or a line feed
    must not rewrite the operator's terminal line or fake a line of the report."""
    s = Server().start()
    try:
        s3 = s.client()
        s3.create_bucket(Bucket=BUCKET)
        key = "pr/1/clean: no problem found\rfullLog\n.txt"
        s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(100_000))
        assert s.stop() == 0
        os.unlink(blob_path(s.data_dir, blob_of(s.data_dir, key)[0]))
        r = run("fsck", "--data", s.data_dir)
        assert r.returncode == 4
        assert "pr/1/clean: no problem found\\x0dfullLog\\x0a.txt" in r.stdout, r.stdout
        assert "\r" not in r.stdout and not any(
            line.startswith("clean") for line in r.stdout.splitlines())
        assert fsck(s.data_dir)["problems"][0]["key"] == key  # JSON escapes it itself
    finally:
        s.cleanup()


def test_fsck_refuses_what_is_not_a_data_directory():
    empty = tempfile.mkdtemp(prefix="lb-fsck-")
    try:
        r = run("fsck", "--data", empty)
        assert r.returncode == 8
        assert "is not a logbucket data directory" in r.stderr
        assert os.listdir(empty) == []  # nothing created
    finally:
        shutil.rmtree(empty)


def read_all(s3):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            out[o["Key"]] = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
    return out


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_backup_under_concurrent_writes_restores_every_acknowledged_object(mode):
    s = Server().start()
    work = tempfile.mkdtemp(prefix="lb-backup-")
    try:
        s3 = s.client()
        s3.create_bucket(Bucket=BUCKET)
        before = {}
        for i in range(300):
            body = os.urandom(90_000 if i % 3 else 2_000)  # blob files and inline bodies
            key = "pr/%d/fullLog.txt" % i
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            before[key] = body
        hot = ["pr/%d/fullLog.txt" % i for i in range(0, 300, 10)]  # overwritten meanwhile
        written = {k: {hashlib.sha256(v).hexdigest()} for k, v in before.items()}
        acknowledged = []  # (time acknowledged, key)
        stop = threading.Event()
        lock = threading.Lock()
        errors = []

        def writer(n):
            c = s.client()
            i = 0
            while not stop.is_set() and i < 5000:
                i += 1
                key = hot[i % len(hot)] if i % 2 else "during/%d/%d.txt" % (n, i)
                body = os.urandom(80_000 if i % 4 else 500)
                digest = hashlib.sha256(body).hexdigest()
                with lock:
                    written.setdefault(key, set()).add(digest)
                try:
                    c.put_object(Bucket=BUCKET, Key=key, Body=body)
                except Exception as e:  # noqa: BLE001 (reported below)
                    errors.append(repr(e))
                    return
                with lock:
                    acknowledged.append((time.monotonic(), key))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        backups = []
        try:
            # Until a backup ran while writes were being acknowledged (bounded: 5 attempts).
            for attempt in range(5):
                deadline = time.monotonic() + 10
                while len(acknowledged) < 20 and time.monotonic() < deadline:
                    time.sleep(0.01)
                dest = os.path.join(work, "backup-%d" % attempt)
                began = time.monotonic()
                args = ["backup", "--data", s.data_dir, "--to", dest]
                r = run(*args, *(["--copy"] if mode == "copy" else []))
                ended = time.monotonic()
                assert r.returncode == 0, r.stderr
                backups.append(dest)
                with lock:
                    during = [k for t, k in acknowledged if began <= t <= ended]
                if during:
                    break
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not errors, errors
        assert during, "no write was acknowledged during any of %d backups" % len(backups)
        dest = backups[-1]
        assert "backed up" in r.stdout, r.stdout
        if mode == "link":
            assert "0 bytes copied" in r.stdout, r.stdout
        else:
            assert " 0 hard-linked" in r.stdout, r.stdout
        checked = fsck(dest)
        assert checked["problems"] == [], checked["problems"]

        restored = os.path.join(work, "restored")
        r = run("restore", "--from", dest, "--data", restored)
        assert r.returncode == 0, r.stderr
        assert fsck(restored)["problems"] == []
        assert s.stop() == 0
        again = Server(data_dir=restored).start()
        try:
            got = read_all(again.client())
        finally:
            assert again.stop() == 0
        for key, body in before.items():
            assert key in got, key
            if key not in hot:
                assert got[key] == body, key  # untouched: byte-identical
        for key, body in got.items():
            # Nothing the clients did not write, and no mix of two writes.
            assert hashlib.sha256(body).hexdigest() in written[key], key
    finally:
        s.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def test_backup_and_restore_refuse_to_overwrite(server):
    server.client().create_bucket(Bucket=BUCKET)
    work = tempfile.mkdtemp(prefix="lb-backup-")
    try:
        busy = os.path.join(work, "busy")
        os.makedirs(busy)
        with open(os.path.join(busy, "keep.txt"), "w") as f:
            f.write("mine")
        r = run("backup", "--data", server.data_dir, "--to", busy)
        assert r.returncode == 1
        assert "--to %s already exists and is not an empty directory" % busy in r.stderr
        assert os.listdir(busy) == ["keep.txt"]
        assert not [n for n in os.listdir(work) if ".partial-" in n]
        r = run("backup", "--data", server.data_dir, "--to", os.path.join(work, "ok"))
        assert r.returncode == 0, r.stderr
        r = run("restore", "--from", os.path.join(work, "ok"), "--data", server.data_dir)
        assert r.returncode == 1
        assert "--data %s already exists" % server.data_dir in r.stderr
        r = run("restore", "--from", busy, "--data", os.path.join(work, "new"))
        assert r.returncode == 1 and "is not a finished logbucket backup" in r.stderr
        assert not os.path.exists(os.path.join(work, "new"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
