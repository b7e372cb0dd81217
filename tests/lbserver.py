"""Starting logbucket from Python: the one helper the integration tests (tests/integration/
conftest.py), the conformance run (tests/conformance/run.py) and the benchmarks (bench/) share.

`launch` runs `logbucket serve ARGS`, waits until it prints where it serves (it prints the S3
endpoint, then the viewer, once both accept connections), and drains the rest of its stdout in
the background so the pipe never fills. Every wait is bounded; a server that does not start is
killed and reported with what it printed.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

S3_LINE = re.compile(r"serving S3 at (https?://\S+)")
WEB_LINE = re.compile(r"log viewer at (https?://\S+?)/?(?:\s|$)")


class Launched:
    def __init__(self, proc, endpoint, web, lines):
        self.proc = proc
        self.endpoint = endpoint  # the S3 listener, e.g. http://127.0.0.1:PORT (None: --no-s3)
        self.web = web            # the viewer's base URL, without the final '/'
        self.lines = lines        # what it printed until then


def launch(binary, args, stderr=subprocess.DEVNULL, env=None, timeout=60, check=True):
    """check=False: a server that does not start is returned as it is (web None; it may have
    exited with its own code), for tests of refusals."""
    proc = subprocess.Popen([binary, "serve", *args], stdout=subprocess.PIPE, stderr=stderr,
                            env=env, text=True)
    endpoint = web = None
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = S3_LINE.search(line)
        endpoint = m.group(1) if m else endpoint
        m = WEB_LINE.search(line)
        if m:
            web = m.group(1)
            break
    if web is None and not check:
        return Launched(proc, endpoint, None, lines)
    if web is None:
        stop(proc, signal.SIGKILL)
        raise RuntimeError("%s serve %s did not start within %d s: %s"
                           % (binary, " ".join(args), timeout, "".join(lines)))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return Launched(proc, endpoint, web, lines)


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Stops the process by PID: `sig`, then SIGKILL after `timeout` seconds. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def read_env(path):
    """KEY=VALUE lines (the data directory's admin.env) as a dict."""
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def free_port():
    """A loopback port nothing listens on right now (for servers that must know their URL in
    advance)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
