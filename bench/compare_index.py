#!/usr/bin/env python3
"""The viewer's log engine in two logbucket builds, alternated: the line index (first `?meta`
of a log), a search over the whole indexed log (`?search=`), and the first page (the viewer
page, rendered before any index); for a change on the log engine, its cost against the build
before it, on the same machine and log.

  /usr/bin/python3 bench/compare_index.py --old /tmp/old/build/logbucket --new build/logbucket \\
      --log build/bench-logs/fullLog-500000000.txt --pairs 5

Each run starts a fresh server (fresh data directory, so nothing is cached), uploads the log,
times the first `?meta` (the index pass), then `?search=logbucket-bench-absent` (a literal no
line holds: the whole log is scanned), then the viewer page as a browser asks for it, and stops
the server by PID.
Prints each pair and the median of the per-pair ratios (new time / old time: below 1 is
faster) for each.
"""
import argparse
import os
import statistics
import time
import urllib.request

from fresh_server import fresh_server


def timed_get(url, headers=None):
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=600) as r:
        r.read()
    return time.perf_counter() - start


def run_once(binary, log):
    """(index, search, first page) seconds on a fresh server."""
    with fresh_server(binary) as server:
        server.s3.create_bucket(Bucket="bench-logs")
        key = "o/r/1/latest/c/fullLog.txt"
        server.s3.upload_file(log, "bench-logs", key, ExtraArgs={"ContentType": "text/plain"})
        url = server.web + "/bench-logs/" + key
        index = timed_get(url + "?meta")
        search = timed_get(url + "?search=logbucket-bench-absent")
        page = timed_get(url, {"Accept": "text/html"})
        return index, search, page


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    size_mb = os.path.getsize(args.log) / 1e6
    names = ("index", "search", "first page")
    ratios = [[] for _ in names]
    for _ in range(args.pairs):
        new = run_once(args.new, args.log)
        old = run_once(args.old, args.log)
        for i in range(len(names)):
            ratios[i].append(new[i] / old[i])
        print("  ".join("%s new %.3f s old %.3f s (%.2f)" % (n, new[i], old[i], new[i] / old[i])
                        for i, n in enumerate(names)), flush=True)
    print("index: %.0f MB; new/old medians of %d per-pair ratios (time: below 1 is faster):"
          % (size_mb, args.pairs))
    for i, n in enumerate(names):
        print("  %-10s %.2f" % (n, statistics.median(ratios[i])))

if __name__ == "__main__":
    main()
