#!/usr/bin/env python3
"""Folder listing of a repository with 20,000 PR folders (issue 14): how long the viewer takes
for the first page (newest PRs first across all of them, each PR's last upload looked up), on
the embedded store and with `serve --store` over Ceph RGW. Prints a Markdown section for
docs/BENCHMARKS.md. Everything runs on 127.0.0.1 and is stopped by PID at the end.

  cold: the first view after start (the folder is listed whole, pages of 1,000 from the store)
  warm: views within the listing cache's 15 s (median of --views)
  page 100: the last page of 200 entries, warm
  after 16 s: a view past the cache's 15 s (shown from it while one refresh runs)

  /usr/bin/python3 bench/listing_bench.py --prs 20000 [--rgw]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
from rgw_bench import ROOT, start_logbucket  # noqa: E402

REPO = "AliceO2Group/AliceO2/"


def timed(url):
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html"}),
                                timeout=300) as r:
        body = r.read()
    assert b"entries 1" in body or b"entries" in body, body[:300]
    return time.perf_counter() - t


def populate(endpoint, env, prs):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                      config=Config(max_pool_connections=32, retries={"max_attempts": 5}))
    try:
        s3.create_bucket(Bucket="alice-build-logs")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass

    def put(pr):
        s3.put_object(Bucket="alice-build-logs", Key="%s%d/latest/build_O2_o2/fullLog.txt" % (REPO, pr),
                      Body=b"log\n", ContentType="text/plain")
    t = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, range(1, prs + 1)))
    return time.perf_counter() - t


def measure(web, views):
    url = web + "/alice-build-logs/" + REPO
    cold = timed(url)
    warm = [timed(url) for _ in range(views)]
    last = [timed(url + "?page=100") for _ in range(views)]
    time.sleep(16)  # past the listing cache's 15 s: answered from it while it is refreshed
    stale = timed(url)
    return cold, statistics.median(warm), statistics.median(last), stale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prs", type=int, default=20000)
    ap.add_argument("--views", type=int, default=9)
    ap.add_argument("--rgw", action="store_true", help="also over Ceph RGW (scripts/ceph-rgw)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lb-listing-bench-", dir="/var/tmp")
    procs, rgw_dir, rows = [], os.path.join(work, "rgw"), []
    try:
        lb, urls = start_logbucket(work, "--data", os.path.join(work, "data"), "--s3-listen", "127.0.0.1:0",
                                   "--web-listen", "127.0.0.1:0")
        procs.append(lb)
        env = dict(os.environ)
        for line in open(os.path.join(work, "data", "admin.env")):
            k, v = line.strip().split("=", 1)
            env[k] = v
        put_s = populate(urls["s3"], env, args.prs)
        rows.append(("embedded store", put_s) + measure(urls["web"], args.views))
        if args.rgw:
            r = subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "start", rgw_dir],
                               capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, OSD_OBJECTSTORE="bluestore"))
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            rgw = dict(line.split("=", 1) for line in r.stdout.split())
            rgw_env = {**os.environ, **{k: v for k, v in rgw.items() if k.startswith("AWS_")},
                       "AWS_DEFAULT_REGION": "default"}
            put_s = populate(rgw["S3_ENDPOINT"], rgw_env, args.prs)
            remote, rurls = start_logbucket(work, "--data", os.path.join(work, "remote"), "--web-listen",
                                            "127.0.0.1:0", "--store", "s3://alice-build-logs", "--endpoint",
                                            rgw["S3_ENDPOINT"], "--region", "default", env=rgw_env)
            procs.append(remote)
            rows.append(("`serve --store` over Ceph RGW", put_s) + measure(rurls["web"], args.views))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.rgw:
            subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "stop", rgw_dir], timeout=120)
        subprocess.run(["rm", "-rf", work])
    print("`/usr/bin/python3 bench/listing_bench.py --prs %d%s` on %s: a repository folder with %d PR "
          "folders (one object each), page 1 = the 100 highest PR numbers with their last upload."
          % (args.prs, " --rgw" if args.rgw else "", time.strftime("%Y-%m-%d"), args.prs))
    print()
    print("| store | populate (%d PUTs, 32 threads) | page 1, first view | page 1, warm (median of %d) "
          "| page 100, warm | page 1, 16 s later |" % (args.prs, args.views))
    print("|---|---|---|---|---|---|")
    for name, put_s, cold, warm, last, stale in rows:
        print("| %s | %.0f s | %.0f ms | %.1f ms | %.1f ms | %.1f ms |"
              % (name, put_s, cold * 1000, warm * 1000, last * 1000, stale * 1000))


if __name__ == "__main__":
    main()
