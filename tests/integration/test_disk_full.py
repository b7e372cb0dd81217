"""A full disk (issue 13): uploads are refused early, below a free-space floor, with one status
whichever layer finds the disk full and no server path in the answer; deletes and lifecycle
expiry still work when something else has filled the disk to the last byte, so an operator can
free space with S3 tools. The data directory is a small tmpfs mounted for the test (root)."""
import os
import subprocess
import tempfile
import time

import pytest

MiB = 1 << 20


@pytest.fixture
def small_disk():
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system for the data directory needs root")
    mount_point = tempfile.mkdtemp(prefix="lb-small-disk-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", mount_point],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mount_point)
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    yield mount_point
    subprocess.run(["umount", "-l", mount_point], check=False)
    os.rmdir(mount_point)


def fill(path):
    """Writes a file until the file system says ENOSPC; returns its size."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (256 * 1024, 4096, 1):
            chunk = b"\0" * size
            while True:
                try:
                    written += os.write(fd, chunk)
                except OSError:
                    break
    finally:
        os.close(fd)
    return written


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_disk_refuses_uploads_early_and_still_deletes(server_factory, small_disk, tmp_path):
    data = os.path.join(small_disk, "data")
    s = server_factory(data_dir=data, log_dir=str(tmp_path), config=(
        "[s3]\nmin_free_bytes = %d\nreserve_bytes = %d\n"
        "[lifecycle]\nday_seconds = 1\n" % (16 * MiB, 4 * MiB))).start()
    assert os.path.getsize(os.path.join(data, "reserve")) == 4 * MiB
    s3 = s.client()
    s3.create_bucket(Bucket="logs")
    body = os.urandom(MiB)
    stored = []
    for i in range(60):  # the disk holds ~28 above the floor: bounded by it, never reached
        key = "%s/%d/fullLog.txt" % ("pr" if i % 2 else "keep", i)
        try:
            s3.put_object(Bucket="logs", Key=key, Body=body)
        except s3.exceptions.ClientError as e:
            err = e.response["Error"]
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 507, err
            assert err["Code"] == "StorageFull"
            assert small_disk not in err["Message"] and "/" not in err["Message"], err
            break
        stored.append(key)
    else:
        pytest.fail("uploads were never refused")
    assert len(stored) >= 10
    assert free_bytes(small_disk) >= 15 * MiB  # the floor held (less what metadata took)
    assert "disk full: refusing uploads" in s.read_log()

    # Something else fills the disk to the last byte: uploads hit ENOSPC for real (a small one
    # goes to the metadata database), and still answer StorageFull with no path.
    fill(os.path.join(small_disk, "filler"))
    assert free_bytes(small_disk) < 64 * 1024
    for size in (100, 200 * 1024):
        with pytest.raises(s3.exceptions.ClientError) as e:
            s3.put_object(Bucket="logs", Key="more", Body=b"x" * size)
        assert e.value.response["Error"]["Code"] == "StorageFull", e.value.response
        assert "/" not in e.value.response["Error"]["Message"]

    # Lifecycle expiry on the full disk (the rule itself is a metadata write that needs the
    # reserve), then deletes through S3.
    s3.put_bucket_lifecycle_configuration(Bucket="logs", LifecycleConfiguration={"Rules": [
        {"ID": "pr", "Filter": {"Prefix": "pr/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    assert "released the 4 MiB reserve" in s.read_log()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = s3.list_objects_v2(Bucket="logs", Prefix="pr/").get("KeyCount", 0)
        if left == 0:
            break
        time.sleep(0.2)
    assert s3.list_objects_v2(Bucket="logs", Prefix="pr/").get("KeyCount", 0) == 0
    keep = [k for k in stored if k.startswith("keep/")]
    s3.delete_object(Bucket="logs", Key=keep[0])
    r = s3.delete_objects(Bucket="logs", Delete={"Objects": [{"Key": k} for k in keep[1:]]})
    assert len(r.get("Deleted", [])) == len(keep) - 1 and not r.get("Errors"), r
    assert s3.list_objects_v2(Bucket="logs").get("KeyCount", 0) == 0

    # Space is back: uploads work again and the reserve is taken again.
    os.unlink(os.path.join(small_disk, "filler"))
    s3.put_object(Bucket="logs", Key="after", Body=body)
    assert os.path.getsize(os.path.join(data, "reserve")) == 4 * MiB
    assert s.proc.poll() is None


def test_enospc_from_any_layer_is_storage_full_without_paths(server_factory, small_disk, tmp_path):
    # No floor and no reserve: the writes themselves run into ENOSPC, in the blob file (large
    # bodies) and in SQLite (small bodies are stored inline in the metadata database).
    data = os.path.join(small_disk, "data")
    s = server_factory(data_dir=data, log_dir=str(tmp_path),
                       config="[s3]\nmin_free_bytes = 0\nreserve_bytes = 0\n").start()
    s3 = s.client()
    s3.create_bucket(Bucket="logs")
    seen = set()
    for size in (MiB, 16 * 1024):
        for i in range(200):  # bounded: 48 MiB holds fewer than 48 of the large ones
            try:
                s3.put_object(Bucket="logs", Key="%d/%d" % (size, i), Body=os.urandom(size))
            except s3.exceptions.ClientError as e:
                err = e.response["Error"]
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 507, err
                assert err["Code"] == "StorageFull" and "/" not in err["Message"], err
                seen.add(size)
                break
    assert seen == {MiB, 16 * 1024}
    assert os.listdir(os.path.join(data, "tmp")) == []  # nothing half-written is left
    log = s.read_log()
    assert "No space left on device" in log or "disk is full" in log  # the detail is logged
    assert s3.list_objects_v2(Bucket="logs")["KeyCount"] > 0
    assert s.proc.poll() is None
