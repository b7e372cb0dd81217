"""`serve` under a service manager: the sd_notify protocol (READY=1 once both listeners answer,
WATCHDOG=1 pings, RELOADING=1/READY=1 around a SIGHUP reload, STOPPING=1 before the drain), and
what a reload changes in a running server and what it leaves for a restart.

The service manager's side is played by this test, as systemd plays it: a datagram socket named
by $NOTIFY_SOCKET (a path and the abstract namespace), $WATCHDOG_USEC.
"""
import http.client
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import lbserver
from conftest import BIN, START_TIMEOUT, Server

PROXY = "127.0.0.3"
MEMBER = {"OIDC_CLAIM_sub": "alice-sub", "OIDC_CLAIM_cern_roles": "alice-member"}


class Manager:
    """The service manager's end of $NOTIFY_SOCKET."""

    def __init__(self, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "lb-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="lb-notify-")
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.messages = []

    def next(self, timeout=START_TIMEOUT):
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        self.messages.append(data)
        return data

    def wait_for(self, wanted, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                message = self.next(max(0.05, deadline - time.monotonic()))
            except socket.timeout:
                break
            seen.append(message)
            if wanted in message.split("\n"):
                return seen
        raise AssertionError("no %r within %s s; got %r" % (wanted, timeout, seen))

    def close(self):
        self.sock.close()


def health(url):
    with urllib.request.urlopen(url + "/_health", timeout=10) as r:
        return r.status


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_readiness_watchdog_reload_and_stop_are_told_to_the_service_manager(abstract):
    manager = Manager(abstract)
    data = tempfile.mkdtemp(prefix="lb-notify-data-")
    env = dict(os.environ, NOTIFY_SOCKET=manager.address, WATCHDOG_USEC="400000")
    launched = lbserver.launch(BIN, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                     "--web-listen", "127.0.0.1:0"], env=env,
                               timeout=START_TIMEOUT)
    try:
        first = manager.wait_for("READY=1")
        assert not any("WATCHDOG=1" in m for m in first[:-1]), first  # ready comes first
        # Ready means both listeners answer.
        assert health(launched.endpoint) == 200 and health(launched.web) == 200
        # Pings every half period (0.2 s): several within 3 s.
        pings = 0
        deadline = time.monotonic() + 3
        while pings < 3 and time.monotonic() < deadline:
            if manager.next(timeout=3) == "WATCHDOG=1":
                pings += 1
        assert pings == 3
        launched.proc.send_signal(signal.SIGHUP)
        seen = manager.wait_for("RELOADING=1")
        after = manager.wait_for("READY=1")
        assert seen and after
        assert health(launched.endpoint) == 200  # a reload does not stop serving
        launched.proc.send_signal(signal.SIGTERM)
        manager.wait_for("STOPPING=1")
        assert launched.proc.wait(timeout=60) == 0
    finally:
        lbserver.stop(launched.proc)
        manager.close()
        subprocess.run(["rm", "-rf", data])


def test_no_watchdog_pings_for_another_process():
    """WATCHDOG_PID names the process the watchdog is for (sd_watchdog_enabled(3))."""
    manager = Manager(False)
    data = tempfile.mkdtemp(prefix="lb-notify-data-")
    env = dict(os.environ, NOTIFY_SOCKET=manager.address, WATCHDOG_USEC="200000",
               WATCHDOG_PID="1")
    launched = lbserver.launch(BIN, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                     "--web-listen", "127.0.0.1:0"], env=env,
                               timeout=START_TIMEOUT)
    try:
        manager.wait_for("READY=1")
        with pytest.raises(socket.timeout):
            manager.next(timeout=1.0)  # five periods: no ping
    finally:
        lbserver.stop(launched.proc)
        manager.close()
        subprocess.run(["rm", "-rf", data])


def wait_for_log(server, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.read_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError("%r not in the log:\n%s" % (text, server.read_log()[-3000:]))


def metrics_status(url):
    try:
        with urllib.request.urlopen(url + "/_metrics", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def proxied_status(web):
    u = urllib.parse.urlsplit(web)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(PROXY, 0))
    try:
        conn.request("GET", "/", headers={"Accept": "text/html", **MEMBER})
        return conn.getresponse().status
    finally:
        conn.close()


CONFIG = """
[http]
metrics_allow = [{metrics}]
[log]
level = "{level}"
[auth]
mode = "proxy"
trusted_proxies = [{proxies}]
require_roles = ["alice-member"]
[web]
site_name = "{site}"
"""


def test_sighup_applies_what_can_change_live_and_names_what_needs_a_restart(server_factory):
    s = server_factory(config=CONFIG.format(metrics='"10.0.0.0/8"', level="info",
                                            proxies='"10.9.9.9/32"', site="ALICE logs"))
    s.start()
    assert metrics_status(s.endpoint) == 403
    assert proxied_status(s.web) == 401  # 127.0.0.3 is no trusted proxy yet
    with open(s.config_path, "w") as f:
        f.write(CONFIG.format(metrics='"127.0.0.0/8"', level="warn",
                              proxies='"%s/32"' % PROXY, site="ALICE build logs"))
    s.proc.send_signal(signal.SIGHUP)
    log = wait_for_log(s, "reload: applied")
    line = [l for l in log.splitlines() if "reload: applied" in l][-1]
    assert "http.metrics_allow" in line and "log.level" in line and "auth.trusted_proxies" in line
    assert "needs a restart (running value kept): web.site_name" in line, line
    assert metrics_status(s.endpoint) == 200
    assert proxied_status(s.web) == 200
    assert health(s.endpoint) == 200
    # log.level = warn: the access log (info) is quiet now.
    before = s.read_log().count(" 200 ")
    for _ in range(3):
        health(s.endpoint)
    assert s.read_log().count(" 200 ") == before

    # A broken file changes nothing and says so.
    with open(s.config_path, "w") as f:
        f.write("[http]\nmetrics_allow = [\"not-an-address\"]\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_for_log(s, "the running configuration stays")
    assert metrics_status(s.endpoint) == 200 and proxied_status(s.web) == 200


def tls_pair(d, name):
    key, cert = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def served_certificate_name(web, cafile):
    u = urllib.parse.urlsplit(web)
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((u.hostname, u.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=u.hostname) as tls:
            return dict(x[0] for x in tls.getpeercert()["subject"])["commonName"]


def test_sighup_re_reads_a_renewed_certificate_at_the_same_path(server_factory):
    d = tempfile.mkdtemp(prefix="lb-tls-reload-")
    try:
        old_cert, old_key = tls_pair(d, "old-cert")
        new_cert, new_key = tls_pair(d, "new-cert")
        live_cert, live_key = os.path.join(d, "live.pem"), os.path.join(d, "live.key")
        os.link(old_cert, live_cert)
        os.link(old_key, live_key)
        s = server_factory(extra_args=["--web-tls-cert", live_cert, "--web-tls-key", live_key])
        s.start()
        assert served_certificate_name(s.web, old_cert) == "old-cert"
        # A broken renewal (a key that is not the certificate's) keeps the running pair.
        os.replace(new_cert, live_cert)
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "the running certificate stays")
        assert served_certificate_name(s.web, old_cert) == "old-cert"
        os.replace(new_key, live_key)
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "reload: applied web.tls_cert_file/web.tls_key_file (re-read)")
        assert served_certificate_name(s.web, live_cert) == "new-cert"
    finally:
        subprocess.run(["rm", "-rf", d])
