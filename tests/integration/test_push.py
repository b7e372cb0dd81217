"""`logbucket push`: collects a check's package logs into fullLog.txt, summarises, uploads to a
real S3 endpoint (here the embedded store; test_ceph_rgw.py does the same against Ceph RGW), and
prints the viewer URL and a Markdown snippet. Logs come from the shared generator.
"""
import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import BIN
from test_remote_store import FlakyProxy, RemoteViewer, creds_env, get
from test_web_viewer import GEN
from test_web_viewer import get as web_get

BUCKET = "alice-build-logs"
PR = "AliceO2Group/AliceO2#14473@0c5c7fd0a6a3a4506513270e269e0d37f2a74de4"
PREFIX = "AliceO2Group/AliceO2/14473/0c5c7fd0a6a3a4506513270e269e0d37f2a74de4/build_O2_o2/"
LATEST = "AliceO2Group/AliceO2/14473/latest/build_O2_o2/"


def make_build_dir(root, sizes, failure="gcc-error"):
    """sw/BUILD/<pkg>-latest/log files, oldest first; the last one has the failure."""
    packages = ["zlib", "boost", "ROOT", "O2"][-len(sizes):]
    for i, (pkg, size) in enumerate(zip(packages, sizes)):
        d = root / "sw" / "BUILD" / (pkg + "-latest")
        d.mkdir(parents=True)
        out = d / "log"
        subprocess.run([sys.executable, GEN, "--out", str(out), "--size", str(size), "--failure",
                        failure if pkg == "O2" else "none", "--seed", str(10 + i)],
                       check=True, capture_output=True, timeout=300)
        os.unlink(str(out) + ".truth.json")
        # A package's own log: the generator writes a whole fullLog.txt; keep only the body.
        with open(out, "rb") as f:
            data = f.read()
        body = data[data.index(b"\n## Begin ") + 1:]
        body = b"".join(l for l in body.splitlines(keepends=True)
                        if not l.startswith((b"## Begin ", b"## End ")))
        with open(out, "wb") as f:
            f.write(body)
        os.utime(out, (1_700_000_000 + i * 600, 1_700_000_000 + i * 600))
    return packages


def push(server, cwd, *extra, env=None, endpoint=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(env if env is not None else creds_env(server))
    return subprocess.run(
        [BIN, "push", "--pr", PR, "--check", "build/O2/o2", "--logs", "sw/BUILD/*latest*/log",
         "--dest", "s3://" + BUCKET, "--endpoint", endpoint or server.endpoint,
         "--url-base", "https://logs.example.org/" + BUCKET + "/", *extra],
        cwd=cwd, capture_output=True, text=True, timeout=600, env=e)


@pytest.fixture
def target(server, s3):
    s3.create_bucket(Bucket=BUCKET)
    return server


def test_push_uploads_the_log_the_summary_and_the_page(target, s3, tmp_path):
    packages = make_build_dir(tmp_path, [200_000, 3_000_000, 12_000_000])
    r = push(target, tmp_path, "--latest", "--multipart-threshold", str(8 << 20),
             "--part-size", str(5 << 20), "--jobs", "3")
    assert r.returncode == 0, r.stderr
    url = "https://logs.example.org/%s/%sfullLog.txt" % (BUCKET, PREFIX)
    lines = r.stdout.splitlines()
    assert lines[0] == url
    # Not a terminal (a CI log): one line per uploaded file (the 15 MB log in 5 MB parts too),
    # no redrawn progress line.
    assert "[####" not in r.stderr
    uploaded = re.findall(r"^logbucket push: uploaded (\S+) \([0-9.]+ MB in \d+ s, [0-9.]+ MB/s\)$",
                          r.stderr, re.M)
    assert sorted(uploaded) == sorted(PREFIX + n for n in ("fullLog.txt", "summary.json",
                                                           "pretty.html")), r.stderr
    assert "**build/O2/o2**: failed" in r.stdout and "[summary](" in r.stdout
    # ?L= links: they survive a sign-in proxy's redirects, which drop #fragments.
    assert re.search(r"- \[line \d+\]\(%s\?L=\d+\) \(`O2`\): `.*error" % re.escape(url), r.stdout)

    for prefix in (PREFIX, LATEST):
        for name, ctype in [("fullLog.txt", "text/plain; charset=utf-8"),
                            ("summary.json", "application/json"),
                            ("pretty.html", "text/html; charset=utf-8")]:
            head = s3.head_object(Bucket=BUCKET, Key=prefix + name)
            assert head["ContentType"] == ctype and head["ContentDisposition"] == "inline", name
    log = s3.get_object(Bucket=BUCKET, Key=PREFIX + "fullLog.txt")
    assert log["ETag"].endswith('-3"')  # 12+3+0.2 MB in 5 MiB parts: multipart
    text = log["Body"].read().decode()
    header = text.split("\n")
    assert header[0].startswith("Finished building on ") and " at " in header[0]
    assert header[1] == ("Built commit 0c5c7fd0a6a3a4506513270e269e0d37f2a74de4 from "
                         "https://github.com/AliceO2Group/AliceO2/pull/14473")
    assert header[2] == "The following files (oldest first) are present in the log:"
    assert header[3:6] == ["- sw/BUILD/%s-latest/log" % p for p in packages]
    for p in packages:
        begin = "## Begin sw/BUILD/%s-latest/log " % p
        assert text.count("\n" + begin) == 1 and re.search(
            r"\n## End sw/BUILD/%s-latest/log .* \(\d+s\)\n" % p, text)
        with open(tmp_path / "sw" / "BUILD" / (p + "-latest") / "log") as f:
            assert f.read() in text  # every byte of every log

    # summary.json is the log engine's answer for that file, and the viewer agrees.
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=PREFIX + "summary.json")["Body"].read())
    local = tmp_path / "fullLog.txt"
    local.write_text(text)
    errors = subprocess.run([BIN, "errors", "--json", str(local)], capture_output=True,
                            text=True, check=True)
    assert json.loads(errors.stdout)["errors"] == summary["errors"]
    viewer_errors = json.loads(get(target.web + "/" + BUCKET + "/" + PREFIX + "fullLog.txt?errors")[1])
    assert viewer_errors["errors"] == summary["errors"]
    assert summary["verdict"] == "failed" and summary["errors"][0]["section"] == "O2"

    # pretty.html: status, host, PR, commit, the decisive error linked to its line.
    pretty = s3.get_object(Bucket=BUCKET, Key=PREFIX + "pretty.html")["Body"].read().decode()
    first = summary["errors"][0]
    assert "Build failed" in pretty and "AliceO2Group/AliceO2#14473" in pretty
    assert "0c5c7fd0a6a3a4506513270e269e0d37f2a74de4" in pretty
    assert '%s?L=%d">line %d</a>' % (url, first["line"], first["line"]) in pretty

    # The remote viewer over the same bucket shows the same errors.
    v = RemoteViewer(target.endpoint, env=creds_env(target))
    try:
        assert v.started, v.read_log()
        remote = json.loads(get(v.web + "/" + BUCKET + "/" + PREFIX + "fullLog.txt?errors")[1])
        assert remote["errors"] == summary["errors"]
    finally:
        v.stop()


def test_push_survives_connections_cut_mid_upload(target, s3, tmp_path):
    make_build_dir(tmp_path, [2_000_000, 9_000_000])
    port = int(target.endpoint.rsplit(":", 1)[1])
    proxy = FlakyProxy(port, cut=3, direction="up")
    try:
        r = push(target, tmp_path, "--multipart-threshold", str(6 << 20), "--part-size", str(5 << 20),
                 endpoint="http://127.0.0.1:%d" % proxy.port)
    finally:
        proxy.stop()
    assert r.returncode == 0, r.stderr
    assert proxy.cuts == 3
    body = s3.get_object(Bucket=BUCKET, Key=PREFIX + "fullLog.txt")["Body"].read()
    with open(tmp_path / "sw/BUILD/O2-latest/log", "rb") as f:
        assert f.read() in body
    # No multipart upload left behind.
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_failed_upload_exits_3_and_says_why(target, tmp_path):
    make_build_dir(tmp_path, [100_000])
    dead = "http://127.0.0.1:1"
    r = push(target, tmp_path, endpoint=dead)
    assert r.returncode == 3 and "upload failed" in r.stderr and "127.0.0.1:1" in r.stderr
    assert not r.stdout  # no URL printed for logs that are not there
    # Wrong credentials: also a failed upload, with S3's reason.
    r = push(target, tmp_path, env={"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "x" * 40})
    assert r.returncode == 3 and "InvalidAccessKeyId" in r.stderr


def test_bad_arguments_exit_2_and_name_the_flag(target, tmp_path):
    make_build_dir(tmp_path, [100_000])
    base = [BIN, "push", "--check", "c", "--endpoint", target.endpoint]
    good = ["--dest", "s3://" + BUCKET]
    for args, expected in [
        (good + ["--pr", "not-a-pr", "--logs", "sw/BUILD/*/log"], "--pr 'not-a-pr'"),
        (good + ["--pr", PR, "--logs", "nothing/*/here"], "--logs 'nothing/*/here': no file matches"),
        (["--pr", PR, "--logs", "sw/BUILD/*/log", "--dest", "bucket"], "--dest: 'bucket'"),
        (good + ["--pr", PR], "--logs is required"),
        (good + ["--pr", PR, "--logs", "sw/BUILD/*/log", "--artifacts", "no/such/dir"],
         "--artifacts 'no/such/dir': no such file"),
        (good + ["--pr", PR, "--logs", "sw/BUILD/*/log", "--artifacts", "sw/BUILD/O2-latest/log",
                 "--artifacts", "sw/BUILD/O2-latest"], "would both be artifacts/log"),
        (good + ["--pr", PR, "--logs", "sw/BUILD/*/log", "--artifacts", "sw",
                 "--artifact-max-count", "0"], "more than 0 files (--artifact-max-count)"),
    ]:
        r = subprocess.run(base + args, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, **creds_env(target)))
        assert r.returncode == 2 and expected in r.stderr, (args, r.stderr)


def test_dry_run_writes_the_files_and_uploads_nothing(target, s3, tmp_path):
    make_build_dir(tmp_path, [300_000])
    out = tmp_path / "out"
    r = push(target, tmp_path, "--dry-run", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "would upload s3://%s/%sfullLog.txt" % (BUCKET, PREFIX) in r.stderr
    assert sorted(os.listdir(out)) == ["fullLog.txt", "pretty.html", "summary.json"]
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_logs_in_build_order_to_the_nanosecond(target, tmp_path):
    """Packages built in parallel end within the same second: the order is their last writes'
    order, not their names'."""
    base = 1_700_000_000 * 10**9
    finished = {"zz-first": base + 100, "aa-second": base + 200_000_000, "mm-third": base + 900_000_000}
    for name, ns in finished.items():
        d = tmp_path / "sw" / "BUILD" / (name + "-latest")
        d.mkdir(parents=True)
        (d / "log").write_text("built %s\n" % name)
        os.utime(d / "log", ns=(ns, ns))
    r = push(target, tmp_path, "--dry-run", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    header = (tmp_path / "out" / "fullLog.txt").read_text().split("\n")
    assert header[3:6] == ["- sw/BUILD/%s-latest/log" % n for n in finished]


def test_branch_builds_and_progress(target, s3, tmp_path):
    make_build_dir(tmp_path, [500_000])
    e = dict({k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **creds_env(target))
    r = subprocess.run([BIN, "push", "--pr", "AliceO2Group/AliceO2#dev@abcdef1234567", "--check",
                        "build/O2/o2 (dev)", "--logs", "sw/BUILD/*/log", "--dest", "s3://" + BUCKET,
                        "--endpoint", target.endpoint, "--latest", "--progress"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120, env=e)
    assert r.returncode == 0, r.stderr
    # --progress: the terminal's line (redrawn; text mode reads its \r as a newline), ending full.
    assert "MB/s" in r.stderr and "[####################] 100% 0.5 MB of 0.5 MB" in r.stderr
    # No --url-base: the printed link names the object, and pretty.html links relative to itself.
    check = "AliceO2Group/AliceO2/dev/abcdef1234567/build_O2_o2__dev_/"
    assert r.stdout.splitlines()[0] == "s3://%s/%sfullLog.txt" % (BUCKET, check)
    pretty = s3.get_object(Bucket=BUCKET, Key=check + "pretty.html")["Body"].read().decode()
    assert re.search(r'<a href="fullLog\.txt\?L=\d+">line \d+</a>', pretty)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "AliceO2Group/AliceO2/dev/abcdef1234567/build_O2_o2__dev_/fullLog.txt" in keys
    assert "AliceO2Group/AliceO2/dev/latest/build_O2_o2__dev_/fullLog.txt" in keys
    body = s3.get_object(Bucket=BUCKET, Key="AliceO2Group/AliceO2/dev/latest/build_O2_o2__dev_/fullLog.txt")
    assert "https://github.com/AliceO2Group/AliceO2/commit/abcdef1234567" in body["Body"].read(400).decode()
    # The viewer names the branch (not a pull request) in the log's header card.
    page = web_get(target.web + "/" + BUCKET + "/AliceO2Group/AliceO2/dev/latest/build_O2_o2__dev_/"
                   "fullLog.txt", {"Accept": "text/html"})[0].decode()
    assert '<a href="https://github.com/AliceO2Group/AliceO2/tree/dev" rel="noopener noreferrer">dev</a>' in page
    assert "Pull request" not in page


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256))


def test_push_uploads_artifacts_with_their_types(target, s3, tmp_path):
    """--artifacts: a directory tree and a single file go under <check>/artifacts/, each with a
    content type the browser can show, copied to latest/ too; oversized files and links to
    directories are left out with a reason, and the log is uploaded all the same."""
    make_build_dir(tmp_path, [100_000])
    art = tmp_path / "qc-output"
    (art / "qc" / "plots").mkdir(parents=True)
    files = {
        "qc/plots/pt.png": (PNG, "image/png"),
        "qc/report.json": (b'{"passed": false, "failed": ["ITS"]}\n', "application/json"),
        "histos.root": (b"root\0\1\2" * 100, "application/octet-stream"),
        "index.html": (b"<h1>QC</h1>", "text/html; charset=utf-8"),
        "notes": ("résumé: ITS noisy\n".encode(), "text/plain; charset=utf-8"),
        "core": (b"\x7fELF\0\0\x01\x02", "application/octet-stream"),
    }
    for name, (data, _) in files.items():
        (art / name).write_bytes(data)
    (art / "big.dat").write_bytes(b"x" * 3000)
    os.symlink(art, art / "loop")  # a link back up: must not be walked
    deep = art.joinpath(*["d" * 200] * 5)  # 1000+ bytes: too long for a key under this prefix
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("deep\n")
    os.mkdir(os.path.join(bytes(art), b"latin1-\xe9"))  # a name S3 cannot take (not UTF-8)
    with open(os.path.join(bytes(art), b"latin1-\xe9", b"plot.png"), "wb") as f:
        f.write(PNG)
    (tmp_path / "extra.txt").write_text("one more\n")
    files["extra.txt"] = (b"one more\n", "text/plain; charset=utf-8")

    r = push(target, tmp_path, "--artifacts", str(art), "--artifacts", "extra.txt",
             "--artifact-max-bytes", "2048", "--latest")
    assert r.returncode == 0, r.stderr
    assert "not uploading %s: 3000 bytes, over the 2048-byte limit" % (art / "big.dat") in r.stderr
    assert "not uploading %s: a link to a directory" % (art / "loop") in r.stderr
    assert "not uploading %s: its name is longer than an S3 key allows" % (deep / "f.txt") in r.stderr
    assert "not uploading %s/latin1-?/plot.png: its name is not UTF-8, which S3 keys must be" % art \
        in r.stderr
    base = "https://logs.example.org/%s/%s" % (BUCKET, PREFIX)
    assert "[7 artifacts](%sartifacts/)" % base in r.stdout

    for prefix in (PREFIX, LATEST):
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "artifacts/")
        assert sorted(o["Key"][len(prefix) + len("artifacts/"):] for o in listed["Contents"]) == \
            sorted(files)
        for name, (data, ctype) in files.items():
            got = s3.get_object(Bucket=BUCKET, Key=prefix + "artifacts/" + name)
            assert got["ContentType"] == ctype, name
            assert got["ContentDisposition"] == "inline", name
            assert got["Body"].read() == data, name

    pretty = s3.get_object(Bucket=BUCKET, Key=PREFIX + "pretty.html")["Body"].read().decode()
    assert 'href="%sartifacts/qc/plots/pt.png">qc/plots/pt.png</a> (272 B)' % base in pretty
    assert "Not uploaded: %s (3000 bytes" % (art / "big.dat") in pretty

    # The viewer shows a plot as an image (sandboxed, not a download) and a JSON report in the
    # log viewer; the folder lists the tree.
    web = target.web + "/" + BUCKET + "/" + PREFIX + "artifacts/"
    body, hdrs = web_get(web + "qc/plots/pt.png", {"Accept": "text/html"})
    assert body == PNG and hdrs["Content-Type"] == "image/png"
    assert hdrs["Content-Security-Policy"] == "sandbox" and "Content-Disposition" not in hdrs
    body, hdrs = web_get(web + "qc/report.json", {"Accept": "text/html"})
    assert hdrs["Content-Type"].startswith("text/html") and b'id="L1"' in body
    assert b"&quot;ITS&quot;" in body or b'"ITS"' in body
    body, hdrs = web_get(web + "histos.root", {"Accept": "text/html"})
    assert hdrs["Content-Disposition"].startswith("attachment")
    listing = web_get(web, {"Accept": "text/html"})[0].decode()
    assert "qc/" in listing and "histos.root" in listing and "big.dat" not in listing


def test_pr_comment_quotes_log_text_inertly(target, tmp_path):
    """A pull request chooses its build output: quoted in the PR comment, it stays inline code
    (no links, mentions or list breaks) and long lines are cut."""
    make_build_dir(tmp_path, [100_000])
    hostile = ("src/x.cxx:1:1: error: `rm -rf` [click](http://evil.example) @octocat <b>x</b> "
               + "y" * 400)
    with open(tmp_path / "sw/BUILD/O2-latest/log", "a") as f:
        f.write(hostile + "\n")
    r = push(target, tmp_path, "--comment-errors", "50")
    assert r.returncode == 0, r.stderr
    quoted = [l for l in r.stdout.splitlines() if "evil.example" in l]
    assert len(quoted) == 1, r.stdout
    line = quoted[0]
    m = re.fullmatch(r"- \[line (\d+)\]\(https://\S+/fullLog\.txt\?L=\d+\) \(`O2`\): `([^`]*)`", line)
    assert m, line
    assert m.group(2).startswith("src/x.cxx:1:1: error: 'rm -rf' [click](http://evil.example) @octocat")
    assert m.group(2).endswith("…") and len(m.group(2).encode()) <= 300 + len("…".encode())


def test_pretty_html_shows_a_tracebacks_frames_and_wraps_long_lines(target, tmp_path):
    make_build_dir(tmp_path, [100_000, 300_000], failure="python-traceback")
    out = tmp_path / "out"
    r = push(target, tmp_path, "--dry-run", "--out", str(out))
    assert r.returncode == 0, r.stderr
    pretty = (out / "pretty.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    first = summary["errors"][0]
    assert first["kind"] == "python-traceback"
    block = pretty[pretty.index('?L=%d">line %d</a>' % (first["line"], first["line"])):]
    block = html.unescape(block[:block.index("</pre>")])
    # From "Traceback (most recent call last):" through the frames to the exception, marked.
    assert "Traceback (most recent call last):" in block and '  File "' in block, block
    assert "<b>" + first["text"] + "</b>" in block, block
    assert "white-space:pre-wrap" in pretty
