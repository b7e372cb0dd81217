#!/usr/bin/env python3
"""A viewer API page of a small log (10 KB: stored inline in the embedded store's metadata, so
read from memory, not a mapped file) in two logbucket builds, alternated.

  /usr/bin/python3 bench/compare_small_page.py --old <build> --new build/logbucket --pairs 5

Each run starts a fresh server, uploads a 200-line log, and runs `wrk` (2 threads, 16
connections, 5 s) on `?lines=1-100`. Prints each pair and the median of the per-pair ratios
(new requests/s / old: above 1 is faster).
"""
import argparse
import re
import statistics
import subprocess

from fresh_server import fresh_server


def run(binary, seconds):
    with fresh_server(binary) as s:
        s.s3.create_bucket(Bucket="bench")
        log = b"".join(b"[%04d] src/x.cxx:%d:1: warning: unused variable 'x'\n" % (n, n)
                       for n in range(200))
        s.s3.put_object(Bucket="bench", Key="o/r/1/latest/c/fullLog.txt", Body=log,
                        ContentType="text/plain")
        url = s.web + "/bench/o/r/1/latest/c/fullLog.txt?lines=1-100"
        subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True, timeout=60)
        out = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % seconds, url], capture_output=True,
                             text=True, timeout=seconds + 60).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    ratios = []
    for i in range(args.pairs):
        new = run(args.new, args.seconds)
        old = run(args.old, args.seconds)
        ratios.append(new / old)
        print("pair %d: old %.0f new %.0f (%.2f)" % (i + 1, old, new, new / old), flush=True)
    print("median of %d per-pair ratios (new/old requests/s): %.2f"
          % (len(ratios), statistics.median(ratios)))


if __name__ == "__main__":
    main()
