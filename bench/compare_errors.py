#!/usr/bin/env python3
"""The error summary (`logbucket errors FILE`) of two builds against `grep -cE` with the CI
report's pattern, alternated on the same log: each build's speed as grep's time / its time
(above 1: faster than grep), median of the per-pair ratios.

  /usr/bin/python3 bench/compare_errors.py --old <build> --new build/logbucket \\
      --log build/bench-logs/fullLog-500000000.txt --pairs 5
"""
import argparse
import statistics
import subprocess
import time

from logs_bench import CI_PATTERN


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    timed(["cat", args.log])  # into the page cache for everyone
    new_ratios, old_ratios = [], []
    for i in range(args.pairs):
        new = timed([args.new, "errors", args.log])
        grep_new = timed(["grep", "-cE", CI_PATTERN, args.log])
        old = timed([args.old, "errors", args.log])
        grep_old = timed(["grep", "-cE", CI_PATTERN, args.log])
        new_ratios.append(grep_new / new)
        old_ratios.append(grep_old / old)
        print("pair %d: new %.2f s grep %.2f s (%.2fx)  old %.2f s grep %.2f s (%.2fx)"
              % (i + 1, new, grep_new, grep_new / new, old, grep_old, grep_old / old), flush=True)
    print("median grep/logbucket: new %.2fx old %.2fx"
          % (statistics.median(new_ratios), statistics.median(old_ratios)))


if __name__ == "__main__":
    main()
