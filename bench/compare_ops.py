#!/usr/bin/env python3
"""S3 small-object and viewer-page throughput of two logbucket builds, alternated: for a change
on the request path (the metrics counted per request, viewer pages on worker threads), its cost
against the build before it.

  /usr/bin/python3 bench/compare_ops.py --old /tmp/old/build/logbucket --new build/logbucket \\
      --pairs 5 --seconds 5

Each run starts a fresh server (fresh data directory, access log off as in bench/rgw_bench.py),
runs the new build's `logbucket bench` against it (PUT 4 KiB then GET 4 KiB, 16 connections),
then `wrk` on a viewer API page (`?lines=1-100` of a 1 MB log, 16 connections), and stops it by
PID. Old and new alternate (old, new, old, new, …). Prints each pair and the
median of the per-pair ratios (new ops/s / old ops/s: below 1 is slower).
"""
import argparse
import json
import re
import statistics
import subprocess
import urllib.request

from fresh_server import fresh_server


def run(binary, bench_binary, seconds, connections):
    with fresh_server(binary) as server:
        out = {}
        for op in ("put", "get"):
            r = subprocess.run([bench_binary, "bench", "--endpoint", server.endpoint, "--bucket", "bench",
                                "--op", op, "--size", "4KiB", "--connections", str(connections),
                                "--duration", str(seconds), "--objects", "2000", "--json"],
                               env=server.env, capture_output=True, text=True, timeout=600, check=True)
            result = json.loads(r.stdout.strip().splitlines()[-1])
            if result["errors"]:
                raise RuntimeError("%s %s: %d errors" % (binary, op, result["errors"]))
            out[op] = result["req_per_s"]
        log = b"".join(b"[%06d] src/module/file.cxx:%d:1: warning: unused variable 'x'\n" % (n, n)
                       for n in range(16000))
        server.s3.put_object(Bucket="bench", Key="o/r/1/latest/c/fullLog.txt", Body=log,
                             ContentType="text/plain")
        page = server.web + "/bench/o/r/1/latest/c/fullLog.txt?lines=1-100"
        urllib.request.urlopen(page, timeout=60).read()  # index built once, before timing
        w = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % seconds, page],
                           capture_output=True, text=True, timeout=600, check=True)
        out["page"] = float(re.search(r"Requests/sec:\s+([\d.]+)", w.stdout).group(1))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    ratios = {"put": [], "get": [], "page": []}
    for i in range(args.pairs):
        old = run(args.old, args.new, args.seconds, args.connections)
        new = run(args.new, args.new, args.seconds, args.connections)
        for op in ratios:
            ratios[op].append(new[op] / old[op])
        print("pair %d: " % (i + 1) + "  ".join(
            "%s old %.0f new %.0f (%.3f)" % (op, old[op], new[op], ratios[op][-1]) for op in ratios), flush=True)
    for op, r in ratios.items():
        print("%s: median new/old ratio %.3f over %d pairs (%s)" % (
            op, statistics.median(r), len(r), ", ".join("%.3f" % x for x in r)))


if __name__ == "__main__":
    main()
