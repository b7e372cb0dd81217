#!/usr/bin/env python3
"""logbucket's embedded store against Ceph RGW on this machine (issue #6), printed as a Markdown
section for docs/BENCHMARKS.md. Pairs alternate (A B A B ...); each ratio is the median of the
per-pair ratios. Everything runs on 127.0.0.1 and is stopped by PID at the end.

  PUT/GET 4 KiB and 8 MiB, LIST:  logbucket bench against the embedded store vs against RGW
                                  (same binary, same connections, same duration)
  viewer first page, warm:        `serve --store s3://` over RGW vs the embedded viewer, for a
                                  500 MB log after its first view (page + ?meta + first lines)
  push 200 MB:                    logbucket push vs `aws s3 cp` of the same bytes to RGW

  /usr/bin/python3 bench/rgw_bench.py --pairs 5
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "logbucket")
GEN = os.path.join(ROOT, "tests", "data", "gen-fulllog.py")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import lbserver  # noqa: E402  (tests/lbserver.py)


def start_logbucket(work, *args, env=None):
    launched = lbserver.launch(BIN, ["--no-access-log", *args], env=env,
                               stderr=open(os.path.join(work, "lb-%d.log" % time.monotonic_ns()), "w"))
    return launched.proc, {"s3": launched.endpoint, "web": launched.web}


def bench(env, endpoint, op, size, connections, seconds, objects):
    r = subprocess.run([BIN, "bench", "--endpoint", endpoint, "--bucket", "bench-" + op + size.lower(),
                        "--op", op, "--size", size, "--connections", str(connections), "--duration",
                        str(seconds), "--objects", str(objects), "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    j = json.loads(r.stdout.strip().splitlines()[-1])
    if j["errors"]:
        raise RuntimeError("%s %s: %d errors" % (op, size, j["errors"]))
    return j["req_per_s"]


def pairs(n, a, b):
    ratios, av, bv = [], [], []
    for _ in range(n):
        x, y = a(), b()
        av.append(x)
        bv.append(y)
        ratios.append(x / y)
    return statistics.median(ratios), statistics.median(av), statistics.median(bv), ratios


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def first_page(web, path):
    def fetch():
        for q in ("", "?meta", "?lines=1-256"):
            req = urllib.request.Request(web + path + q, headers={"Accept": "text/html"})
            with urllib.request.urlopen(req, timeout=300) as r:
                r.read()
    return fetch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--parts", default="ops,page,push", help="which measures: ops, page, push")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lb-rgw-bench-", dir="/var/tmp")
    procs, rgw_dir = [], os.path.join(work, "rgw")
    try:
        r = subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "start", rgw_dir], capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, OSD_OBJECTSTORE="bluestore"))
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        rgw = dict(line.split("=", 1) for line in r.stdout.split())
        lb, urls = start_logbucket(work, "--data", os.path.join(work, "data"), "--s3-listen", "127.0.0.1:0",
                                   "--web-listen", "127.0.0.1:0")
        procs.append(lb)
        lb_env = dict(os.environ)
        for line in open(os.path.join(work, "data", "admin.env")):
            k, v = line.strip().split("=", 1)
            lb_env[k] = v
        rgw_env = dict(os.environ, **{k: v for k, v in rgw.items() if k.startswith("AWS_")})
        parts = args.parts.split(",")
        rows, page_row, push_row = [], None, None
        for op, size, conns, objects in [] if "ops" not in parts else [("put", "4KiB", 16, 0), ("get", "4KiB", 16, 200),
                                         ("list", "4KiB", 4, 1000), ("put", "8MiB", 4, 0),
                                         ("get", "8MiB", 4, 20)]:
            ratio, a, b, ratios = pairs(args.pairs,
                                        lambda: bench(lb_env, urls["s3"], op, size, conns, args.seconds, objects),
                                        lambda: bench(rgw_env, rgw["S3_ENDPOINT"], op, size, conns, args.seconds, objects))
            rows.append(("%s %s, %d connections (ops/s)" % (op.upper(), size if op != "list" else "1000 keys", conns),
                         a, b, ratio, ratios))
            print(rows[-1], file=sys.stderr)

        # A 500 MB log in both stores; the remote viewer over RGW after its first view.
        log = os.path.join(work, "fullLog.txt")
        if "page" not in parts and "push" not in parts:
            report(args, rows, None, None)
            return
        subprocess.run([sys.executable, GEN, "--out", log, "--size", str(500 << 20), "--seed", "11"],
                       check=True, capture_output=True, timeout=900)
        key = "AliceO2Group/AliceO2/1/0123abcd/build/fullLog.txt"
        for env, endpoint in ((lb_env, urls["s3"]), (rgw_env, rgw["S3_ENDPOINT"])):
            subprocess.run([BIN, "bucket", "create", "alice-build-logs", "--endpoint", endpoint], env=env,
                           check=False, capture_output=True)
            subprocess.run(["aws", "--endpoint-url", endpoint, "s3", "cp", log, "s3://alice-build-logs/" + key],
                           env=env, check=True, capture_output=True, timeout=900)
        remote, rurls = start_logbucket(work, "--data", os.path.join(work, "remote"), "--web-listen", "127.0.0.1:0",
                                        "--store", "s3://alice-build-logs", "--endpoint", rgw["S3_ENDPOINT"],
                                        "--region", "default", env=rgw_env)
        procs.append(remote)
        path = "/alice-build-logs/" + key
        if "page" in parts:
            page_row = measure_page(args, rurls, urls, path)
        if "push" in parts:
            push_row = measure_push(args, work, log, rgw, rgw_env)
        report(args, rows, page_row, push_row)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([os.path.join(ROOT, "scripts", "ceph-rgw"), "stop", rgw_dir], timeout=120)
        subprocess.run(["rm", "-rf", work])


def measure_page(args, rurls, urls, path):
    first_view_remote = timed(first_page(rurls["web"], path))
    first_view_local = timed(first_page(urls["web"], path))
    # Each remote view starts after the 2 s metadata TTL, so it pays its one HEAD to RGW.
    def remote_view():
        time.sleep(2.1)
        return timed(first_page(rurls["web"], path)) * 1000
    ratio, a, b, ratios = pairs(args.pairs, remote_view,
                                lambda: timed(first_page(urls["web"], path)) * 1000)
    page_row = (a, b, ratio, ratios, first_view_remote, first_view_local)
    print(page_row, file=sys.stderr)
    return page_row


def measure_push(args, work, log, rgw, rgw_env):
    # push of 200 MB vs aws s3 cp, to RGW.
    build = os.path.join(work, "sw", "BUILD", "O2-latest")
    os.makedirs(build)
    with open(log, "rb") as src, open(os.path.join(build, "log"), "wb") as dst:
        dst.write(src.read(200 << 20))
    plain = os.path.join(work, "plain.txt")
    os.link(os.path.join(build, "log"), plain)
    push = lambda: subprocess.run(
        [BIN, "push", "--pr", "AliceO2Group/AliceO2#1@0123abcd", "--check", "bench", "--logs",
         "sw/BUILD/*/log", "--dest", "s3://alice-build-logs", "--endpoint", rgw["S3_ENDPOINT"], "-q"],
        cwd=work, env=rgw_env, check=True, capture_output=True, timeout=900)
    cp = lambda: subprocess.run(["aws", "--endpoint-url", rgw["S3_ENDPOINT"], "s3", "cp", plain,
                                 "s3://alice-build-logs/bench/plain.txt", "--only-show-errors"],
                                env=rgw_env, check=True, capture_output=True, timeout=900)
    ratio_p, tp, tc, ratios_p = pairs(args.pairs, lambda: 200 / 1.048576 / timed(push),
                                      lambda: 200 / 1.048576 / timed(cp))
    push_row = (tp, tc, ratio_p, ratios_p)
    print(push_row, file=sys.stderr)
    return push_row


def report(args, rows, page_row, push_row):
    fmt = lambda rs: ", ".join("%.2f" % x for x in rs)
    out = ["## Embedded store vs Ceph RGW, same machine, same run (issue #6)", "",
           "Command: `/usr/bin/python3 bench/rgw_bench.py --pairs %d` (RGW: `scripts/ceph-rgw`, "
           "Ceph 16.2.15, bluestore on a sparse file; logbucket: embedded store on the same disk). "
           "%d pairs, alternated; ratio = median of per-pair ratios." % (args.pairs, args.pairs), "",
           "| measure | logbucket | Ceph RGW | ratio | goal | per-pair ratios |", "|---|---|---|---|---|---|"]
    for name, a, b, ratio, ratios in rows:
        goal = "≥ 5" if "4KiB" in name or "4 KiB" in name else "—"
        out.append("| %s | %.1f | %.1f | **%.2f** | %s | %s |" % (name.replace("4KiB", "4 KiB").replace("8MiB", "8 MiB"),
                                                                 a, b, ratio, goal, fmt(ratios)))
    fr = fl = None
    if page_row:
        a, b, ratio, ratios, fr, fl = page_row
        out.append("| viewer first page of a 500 MB log after its first view (page + ?meta + 256 lines, ms; remote over RGW, one HEAD per view, vs embedded) "
               "| %.1f | %.1f (embedded) | **%.2f** | ≤ 2 | %s |" % (a, b, ratio, fmt(ratios)))
    if push_row:
        tp, tc, ratio_p, ratios_p = push_row
        out.append("| push 200 MB to RGW (MB/s; logbucket push vs aws s3 cp) | %.1f | %.1f (aws s3 cp) | **%.2f** | ≥ 0.7 | %s |"
               % (tp, tc, ratio_p, fmt(ratios_p)))
    if fr is not None:
        out += ["", "First view of the 500 MB log (download into the cache + line index): remote %.1f s, "
              "embedded %.1f s." % (fr, fl)]
    print("\n".join(out + [""]))


if __name__ == "__main__":
    main()
