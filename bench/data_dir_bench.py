#!/usr/bin/env python3
"""fsck and backup (issue 19), measured against what an operator would otherwise run:

- `logbucket fsck` (reads and hashes every body) vs `md5sum` over the same blob files;
- `logbucket backup --copy` (SQLite online backup + the blobs) vs `cp -a` of the stopped
  directory;
- `logbucket backup` (hard links) vs `cp -al`.

  /usr/bin/python3 bench/data_dir_bench.py [--objects 2000] [--object-bytes 262144] [--pairs 5]

A server fills a data directory (a tenth of the objects small enough to be inline), stops;
each pair then runs A and B alternately on the same directory, with the page cache dropped
first when allowed (root), and the table reports each side's median and the median of the
per-pair ratios. Prints a Markdown section for docs/BENCHMARKS.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import lbserver  # noqa: E402


def drop_caches():
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(argv, **kwargs):
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   **kwargs)
    return time.monotonic() - start


def fill(binary, data, objects, size):
    launched = lbserver.launch(binary, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                        "--no-access-log", "--web-listen", "127.0.0.1:0"])
    try:
        env = lbserver.read_env(os.path.join(data, "admin.env"))
        s3 = boto3.client("s3", endpoint_url=launched.endpoint, region_name="us-east-1",
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="alice-build-logs")
        body = os.urandom(size)
        for i in range(objects):
            n = 4096 if i % 10 == 0 else size
            s3.put_object(Bucket="alice-build-logs", Key="pr/%d/fullLog.txt" % i,
                          Body=body[:n - 8] + i.to_bytes(8, "little"))
    finally:
        assert lbserver.stop(launched.proc) == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "logbucket"))
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--object-bytes", type=int, default=256 << 10)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lb-datadir-bench-", dir=os.path.join(ROOT, "build"))
    data = os.path.join(work, "data")
    try:
        fill(args.binary, data, args.objects, args.object_bytes)
        blobs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(data, "blobs"))
                 for f in fs]
        total = sum(os.path.getsize(b) for b in blobs)
        blob_list = os.path.join(work, "blobs.list0")  # md5sum's input, NUL-separated
        with open(blob_list, "wb") as f:
            f.write(b"\0".join(b.encode() for b in blobs))
        cold = drop_caches()
        comparisons = [
            ("fsck (read + MD5 every body)", [args.binary, "fsck", "--data", data],
             "md5sum over the blob files", ["xargs", "-0", "md5sum"], None),
            ("backup --copy", None, "cp -a (server stopped)", None, "copy"),
            ("backup (hard links)", None, "cp -al (server stopped)", None, "link"),
        ]
        rows = []
        for name_a, argv_a, name_b, argv_b, mode in comparisons:
            a_times, b_times, ratios = [], [], []
            for pair in range(args.pairs):
                dest_a = os.path.join(work, "a-%d" % pair)
                dest_b = os.path.join(work, "b-%d" % pair)
                if mode is None:
                    drop_caches()
                    ta = timed(argv_a)
                    drop_caches()
                    with open(blob_list, "rb") as f:
                        tb = timed(argv_b, stdin=f)
                else:
                    drop_caches()
                    ta = timed([args.binary, "backup", "--data", data, "--to", dest_a,
                                *(["--copy"] if mode == "copy" else [])])
                    drop_caches()
                    tb = timed(["cp", "-a" if mode == "copy" else "-al", data, dest_b])
                    shutil.rmtree(dest_a)
                    shutil.rmtree(dest_b)
                a_times.append(ta)
                b_times.append(tb)
                ratios.append(ta / tb)
            rows.append((name_a, statistics.median(a_times), name_b, statistics.median(b_times),
                         statistics.median(ratios), min(ratios), max(ratios)))
        print("### fsck and backup (issue 19)\n")
        print("`/usr/bin/python3 bench/data_dir_bench.py --objects %d --object-bytes %d --pairs %d`"
              ": %d objects (a tenth inline, 4 KiB), %.0f MB in %d blob files; page cache %s "
              "before each run; A and B alternate, ratio = median of per-pair A/B.\n"
              % (args.objects, args.object_bytes, args.pairs, args.objects, total / 1e6,
                 len(blobs), "dropped" if cold else "warm (not root)"))
        print("| logbucket (A) | median s | reference (B) | median s | A/B (min–max) |")
        print("|---|---|---|---|---|")
        for a, ta, b, tb, r, lo, hi in rows:
            print("| %s | %.2f | %s | %.2f | **%.2f** (%.2f–%.2f) |" % (a, ta, b, tb, r, lo, hi))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
