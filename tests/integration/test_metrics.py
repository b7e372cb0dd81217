"""GET /_metrics: what each listener did, in Prometheus' text format. A real Prometheus (Debian's
package) scrapes both listeners and answers queries about the traffic the test made; promtool
lints the exposition; the allow list decides who may read it.
"""
import os
import http.client
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

from conftest import BIN, free_port, scrape

# The version the binary says it is ("logbucket 0.2.0"), which /_metrics must report too.
VERSION = subprocess.run([BIN, "--version"], capture_output=True, text=True,
                         check=True).stdout.split()[1]

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


class Prometheus:
    """One Prometheus server on loopback scraping `targets` every second; stopped by PID."""

    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="lb-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: logbucket\n    metrics_path: /_metrics\n"
                    "    static_configs:\n      - targets: [%s]\n"
                    % ", ".join("'%s'" % t for t in targets))
        self.url = "http://127.0.0.1:%d" % free_port()
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=" + self.url[7:], "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        """The instant vector for `expr`: [(labels, value)], or None while Prometheus is starting."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                import json
                data = json.load(r)
        except OSError:
            return None
        return [(s["metric"], float(s["value"][1])) for s in data["data"]["result"]]

    def wait_for(self, expr, predicate, seconds=60):
        """Polls `expr` until predicate(result) holds (bounded): the scrape runs on its own timer."""
        deadline = time.monotonic() + seconds
        result = None
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result is not None and predicate(result):
                return result
            assert self.proc.poll() is None, self.read_log()
            time.sleep(0.25)
        raise AssertionError("%s: %r after %d s\n%s" % (expr, result, seconds, self.read_log()))

    def read_log(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def value(result):
    assert len(result) == 1, result
    return result[0][1]


def test_prometheus_scrapes_both_listeners(server, s3, bucket):
    assert PROMETHEUS and PROMTOOL, "prometheus is not installed (scripts/install-deps installs it)"
    # The traffic whose counts Prometheus must report.
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="logs/%d/fullLog.txt" % i, Body=b"line\n" * (100 + i),
                      ContentType="text/plain")
    for i in range(2):
        with pytest.raises(botocore.exceptions.ClientError):
            s3.get_object(Bucket=bucket, Key="missing/%d" % i)
    with urllib.request.urlopen(server.web + "/%s/logs/0/fullLog.txt?lines=1-2" % bucket, timeout=30) as r:
        assert r.status == 200

    s3_target = server.endpoint[7:]
    web_target = server.web[7:].rstrip("/")
    # The exposition passes Prometheus' own linter on both listeners.
    for target in (s3_target, web_target):
        text = urllib.request.urlopen("http://%s/_metrics" % target, timeout=30).read()
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr

    prometheus = Prometheus([s3_target, web_target])
    try:
        up = prometheus.wait_for('up{job="logbucket"}', lambda r: len(r) == 2 and all(v == 1 for _, v in r))
        assert sorted(m["instance"] for m, _ in up) == sorted([s3_target, web_target])
        # Each listener's page has the whole process, so the sums are taken on one instance.
        on = 'instance="%s"' % s3_target
        puts = 'listener="s3",operation="PutObject"'
        assert value(prometheus.wait_for(
            'logbucket_http_requests_total{%s,%s,status="200"}' % (on, puts), lambda r: len(r) == 1)) == 3
        assert value(prometheus.query(
            'logbucket_http_requests_total{%s,listener="s3",operation="GetObject",status="404"}' % on)) == 2
        assert value(prometheus.query(
            'logbucket_http_request_body_bytes_total{%s,%s}' % (on, puts))) == 5 * (100 + 101 + 102)
        assert value(prometheus.query(
            'logbucket_http_request_duration_seconds_count{%s,%s}' % (on, puts))) == 3
        assert value(prometheus.query(
            'logbucket_http_requests_total{%s,listener="web",operation="lines",status="200"}' % on)) == 1
        # Both instances report the same process.
        starts = prometheus.query("logbucket_start_time_seconds")
        assert len(starts) == 2 and starts[0][1] == starts[1][1]
        assert abs(starts[0][1] - time.time()) < 600
    finally:
        prometheus.stop()


def test_metrics_only_for_allowed_addresses(server_factory):
    server = server_factory(config='[http]\nmetrics_allow = ["127.0.0.2/32"]\n',
                            extra_args=["--trusted-proxy", "127.0.0.0/8"]).start()
    for base in (server.endpoint, server.web):
        status, _ = scrape(base + "/_metrics")
        assert status == 403, base
        status, samples = scrape(base + "/_metrics", source_address="127.0.0.2")
        assert status == 200 and samples['logbucket_build_info{version="%s"}' % VERSION] == 1, base
        # A forwarded address does not count, even from a trusted proxy: the scraper's own does.
        req = urllib.request.Request(base + "/_metrics", headers={"X-Forwarded-For": "127.0.0.2"})
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(req, timeout=30)
        assert denied.value.code == 403
        # Nor through a proxy from an allowed address (a TLS proxy on the same host connects from
        # loopback, but forwards anyone's request).
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            conn = http.client.HTTPConnection(base[7:].rstrip("/"), timeout=30, source_address=("127.0.0.2", 0))
            conn.request("GET", "/_metrics", headers={header: "for=203.0.113.7" if header == "Forwarded" else "203.0.113.7"})
            r = conn.getresponse()
            assert r.status == 403 and b"through a proxy" in r.read(), (base, header)
            conn.close()
    # Bytes that are not HTTP are answered 400 by the listener itself, and counted.
    host, port = server.endpoint[7:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    # The refusals are counted too.
    _, samples = scrape(server.endpoint + "/_metrics", source_address="127.0.0.2")
    assert samples['logbucket_http_requests_total{listener="s3",operation="Unparsable",status="400"}'] == 1
    assert samples['logbucket_http_requests_total{listener="s3",operation="Metrics",status="403"}'] == 5
    assert samples['logbucket_http_requests_total{listener="web",operation="Metrics",status="403"}'] == 5


def test_bad_metrics_allow_is_refused_at_start(server_factory):
    server = server_factory(config='[http]\nmetrics_allow = ["10.0.0.0/99"]\n')
    with pytest.raises(RuntimeError) as e:
        server.start()
    assert "http.metrics_allow" in str(e.value)


def test_data_dir_file_system_is_reported(server):
    _, m = scrape(server.endpoint + "/_metrics")
    fs = os.statvfs(server.data_dir)
    label = '{path="%s"}' % server.data_dir
    assert m["logbucket_data_dir_size_bytes" + label] == fs.f_frsize * fs.f_blocks
    # Free space moves with everything else on this machine: within 1 GiB of what we see.
    assert abs(m["logbucket_data_dir_free_bytes" + label] - fs.f_frsize * fs.f_bavail) < 1 << 30
    assert m["logbucket_data_dir_free_inodes" + label] > 0


ALERTS = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "prometheus-alerts.yml")

# promtool's rule unit tests: synthetic series in, the alerts that must (and must not) fire out.
ALERT_TESTS = """
rule_files: [%(rules)s]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'logbucket_data_dir_free_bytes{instance="a",path="/d"}', values: '50x30'}
      - {series: 'logbucket_data_dir_size_bytes{instance="a",path="/d"}', values: '1000x30'}
      - {series: 'logbucket_data_dir_free_bytes{instance="b",path="/d"}', values: '500x30'}
      - {series: 'logbucket_data_dir_size_bytes{instance="b",path="/d"}', values: '1000x30'}
      - {series: 'logbucket_http_requests_total{instance="a",listener="s3",operation="PutObject",status="500"}', values: '0+3x30'}
      - {series: 'logbucket_http_requests_total{instance="a",listener="s3",operation="GetObject",status="200"}', values: '0+900x30'}
      - {series: 'logbucket_http_refused_connections_total{instance="a",listener="web"}', values: '0+5x30'}
      - {series: 'logbucket_http_refused_connections_total{instance="a",listener="s3"}', values: '0x30'}
      - {series: 'logbucket_http_request_duration_seconds_bucket{instance="a",listener="s3",operation="PutObject",le="2.5"}', values: '0+1x30'}
      - {series: 'logbucket_http_request_duration_seconds_bucket{instance="a",listener="s3",operation="PutObject",le="10"}', values: '0+100x30'}
      - {series: 'logbucket_http_request_duration_seconds_bucket{instance="a",listener="s3",operation="PutObject",le="+Inf"}', values: '0+100x30'}
      - {series: 'logbucket_remote_cache_downloads_total{instance="v"}', values: '0+10x60'}
      - {series: 'logbucket_remote_cache_evictions_total{instance="v"}', values: '0+9x60'}
    alert_rule_test:
      - eval_time: 5m
        alertname: LogbucketDiskAlmostFull
        exp_alerts: []
      - eval_time: 15m
        alertname: LogbucketDiskAlmostFull
        exp_alerts:
          - exp_labels: {severity: page, instance: a, path: /d}
            exp_annotations:
              summary: "a: less than 10%% free under /d"
              description: "Uploads fail once the disk is full. Check the lifecycle rule (logbucket lifecycle get) and the growth of the bucket."
      - eval_time: 15m
        alertname: LogbucketServerErrors
        exp_alerts:
          - exp_labels: {severity: ticket, instance: a, listener: s3, operation: PutObject}
            exp_annotations:
              summary: "a: PutObject answers 5xx"
              description: "Look for InternalError lines with the request id in the server log."
      - eval_time: 15m
        alertname: LogbucketConnectionsRefused
        exp_alerts:
          - exp_labels: {severity: ticket, instance: a, listener: web}
            exp_annotations:
              summary: "a: web is at http.max_connections"
              description: "Clients get 503 SlowDown; raise http.max_connections or add frontends."
      - eval_time: 29m
        alertname: LogbucketSlowUploads
        exp_alerts:
          - exp_labels: {severity: ticket, instance: a}
            exp_annotations:
              summary: "a: 99th percentile PutObject above 2.5 s"
              description: "Durable writes wait for fsync: check the disk's latency."
      - eval_time: 59m
        alertname: LogbucketViewerCacheThrashing
        exp_alerts:
          - exp_labels: {severity: ticket, instance: v}
            exp_annotations:
              summary: "v: the viewer cache evicts what it just downloaded"
              description: "Raise --cache-max-bytes (store.cache_max_bytes) on this frontend."
"""


def test_example_alerts_fire_when_they_should(tmp_path):
    assert PROMTOOL, "promtool is not installed (scripts/install-deps installs prometheus)"
    check = subprocess.run([PROMTOOL, "check", "rules", ALERTS], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(ALERT_TESTS % {"rules": os.path.abspath(ALERTS)})
    run = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
