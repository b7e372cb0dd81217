"""One logbucket server on a fresh data directory for a single benchmark run (bench/compare_*.py):
both listeners on free loopback ports, access log off, stopped by PID and its directory removed
on exit, so no run sees another's caches."""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time

import boto3
import botocore.config


class Running:
    def __init__(self, endpoint, web, env):
        self.endpoint = endpoint  # S3, http://127.0.0.1:PORT
        self.web = web            # the viewer
        self.env = env            # os.environ plus the admin keys (AWS_ACCESS_KEY_ID, …)
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                               aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                               aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                               config=botocore.config.Config(s3={"addressing_style": "path"}))


@contextlib.contextmanager
def fresh_server(binary):
    data = tempfile.mkdtemp(prefix="lb-bench-")
    proc = subprocess.Popen([binary, "serve", "--data", data, "--s3-listen", "127.0.0.1:0",
                             "--web-listen", "127.0.0.1:0", "--no-access-log"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = web = None
        deadline = time.monotonic() + 60
        while web is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(binary + " did not start")
            m = re.search(r"serving S3 at (http://\S+)", line)
            endpoint = m.group(1) if m else endpoint
            m = re.search(r"log viewer at (http://\S+?)/?$", line)
            web = m.group(1) if m else web
        if web is None:
            raise RuntimeError(binary + " did not print its addresses within 60 s")
        env = dict(os.environ)
        env.update(l.strip().split("=", 1) for l in open(os.path.join(data, "admin.env")) if "=" in l)
        yield Running(endpoint, web, env)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
