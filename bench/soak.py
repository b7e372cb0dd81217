"""Soak and attack benchmarks (issue 13; `make soak`, not in CI). Three parts, each bounded in
count and time, all traffic on 127.0.0.0/8, every server stopped by PID:

  kill9      CYCLES times: 8 clients PUT (0-300 KB), overwrite, multipart (5 MiB + tail) and
             DELETE keys of one bucket; after a random 0.3-1.5 s the server gets SIGKILL, is
             started again on the same data directory, and every key must hold its last
             acknowledged value or the value of the one operation in flight on it at the kill,
             byte for byte (nothing lost, nothing partial).
  load       256 wrk connections GET a 4 KiB object for MINUTES minutes while a writer PUTs,
             64 slow-head clients trickle headers (and reconnect when cut off) and 8 slow
             readers drain an 8 MiB object at 64 KB/s: throughput, latency, errors, the
             server's RSS over time, slow clients cut off.
  slowloris  5 alternated pairs of 10 s: wrk (16 connections) alone, then with 1024 trickling
             connections from four other loopback addresses; the ratio of the served rates.

Usage: /usr/bin/python3 bench/soak.py [--parts kill9,load,slowloris] [--cycles 100]
       [--minutes 10] [--binary build/logbucket] [--write docs/BENCHMARKS.md]
"""
import argparse
import hashlib
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import botocore.config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import lbserver  # noqa: E402  (tests/lbserver.py)


class Server:
    """logbucket on a data directory that outlives restarts."""

    def __init__(self, binary, data, config=None):
        self.binary, self.data, self.config = binary, data, config
        self.proc = None

    def start(self):
        args = [self.binary, "serve", "--data", self.data, "--s3-listen", "127.0.0.1:0",
                "--web-listen", "127.0.0.1:0", "--no-access-log"]
        if self.config:
            path = self.data.rstrip("/") + ".toml"
            with open(path, "w") as f:
                f.write(self.config)
            args += ["--config", path]
        started = time.monotonic()
        if getattr(self, "log", None):
            self.log.close()
        self.log = open(self.data.rstrip("/") + ".log", "ab")
        launched = lbserver.launch(self.binary, args[2:], stderr=self.log)
        self.proc, self.endpoint = launched.proc, launched.endpoint
        self.ready_seconds = time.monotonic() - started
        env = dict(l.strip().split("=", 1) for l in open(os.path.join(self.data, "admin.env")) if "=" in l)
        self.keys = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        return self

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.keys[0], aws_secret_access_key=self.keys[1],
                            config=botocore.config.Config(
                                s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                connect_timeout=5, read_timeout=30))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_mb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0


def body_for(key, version, size):
    """Deterministic bytes, so an md5 names one attempted value."""
    seed = hashlib.sha256(("%s/%d" % (key, version)).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


# ---------------------------------------------------------------------------------- kill9

def kill9(binary, cycles, report):
    work = tempfile.mkdtemp(prefix="lb-soak-")
    data = os.path.join(work, "data")
    server = Server(binary, data).start()
    server.client().create_bucket(Bucket="soak")
    keys = ["k%02d" % i for i in range(48)]
    acked = {k: None for k in keys}  # key -> md5 of its value, None = absent
    inflight = {}                    # key -> md5 (or None for a delete) at the kill
    locks = {k: threading.Lock() for k in keys}
    version = [0]
    counters = {"acknowledged": 0, "in_flight_at_kill": 0, "multipart": 0}
    problems = []
    ready = []
    start_all = time.monotonic()
    for cycle in range(cycles):
        stop = threading.Event()
        state_lock = threading.Lock()

        def worker(seed):
            rng = random.Random(seed)
            s3 = server.client()
            while not stop.is_set():
                key = rng.choice(keys)
                if not locks[key].acquire(blocking=False):
                    continue
                try:
                    with state_lock:
                        version[0] += 1
                        v = version[0]
                    roll = rng.random()
                    if roll < 0.15:
                        target = None
                        op = lambda: s3.delete_object(Bucket="soak", Key=key)
                    elif roll < 0.20:
                        body = body_for(key, v, 5 * 1024 * 1024 + rng.randrange(1, 200000))
                        target = hashlib.md5(body).hexdigest()

                        def op(body=body):
                            up = s3.create_multipart_upload(Bucket="soak", Key=key)["UploadId"]
                            cut = 5 * 1024 * 1024
                            p1 = s3.upload_part(Bucket="soak", Key=key, UploadId=up, PartNumber=1,
                                                Body=body[:cut])["ETag"]
                            p2 = s3.upload_part(Bucket="soak", Key=key, UploadId=up, PartNumber=2,
                                                Body=body[cut:])["ETag"]
                            s3.complete_multipart_upload(
                                Bucket="soak", Key=key, UploadId=up,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1},
                                                           {"PartNumber": 2, "ETag": p2}]})
                    else:
                        body = body_for(key, v, rng.randrange(0, 300000))
                        target = hashlib.md5(body).hexdigest()
                        op = lambda body=body: s3.put_object(Bucket="soak", Key=key, Body=body)
                    with state_lock:
                        inflight[key] = target
                    try:
                        op()
                    except Exception:
                        return  # the server died under us: the op stays in flight
                    with state_lock:
                        del inflight[key]
                        acked[key] = target
                        counters["acknowledged"] += 1
                        if roll >= 0.15 and roll < 0.20:
                            counters["multipart"] += 1
                finally:
                    locks[key].release()

        threads = [threading.Thread(target=worker, args=(cycle * 100 + i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(random.Random(cycle).uniform(0.3, 1.5))  # the moment of the kill
        server.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        counters["in_flight_at_kill"] += len(inflight)
        server.start()
        ready.append(server.ready_seconds)
        s3 = server.client()
        for key in keys:
            try:
                got = hashlib.md5(s3.get_object(Bucket="soak", Key=key)["Body"].read()).hexdigest()
            except s3.exceptions.NoSuchKey:
                got = None
            allowed = {acked[key]} | ({inflight[key]} if key in inflight else set())
            if got not in allowed:
                problems.append("cycle %d %s: %s not in %s" % (cycle, key, got, allowed))
            acked[key] = got
        inflight.clear()
        leftovers = os.listdir(os.path.join(data, "tmp"))
        if leftovers:
            problems.append("cycle %d: tmp/ not empty after recovery: %d files" % (cycle, len(leftovers)))
        print("kill9 cycle %d/%d: %d acknowledged so far, %d problems" % (
            cycle + 1, cycles, counters["acknowledged"], len(problems)), file=sys.stderr)
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
    report.append("| kill -9 cycles under 8 writers (PUT 0-300 KB, overwrite, multipart 5 MiB+, "
                  "DELETE on 48 keys) | %d cycles in %.0f s: %d operations acknowledged (%d "
                  "multipart), %d in flight at a kill; every key held its acknowledged or its "
                  "in-flight value: **%d problems**; restart to ready: median %.2f s, max %.2f s |"
                  % (cycles, time.monotonic() - start_all, counters["acknowledged"],
                     counters["multipart"], counters["in_flight_at_kill"], len(problems),
                     statistics.median(ready), max(ready)))
    for p in problems[:20]:
        print("PROBLEM", p, file=sys.stderr)
    return not problems


# ------------------------------------------------------------------------------- attackers

class SlowHeads:
    """Connections that send a request head one line at a time and reconnect when cut off."""

    def __init__(self, host, port, count, sources, interval=1.0):
        self.host, self.port, self.count, self.sources = host, port, count, sources
        self.interval = interval
        self.stop = threading.Event()
        self.cut = 0
        self.refused = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self, i):
        try:
            s = socket.create_connection((self.host, self.port), timeout=2,
                                         source_address=(self.sources[i % len(self.sources)], 0))
            s.sendall(b"GET /_health HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
            return s
        except OSError:
            return None

    def run(self):
        socks = [self.open_one(i) for i in range(self.count)]
        next_line = time.monotonic()
        while not self.stop.is_set():
            live = [s for s in socks if s is not None]
            # poll, not select: this process may hold descriptors past 1024
            poller = select.poll()
            for s in live:
                poller.register(s, select.POLLIN)
            ready_fds = {fd for fd, _ in poller.poll(200)} if live else set()
            readable = [s for s in live if s.fileno() in ready_fds]
            for s in readable:  # the server answered (503 SlowDown / 400) or closed: reconnect
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 503"):
                    self.refused += 1
                else:
                    self.cut += 1
                i = socks.index(s)
                s.close()
                socks[i] = self.open_one(i)
            for i, s in enumerate(socks):
                if s is None:
                    socks[i] = self.open_one(i)
            if time.monotonic() >= next_line:
                next_line += self.interval
                for s in socks:
                    if s is not None:
                        try:
                            s.send(b"X-Slow: 1\r\n")
                        except OSError:
                            pass
        for s in socks:
            if s is not None:
                s.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


def wrk(url, connections, seconds, threads=2):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                          "--latency", url], capture_output=True, text=True,
                         timeout=seconds + 120).stdout
    def num(pattern, default=0.0):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default
    def ms(pattern):
        m = re.search(pattern, out)
        if not m:
            return 0.0
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": num(r"Requests/sec:\s+([\d.]+)"), "non2xx": num(r"Non-2xx or 3xx responses: (\d+)"),
            "errors": errors, "p50": ms(r"50%\s+([\d.]+)(us|ms|s)"),
            "p99": ms(r"99%\s+([\d.]+)(us|ms|s)"), "raw": out}


def anonymous_bucket(server):
    import json
    s3 = server.client()
    s3.create_bucket(Bucket="soak")
    s3.put_bucket_policy(Bucket="soak", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::soak/*"}]}))
    s3.put_object(Bucket="soak", Key="4k", Body=os.urandom(4096))
    s3.put_object(Bucket="soak", Key="8m", Body=os.urandom(8 << 20))
    return s3


# ----------------------------------------------------------------------------------- load

def load(binary, minutes, report):
    work = tempfile.mkdtemp(prefix="lb-soak-")
    # wrk's 256 connections and the writer all come from 127.0.0.1, which the default per-client
    # cap (256) would count as one client; here they stand for many.
    server = Server(binary, os.path.join(work, "data"),
                    config="[http]\nmax_connections_per_client = 512\n").start()
    s3 = anonymous_bucket(server)
    host, port = re.match(r"http://([\d.]+):(\d+)", server.endpoint).groups()
    port = int(port)
    stop = threading.Event()
    rss = []
    writes = [0, 0]  # ok, failed
    slow_reads = [0, 0]  # completed, cut off

    def sampler():
        while not stop.wait(10):
            rss.append(server.rss_mb())

    def writer():
        c = server.client()
        i = 0
        while not stop.is_set():
            try:
                c.put_object(Bucket="soak", Key="w/%d" % (i % 500), Body=os.urandom(64 * 1024))
                writes[0] += 1
            except Exception:
                writes[1] += 1
            i += 1

    def slow_reader(n):
        while not stop.is_set():
            try:
                s = socket.create_connection((host, port), timeout=30, source_address=("127.0.0.7", 0))
                s.sendall(b"GET /soak/8m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = 0
                while not stop.is_set():
                    chunk = s.recv(16384)
                    if not chunk:
                        break
                    got += len(chunk)
                    time.sleep(0.25)  # 64 KB/s
                s.close()
                slow_reads[0 if got >= 8 << 20 else 1] += 1
            except OSError:
                slow_reads[1] += 1
                stop.wait(1)

    threads = [threading.Thread(target=sampler), threading.Thread(target=writer)]
    threads += [threading.Thread(target=slow_reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    rss.append(server.rss_mb())
    with SlowHeads(host, port, 64, ["127.0.0.8"], interval=2.0) as heads:
        result = wrk("%s/soak/4k" % server.endpoint, 256, int(minutes * 60), threads=2)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    rss.append(server.rss_mb())
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
    report.append("| %g min: 256 connections GET 4 KiB (wrk) + a 64 KiB PUT writer + 64 "
                  "slow-head clients + 8 slow readers (64 KB/s of an 8 MiB object) | %.0f req/s, "
                  "p50 %.2f ms, p99 %.2f ms, %d non-2xx, %d socket errors; PUTs %d ok / %d failed; "
                  "slow heads cut off %d times, refused %d; slow reads %d whole / %d cut; server "
                  "RSS %.0f MB at start, %.0f MB max, %.0f MB at the end |"
                  % (minutes, result["rps"], result["p50"], result["p99"], result["non2xx"],
                     result["errors"], writes[0], writes[1], heads.cut, heads.refused,
                     slow_reads[0], slow_reads[1], rss[0], max(rss), rss[-1]))
    return result["errors"] == 0 and writes[1] == 0


# ------------------------------------------------------------------------------ slowloris

def slowloris(binary, pairs, report):
    work = tempfile.mkdtemp(prefix="lb-soak-")
    server = Server(binary, os.path.join(work, "data")).start()
    anonymous_bucket(server)
    host, port = re.match(r"http://([\d.]+):(\d+)", server.endpoint).groups()
    url = "%s/soak/4k" % server.endpoint
    ratios, quiet, attacked = [], [], []
    for _ in range(pairs):
        a = wrk(url, 16, 10)
        with SlowHeads(host, int(port), 1024, ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]):
            time.sleep(2)  # let the attackers fill their slots
            b = wrk(url, 16, 10)
        quiet.append(a)
        attacked.append(b)
        ratios.append(b["rps"] / a["rps"] if a["rps"] else 0.0)
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
    report.append("| slowloris: 1024 connections trickling a header line a second from 4 "
                  "addresses vs wrk -c16 GET 4 KiB from another, %d alternated pairs of 10 s | "
                  "served rate under attack / without: median **%.2fx** (pairs: %s); under "
                  "attack %d non-2xx and %d socket errors in total, p99 %.1f ms (without: %.1f ms) |"
                  % (pairs, statistics.median(ratios), ", ".join("%.2f" % r for r in ratios),
                     sum(b["non2xx"] for b in attacked), sum(b["errors"] for b in attacked),
                     statistics.median(b["p99"] for b in attacked),
                     statistics.median(a["p99"] for a in quiet)))
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="kill9,load,slowloris")
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "logbucket"))
    parser.add_argument("--write", help="append the table to this Markdown file")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1024+ attacker sockets
    report, ok = [], True
    parts = args.parts.split(",")
    if "kill9" in parts:
        ok = kill9(args.binary, args.cycles, report) and ok
    if "load" in parts:
        ok = load(args.binary, args.minutes, report) and ok
    if "slowloris" in parts:
        ok = slowloris(args.binary, args.pairs, report) and ok
    command = "/usr/bin/python3 bench/soak.py " + " ".join(sys.argv[1:])
    text = ("\n## Soak and attack (issue 13)\n\n`%s` on %s (2 cores):\n\n| what | result |\n|---|---|\n%s\n"
            % (command, time.strftime("%Y-%m-%d"), "\n".join(report)))
    print(text)
    if args.write:
        with open(args.write, "a") as f:
            f.write(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
