#!/usr/bin/env python3
"""Log-engine and viewer benchmarks on a generated 500 MB fullLog.txt; prints a Markdown section
(append it to docs/BENCHMARKS.md). Pairs alternate (A B A B ...); each ratio is the median of
the per-pair ratios. The server listens on 127.0.0.1 with kernel-chosen ports, stopped by PID.

  error summary:   logbucket errors FILE          vs  grep -cE <the CI report pattern> FILE
  search:          viewer ?search=<rare literal>  vs  rg -c <rare literal> FILE
                   viewer ?search=<text pasted from the screen>  vs  rg -c <the same> FILE
  first page:      viewer page of the 500 MB object, first request after upload (cold index)
  index:           viewer ?meta (the line index: one memchr pass), first request
  summary:         viewer ?errors (the error summary: its own pass), first request
  peak RSS:        server VmHWM after three clients scroll (?lines) and search concurrently
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "logbucket")
CI_PATTERN = (r": (internal compiler |fatal )?error:|^CMake Error|^Error(:| in )|^ERROR: | -> FAILED|"
              r"ninja: build stopped:|make.*: \*\*\*|\[ERROR\]|\[FATAL\]|undefined reference|ld: error|"
              r"collect2: error|Test *#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)|% tests passed|"
              r"Killed signal|Traceback|: warning:")


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def fetch(url):
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html"}), timeout=300) as r:
        r.read()
    return time.perf_counter() - t


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=500_000_000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-logs"))
    ap.add_argument("--binary", default=BIN, help="the logbucket to measure (a copy: rebuilding "
                    "build/logbucket under a running benchmark pulls it away)")
    args = ap.parse_args()
    BIN = args.binary
    os.makedirs(args.work, exist_ok=True)
    log = os.path.join(args.work, "fullLog-%d.txt" % args.size)
    if not os.path.exists(log):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests/data/gen-fulllog.py"), "--out", log,
                        "--size", str(args.size), "--seed", "11"], check=True)
    size_mb = os.path.getsize(log) / 1e6
    subprocess.run(["cat", log], stdout=subprocess.DEVNULL)  # page cache warm for both sides

    rows = []
    ours, ref = [], []
    for _ in range(args.pairs):
        ours.append(timed([BIN, "errors", log]))
        ref.append(timed(["grep", "-cE", CI_PATTERN, log]))
    ratio = statistics.median(r / o for o, r in zip(ours, ref))
    rows.append(("error summary (MB/s)", size_mb / statistics.median(ours), "grep -E",
                 size_mb / statistics.median(ref), ratio))

    data = tempfile.mkdtemp(prefix="lb-bench-")
    proc = subprocess.Popen([BIN, "serve", "--data", data, "--s3-listen", "127.0.0.1:0", "--web-listen",
                             "127.0.0.1:0", "--no-access-log"], stdout=subprocess.PIPE, text=True)
    try:
        s3 = web = None
        while web is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("server did not start")
            if m := re.search(r"serving S3 at (\S+)", line):
                s3 = m.group(1)
            if m := re.search(r"log viewer at (\S+?)/?$", line):
                web = m.group(1)
        env = dict(os.environ)
        for kv in open(os.path.join(data, "admin.env")).read().split():
            k, v = kv.split("=", 1)
            env[k] = v
        subprocess.run(["aws", "--endpoint-url", s3, "s3", "mb", "s3://logs"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["aws", "--endpoint-url", s3, "s3", "cp", log, "s3://logs/o/r/1/latest/c/fullLog.txt",
                        "--content-type", "text/plain"], env=env, check=True, stdout=subprocess.DEVNULL)
        url = web + "/logs/o/r/1/latest/c/fullLog.txt"
        first_page = fetch(url)
        index = fetch(url + "?meta")
        summary = fetch(url + "?errors")
        last_page = fetch(url + "?lines=5000000-5000200")
        rare = "o2-test-rare-literal-zz"
        ours, ref = [], []
        for _ in range(args.pairs):
            ours.append(fetch(url + "?search=" + rare + "&from=1"))
            ref.append(timed(["rg", "-c", rare, log]))
        rows.append(("search, rare literal (MB/s)", size_mb / statistics.median(ours), "ripgrep",
                     size_mb / statistics.median(ref), statistics.median(r / o for o, r in zip(ours, ref))))
        # What a reader pastes from the screen: its rarest byte ('g') is in many coloured lines,
        # which the viewer then matches in their visible text (escape codes removed); ripgrep
        # reads the bytes only (and misses the coloured occurrences).
        pasted = "error: no matching function for call to"
        ours, ref = [], []
        for _ in range(args.pairs):
            ours.append(fetch(url + "?search=" + urllib.request.quote(pasted) + "&from=1"))
            ref.append(timed(["rg", "-c", pasted, log]))
        rows.append(("search, pasted text (MB/s)", size_mb / statistics.median(ours), "ripgrep",
                     size_mb / statistics.median(ref), statistics.median(r / o for o, r in zip(ours, ref))))

        def client(k):
            for i in range(50):
                fetch(url + "?lines=%d-%d" % (1 + i * 97_000 + k, 200 + i * 97_000 + k))
            fetch(url + "?search=warning%d&icase=1" % k)
        threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        hwm = [l for l in open("/proc/%d/status" % proc.pid) if l.startswith("VmHWM")][0].split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)  # a copy of the 500 MB log
    print("## Log engine and viewer (500 MB generated fullLog.txt)\n")
    print("`/usr/bin/python3 bench/logs_bench.py --pairs %d` on %s; %.0f MB, page cache warm.\n"
          % (args.pairs, time.strftime("%Y-%m-%d"), size_mb))
    print("| measure | logbucket | reference | reference value | ratio (logbucket/reference, median of pairs) |")
    print("|---|---|---|---|---|")
    for name, a, refname, b, r in rows:
        print("| %s | %.0f | %s | %.0f | %.2f× |" % (name, a, refname, b, r))
    print("\n| single figure | value |\n|---|---|")
    print("| first viewer page, cold (no index yet) | %.0f ms |" % (first_page * 1000))
    print("| full line index (?meta, first request) | %.3f s = %.0f MB/s |" % (index, size_mb / index))
    print("| error summary (?errors, first request, after the index) | %.3f s = %.0f MB/s |"
          % (summary, size_mb / summary))
    print("| lines 5,000,000-5,000,200 after that (indexed) | %.1f ms |" % (last_page * 1000))
    print("| server peak RSS (VmHWM) after 3 clients scrolled and searched | %d MB |" % (int(hwm) // 1024))


if __name__ == "__main__":
    main()
