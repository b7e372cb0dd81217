#!/usr/bin/env python3
"""The build index (issue 18), measured: indexing N build logs from scratch (time, the server's
RSS, the index's size), the board and recurring-failures pages' latency once indexed, how soon a
log uploaded to the embedded store is on the board, the same over Ceph RGW (`serve --store`,
with the store requests each log cost), and the diff of two large logs (time, peak RSS).

  /usr/bin/python3 bench/builds_bench.py --logs 10000 [--rgw] \\
      [--diff-log build/bench-logs/fullLog-500000000.txt --diff-base build/bench-logs/green-500000000.txt]

Logs are made by tests/data/gen-fulllog.py (a few bodies of --log-bytes, each uploaded under
many PRs with its header rewritten; 5 % of PRs OOM-killed on one host). Every server is started
on 127.0.0.1 with free ports and stopped by PID. Prints a Markdown table.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import lbserver  # noqa: E402

GEN = os.path.join(ROOT, "tests", "data", "gen-fulllog.py")
REPO = "AliceO2Group/AliceO2"
CHECK = "build_O2_o2"


def key(pr):
    return "%s/%d/%040x/%s/fullLog.txt" % (REPO, pr, pr * 7919, CHECK)


def bodies(tmp, size):
    """(failure, host) → body template with {PR} and {SHA} in its header."""
    out = {}
    for i, (failure, host) in enumerate([("compiler-killed-oom", "alibuild-07"), ("none", "alibuild-02"),
                                         ("gcc-error", "alibuild-03"), ("cmake-error", "alibuild-04"),
                                         ("ctest-failure", "alibuild-05"), ("none", "alibuild-06")]):
        path = os.path.join(tmp, "%s-%d.log" % (failure, i))
        subprocess.run([sys.executable, GEN, "--out", path, "--size", str(size), "--seed", str(i + 1),
                        "--failure", failure], check=True, capture_output=True)
        with open(path, "rb") as f:
            rest = f.read().split(b"\n", 2)[2]
        out[(failure, host, i)] = rest
    return out


def body_for(pr, templates):
    items = list(templates.items())
    (failure, host, _), rest = items[0] if pr % 20 == 0 else items[1 + pr % (len(items) - 1)]
    return (b"Finished building on %s at 2026-11-18-13:24:03\nBuilt commit %040x from "
            b"https://github.com/%s/pull/%d\n" % (host.encode(), pr * 7919, REPO.encode(), pr)) + rest


def client(endpoint, access, secret, region="us-east-1"):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access,
                        aws_secret_access_key=secret,
                        config=botocore.config.Config(s3={"addressing_style": "path"},
                                                      max_pool_connections=32))


def upload(s3, bucket, prs, templates):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda pr: s3.put_object(Bucket=bucket, Key=key(pr), Body=body_for(pr, templates),
                                               ContentType="text/plain"), prs))


def metrics(web):
    with urllib.request.urlopen(web + "/_metrics", timeout=30) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(logbucket_build_index_\w+) (\S+)$", text, re.M)}


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        s = f.read()
    return (int(re.search(r"VmRSS:\s+(\d+)", s).group(1)) / 1024,
            int(re.search(r"VmHWM:\s+(\d+)", s).group(1)) / 1024)


def wait_indexed(web, n, timeout=3600):
    start = time.monotonic()
    while True:
        m = metrics(web)
        if m.get("logbucket_build_index_indexed_total", 0) >= n and m.get("logbucket_build_index_queued", 1) == 0:
            return time.monotonic() - start, m
        if time.monotonic() - start > timeout:
            raise RuntimeError("not indexed: %s" % m)
        time.sleep(0.05)


def latency(url, n=21):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def pages(web, bucket):
    base = web + "/" + bucket + "/"
    return {
        "board (JSON, 50 PRs)": latency(base + REPO + "/?board&format=json"),
        "board (page)": latency(base + REPO + "/?board"),
        "recurring failures (JSON, 7 days)": latency(base + "?failures&format=json"),
        "recurring failures (page)": latency(base + "?failures"),
        "a log's recurrence (?recurring)": latency(base + key(20) + "?recurring"),
    }


def embedded(args, tmp, templates, rows):
    data = tempfile.mkdtemp(prefix="lb-bbench-")
    server = lbserver.launch(args.binary, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                           "--web-listen", "127.0.0.1:0", "--no-access-log"])
    try:
        env = lbserver.read_env(os.path.join(data, "admin.env"))
        s3 = client(server.endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        s3.create_bucket(Bucket="logs")
        t = time.monotonic()
        upload(s3, "logs", range(1, args.logs + 1), templates)
        uploaded = time.monotonic() - t
        wait_indexed(server.web, args.logs)
        # How soon a log is on the board after its PUT returned.
        delays = []
        for pr in range(args.logs + 1, args.logs + 21):
            s3.put_object(Bucket="logs", Key=key(pr), Body=body_for(pr, templates), ContentType="text/plain")
            t = time.perf_counter()
            while True:
                with urllib.request.urlopen(server.web + "/logs/" + REPO + "/?board&format=json&limit=1") as r:
                    top = json.load(r)["entries"]
                if top and top[0]["pr"] == str(pr):
                    break
                time.sleep(0.002)
            delays.append((time.perf_counter() - t) * 1000)
        n = args.logs + 20
        rows.append(("embedded: upload %d logs of %d KB (boto3, 16 threads)" % (args.logs, args.log_bytes // 1000),
                     "%.1f s" % uploaded, ""))
        rows.append(("embedded: a log on the board after its PUT returned (20 logs)",
                     "median %.0f ms, max %.0f ms" % (statistics.median(delays), max(delays)), "≤ 2 s"))
        # From scratch: the index deleted, the server restarted; its crawl reads every log.
        lbserver.stop(server.proc, timeout=60)
        for name in os.listdir(data):
            if name.startswith("builds.sqlite"):
                os.unlink(os.path.join(data, name))
        server = lbserver.launch(args.binary, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                               "--web-listen", "127.0.0.1:0", "--no-access-log"])
        s3 = client(server.endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        took, m = wait_indexed(server.web, n)
        rss, hwm = rss_mb(server.proc.pid)
        size = os.path.getsize(os.path.join(data, "builds.sqlite"))
        wal = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
                  if f.startswith("builds.sqlite-"))
        rows.append(("embedded: index %d logs from scratch (a deleted index, rebuilt at start)" % n,
                     "%.1f s (%.0f logs/s); server RSS %.0f MB (peak %.0f MB); builds.sqlite %.1f MB "
                     "(%d bytes/log) + WAL %.1f MB" % (took, n / took, rss, hwm, size / 1e6, size / n, wal / 1e6),
                     ""))
        for name, (med, p90) in pages(server.web, "logs").items():
            rows.append(("embedded: " + name + ", %d logs indexed" % n, "median %.1f ms, p90 %.1f ms" % (med, p90),
                         "≤ 100 ms"))
        if args.diff_log:
            for path, name in ((args.diff_log, "failed.txt"), (args.diff_base, "green.txt")):
                s3.upload_file(path, "logs", "diff/" + name)
            before = rss_mb(server.proc.pid)[1]
            t = time.perf_counter()
            with urllib.request.urlopen(server.web + "/logs/diff/failed.txt?diff=diff/green.txt", timeout=3600) as r:
                d = json.load(r)
            took = time.perf_counter() - t
            after = rss_mb(server.proc.pid)[1]
            rows.append(("diff of two %.0f MB logs (first call: both line indexes and the diff)" %
                         (os.path.getsize(args.diff_log) / 1e6),
                         "%.1f s; peak RSS %.0f → %.0f MB; %d new lines, %d of %d lines shown" %
                         (took, before, after, d["new_lines"], d["shown_lines"], d["lines"]), ""))
            t = time.perf_counter()
            urllib.request.urlopen(server.web + "/logs/diff/failed.txt?diff=diff/green.txt", timeout=3600).read()
            rows.append(("the same diff again (cached)", "%.0f ms" % ((time.perf_counter() - t) * 1000), ""))
    finally:
        lbserver.stop(server.proc, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def rgw(args, tmp, templates, rows):
    d = tempfile.mkdtemp(prefix="lb-bbench-rgw-")
    script = os.path.join(ROOT, "scripts", "ceph-rgw")
    r = subprocess.run([script, "start", d], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OSD_OBJECTSTORE="bluestore"))
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    env = dict(line.split("=", 1) for line in r.stdout.split())
    viewer = None
    data = tempfile.mkdtemp(prefix="lb-bbench-view-")
    try:
        s3 = client(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], "default")
        s3.create_bucket(Bucket="logs")
        t = time.monotonic()
        upload(s3, "logs", range(1, args.logs + 1), templates)
        rows.append(("RGW: upload %d logs (boto3, 16 threads)" % args.logs, "%.1f s" % (time.monotonic() - t), ""))
        config = os.path.join(tmp, "rgw-viewer.toml")
        with open(config, "w") as f:
            f.write("[builds]\nrequests_per_second = 0\n")
        venv = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        venv.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        viewer = lbserver.launch(args.binary, ["--data", data, "--web-listen", "127.0.0.1:0", "--no-access-log",
                                               "--store", "s3://logs", "--endpoint", env["S3_ENDPOINT"],
                                               "--region", "default", "--config", config], env=venv)
        took, m = wait_indexed(viewer.web, args.logs)
        rss, hwm = rss_mb(viewer.proc.pid)
        rows.append(("RGW (serve --store): index %d logs (first crawl, no rate limit)" % args.logs,
                     "%.1f s (%.0f logs/s); %.2f store requests per log; frontend RSS %.0f MB (peak %.0f MB)"
                     % (took, args.logs / took, m["logbucket_build_index_requests_total"] / args.logs, rss, hwm),
                     ""))
        for name, (med, p90) in pages(viewer.web, "logs").items():
            rows.append(("RGW: " + name + ", %d logs indexed" % args.logs,
                         "median %.1f ms, p90 %.1f ms" % (med, p90), "≤ 300 ms"))
    finally:
        if viewer is not None:
            lbserver.stop(viewer.proc, timeout=60)
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([script, "stop", d], timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "logbucket"))
    ap.add_argument("--logs", type=int, default=10000)
    ap.add_argument("--log-bytes", type=int, default=50000)
    ap.add_argument("--rgw", action="store_true")
    ap.add_argument("--rgw-only", action="store_true", help="skip the embedded store's part")
    ap.add_argument("--diff-log")
    ap.add_argument("--diff-base")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lb-bbench-gen-")
    rows = []
    try:
        templates = bodies(tmp, args.log_bytes)
        if not args.rgw_only:
            embedded(args, tmp, templates, rows)
        if args.rgw or args.rgw_only:
            rgw(args, tmp, templates, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print("| what | measured | target |\n|---|---|---|")
        for r in rows:
            print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
