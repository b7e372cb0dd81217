"""One logbucket server on a fresh data directory for a single benchmark run (bench/compare_*.py):
both listeners on free loopback ports, access log off, stopped by PID and its directory removed
on exit, so no run sees another's caches."""
import contextlib
import os
import shutil
import sys
import tempfile

import boto3
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import lbserver  # noqa: E402  (tests/lbserver.py)


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
    launched = None
    try:
        launched = lbserver.launch(binary, ["--data", data, "--s3-listen", "127.0.0.1:0",
                                            "--web-listen", "127.0.0.1:0", "--no-access-log"])
        env = dict(os.environ)
        env.update(lbserver.read_env(os.path.join(data, "admin.env")))
        yield Running(launched.endpoint, launched.web, env)
    finally:
        if launched is not None:
            lbserver.stop(launched.proc, timeout=60)
        shutil.rmtree(data, ignore_errors=True)
