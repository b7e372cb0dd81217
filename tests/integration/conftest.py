"""Starts the real logbucket binary for the integration tests and hands out real clients.

Every server listens on 127.0.0.1 with a port the kernel picks (``--s3-listen 127.0.0.1:0``),
keeps its data in a fresh temporary directory and is stopped by PID when the test ends.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

import boto3
import botocore.config
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lbserver  # noqa: E402  (tests/lbserver.py: shared with bench/ and tests/conformance/)

BIN = os.environ.get("LOGBUCKET_BIN", os.path.join(os.path.dirname(__file__), "../../build/logbucket"))
SANITIZED = os.environ.get("LOGBUCKET_SANITIZED") == "1"
START_TIMEOUT = 60 if SANITIZED else 20


class Server:
    """One logbucket process with its own data directory."""

    def __init__(self, data_dir=None, extra_args=(), web_listen="127.0.0.1:0", config=None,
                 log_dir=None):
        self.owns_dir = data_dir is None
        self.web_listen = web_listen
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="lb-it-")
        # Beside the data directory (not inside: tests look at the directory's contents), named
        # from it without "..", so it can still be found once the directory is removed; or in
        # log_dir (a test that fills the data directory's disk).
        self.log_path = os.path.join(log_dir or os.path.dirname(os.path.abspath(self.data_dir)),
                                     os.path.basename(self.data_dir) + ".log")
        self.extra_args = list(extra_args)
        self.config_path = None
        if config is not None:  # a TOML text: written beside the data directory, removed with it
            self.config_path = self.log_path[:-len(".log")] + ".toml"
            with open(self.config_path, "w") as f:
                f.write(config)
            self.extra_args += ["--config", self.config_path]
        self.proc = None
        self.endpoint = None
        self.web = None  # the log viewer's base URL
        self.env = {}

    def start(self):
        self.log = open(self.log_path, "ab")
        try:
            launched = lbserver.launch(
                BIN, ["--data", self.data_dir, "--s3-listen", "127.0.0.1:0",
                      "--web-listen", self.web_listen, *self.extra_args],
                stderr=self.log, timeout=START_TIMEOUT)
        except RuntimeError as e:
            log = self.read_log()
            self.cleanup()  # (no fixture tears down a server that never started)
            raise RuntimeError("logbucket did not start: %s%s" % (e, log))
        self.proc, self.endpoint, self.web = launched.proc, launched.endpoint, launched.web
        with urllib.request.urlopen(self.endpoint + "/_health", timeout=10) as r:
            assert r.status == 200
        self.env = read_env(os.path.join(self.data_dir, "admin.env"))
        return self

    def read_log(self):
        path = self.log_path
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        code = lbserver.stop(self.proc, sig, timeout)
        self.proc = None
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def client(self, access_key=None, secret_key=None, **config):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=access_key or self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret_key or self.env["AWS_SECRET_ACCESS_KEY"],
            config=botocore.config.Config(**{"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 1},
                                             "signature_version": "s3v4", **config}))

    def cli(self, *args, check=True, input=None, timeout=120):
        """Runs a logbucket subcommand against this server's data dir."""
        return subprocess.run([BIN, *args, "--data", self.data_dir], capture_output=True, text=True,
                              check=check, input=input, timeout=timeout)

    def cleanup(self):
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            for path in (self.log_path, self.config_path):
                try:
                    if path:
                        os.unlink(path)
                except OSError:
                    pass


free_port = lbserver.free_port
read_env = lbserver.read_env


def assert_sanitizer_clean(log):
    if SANITIZED:
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in log, log[-6000:]


@pytest.fixture
def server():
    s = Server().start()
    yield s
    code = s.stop()
    log = s.read_log()
    s.cleanup()
    assert code == 0, "logbucket exited with %s\n%s" % (code, log[-4000:])
    assert_sanitizer_clean(log)


@pytest.fixture
def s3(server):
    return server.client()


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="alice-build-logs")
    return "alice-build-logs"


@pytest.fixture
def server_factory():
    started = []

    def make(**kwargs):
        s = Server(**kwargs)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
        log = s.read_log()
        s.cleanup()
        assert_sanitizer_clean(log)


def scrape(url, source_address=None):
    """GET a /_metrics page: (status, {sample as written, e.g. 'name{a="b"}': value})."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30,
                                      source_address=(source_address, 0) if source_address else None)
    try:
        conn.request("GET", u.path or "/")
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        conn.close()
    samples = {}
    if r.status == 200:
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
    return r.status, samples
