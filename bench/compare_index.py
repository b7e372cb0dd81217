#!/usr/bin/env python3
"""The viewer's line index (first `?meta` of a log) of two logbucket builds, alternated: for a
change on the index pass, its cost against the build before it, on the same machine and log.

  /usr/bin/python3 bench/compare_index.py --old /tmp/old/build/logbucket --new build/logbucket \\
      --log build/bench-logs/fullLog-500000000.txt --pairs 5

Each run starts a fresh server (fresh data directory, so nothing is cached), uploads the log,
times the first `?meta` (the index pass), and stops the server by PID. Prints each pair and the
median of the per-pair ratios (new time / old time: below 1 is faster).
"""
import argparse
import os
import statistics
import time
import urllib.request

from fresh_server import fresh_server


def first_meta_seconds(binary, log):
    with fresh_server(binary) as server:
        server.s3.create_bucket(Bucket="bench-logs")
        key = "o/r/1/latest/c/fullLog.txt"
        server.s3.upload_file(log, "bench-logs", key, ExtraArgs={"ContentType": "text/plain"})
        start = time.perf_counter()
        with urllib.request.urlopen(server.web + "/bench-logs/" + key + "?meta", timeout=600) as r:
            r.read()
        return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    size_mb = os.path.getsize(args.log) / 1e6
    ratios = []
    for _ in range(args.pairs):
        new = first_meta_seconds(args.new, args.log)
        old = first_meta_seconds(args.old, args.log)
        ratios.append(new / old)
        print("new %.3f s (%.0f MB/s)  old %.3f s (%.0f MB/s)  new/old %.2f"
              % (new, size_mb / new, old, size_mb / old, new / old), flush=True)
    print("median of %d per-pair ratios (new/old time): %.2f" % (len(ratios), statistics.median(ratios)))


if __name__ == "__main__":
    main()
