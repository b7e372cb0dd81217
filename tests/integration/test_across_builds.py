"""Across builds (issue 18): "is this failure mine, or the CI's?". A bucket of build logs made
with the generator (tests/data/gen-fulllog.py): PRs with their own errors, uploaded by
`logbucket push` (which writes summary.json) or by plain boto3 (no summary.json, one as .gz),
green builds, and one host, alibuild-07, where the compiler is OOM-killed on 12 unrelated PRs.
The build index must list that failure first, name the host and count its PRs exactly; the
board must show each PR's verdict; a log of it must say how many other PRs it broke; the index
must follow deletes, survive a restart without re-reading, and rebuild when deleted."""
import gzip
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import BIN, Server, assert_sanitizer_clean
from test_push import make_build_dir
from test_remote_store import creds_env
from test_web_viewer import ARTIFACTS, GEN, JS_DIR, get

BUCKET = "alice-build-logs"
REPO = "AliceO2Group/AliceO2"
CHECK = "build_O2_o2"
OOM_PRS = list(range(15001, 15013))  # 12 PRs broken by alibuild-07
GREEN_PRS = [15101, 15102, 15103]  # the same check passing on alibuild-02
PUSHED = {15201: "gcc-error", 15202: "cmake-error", 15203: "ctest-failure"}  # their own errors
GZ_PR = 15301  # a plain upload, compressed: a linker error in the green builds' log


def sha(pr):
    return "%040x" % (pr * 7919)


def key(pr, name="fullLog.txt"):
    return "%s/%d/%s/%s/%s" % (REPO, pr, sha(pr), CHECK, name)


def generated(tmp, failure, seed, host, pr):
    """A fullLog.txt from the generator, made to say it was built on `host` for `pr`."""
    out = os.path.join(tmp, "%s-%d.log" % (failure, seed))
    if not os.path.exists(out):
        subprocess.run([sys.executable, GEN, "--out", out, "--size", "150000", "--seed", str(seed),
                        "--failure", failure], check=True, capture_output=True, timeout=120)
    with open(out, "rb") as f:
        data = f.read()
    rest = data.split(b"\n", 2)[2]  # after the generator's two header lines
    return (b"Finished building on %s at 2026-11-18-13:24:03\n" % host.encode() +
            b"Built commit %s from https://github.com/%s/pull/%d\n" % (sha(pr).encode(),
                                                                      REPO.encode(), pr) + rest)


def metrics(server):
    with urllib.request.urlopen(server.web + "/_metrics", timeout=30) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(logbucket_build_index_\w+) (\S+)$", text, re.M)}


def wait_indexed(server, at_least, timeout=120):
    """Until the indexer has nothing queued and has indexed `at_least` logs (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(server)
        if m.get("logbucket_build_index_queued", 1) == 0 and \
                m.get("logbucket_build_index_indexed_total", 0) >= at_least:
            return m
        assert time.monotonic() < deadline, m
        time.sleep(0.05)


def api(server, path):
    return json.loads(get(server.web + "/" + BUCKET + "/" + path)[0])


def push_pr(server, tmp, pr, failure):
    d = os.path.join(tmp, "push-%d" % pr)
    os.makedirs(d)
    make_build_dir(pathlib.Path(d), [50_000, 200_000], failure=failure)
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(creds_env(server))
    r = subprocess.run(
        [BIN, "push", "--pr", "%s#%d@%s" % (REPO, pr, sha(pr)), "--check", CHECK,
         "--logs", "sw/BUILD/*latest*/log", "--dest", "s3://" + BUCKET,
         "--endpoint", server.endpoint, "--url-base", server.web + "/" + BUCKET + "/"],
        cwd=d, capture_output=True, text=True, timeout=600, env=e)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("fleet"))
    server = Server().start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        for pr in OOM_PRS:
            s3.put_object(Bucket=BUCKET, Key=key(pr), ContentType="text/plain",
                          Body=generated(tmp, "compiler-killed-oom", 3, "alibuild-07", pr))
        for pr in GREEN_PRS:
            s3.put_object(Bucket=BUCKET, Key=key(pr), ContentType="text/plain",
                          Body=generated(tmp, "none", 5, "alibuild-02", pr))
        s3.put_object(Bucket=BUCKET, Key=key(GZ_PR) + ".gz", ContentType="application/gzip",
                      Body=gzip.compress(generated(tmp, "linker-undefined-reference", 5,
                                                   "alibuild-03", GZ_PR)))
        for pr, failure in PUSHED.items():
            push_pr(server, tmp, pr, failure)
        total = len(OOM_PRS) + len(GREEN_PRS) + len(PUSHED) + 1
        wait_indexed(server, total)
        server.total = total
        yield server
    finally:
        code = server.stop()
        log = server.read_log()
        server.cleanup()
        assert code == 0, log[-3000:]
        assert_sanitizer_clean(log)


def test_the_infrastructure_failure_comes_first_with_its_host_and_exact_pr_count(fleet):
    groups = api(fleet, "?failures&format=json")["groups"]
    first = groups[0]
    assert first["infrastructure"] is True, first
    assert first["prs"] == len(OOM_PRS) and first["builds"] == len(OOM_PRS)
    assert first["kind"] == "compiler-killed"
    assert first["hosts"] == [{"host": "alibuild-07", "builds": len(OOM_PRS)}]
    assert "12 PRs within 24 h" in first["reason"]
    assert "on alibuild-07, while other hosts passed the same check 3 times" in first["reason"]
    # Every PR's own error is a group of one PR, not flagged.
    own = [g for g in groups[1:]]
    assert len(own) == len(PUSHED) + 1, [g["text"] for g in own]
    assert all(g["prs"] == 1 and not g["infrastructure"] for g in own)
    # The same for the repository, and one group on its own, with every build as an example.
    assert api(fleet, REPO + "/?failures&format=json")["groups"][0]["signature"] == \
        first["signature"]
    one = api(fleet, "?failures&format=json&signature=" + first["signature"])["groups"]
    assert len(one) == 1 and len(one[0]["examples"]) == len(OOM_PRS)
    assert {e["pr"] for e in one[0]["examples"]} == {str(p) for p in OOM_PRS}
    # Each example links to its log, positioned on the error.
    body = get(fleet.web + one[0]["examples"][0]["href"].split("#")[0] + "?errors")[0]
    assert json.loads(body)["errors"][0]["line"] == int(one[0]["examples"][0]["href"].split("#L")[1])


def test_the_board_shows_each_prs_verdict_newest_first(fleet):
    board = api(fleet, REPO + "/?board&format=json&limit=200")
    verdicts = {int(e["pr"]): e["failing"] for e in board["entries"]}
    assert verdicts == {**{p: True for p in OOM_PRS}, **{p: False for p in GREEN_PRS},
                        **{p: True for p in PUSHED}, GZ_PR: True}
    times = [e["last_ms"] for e in board["entries"]]
    assert times == sorted(times, reverse=True)
    by_pr = {int(e["pr"]): e for e in board["entries"]}
    # push's summary.json is what was read for its logs; the plain uploads were read themselves.
    assert all(by_pr[p]["checks"][0]["source"] == "summary.json" for p in PUSHED)
    assert by_pr[OOM_PRS[0]]["checks"][0]["source"] == "log"
    assert by_pr[GZ_PR]["checks"][0]["error"]["kind"] == "linker"
    assert by_pr[15202]["checks"][0]["error"]["kind"] == "cmake"
    # Filters: failing only; a host; paging by time.
    failing = api(fleet, REPO + "/?board&format=json&failing=1&limit=200")["entries"]
    assert {int(e["pr"]) for e in failing} == set(OOM_PRS) | set(PUSHED) | {GZ_PR}
    on_07 = api(fleet, REPO + "/?board&format=json&host=alibuild-07&limit=200")["entries"]
    assert {int(e["pr"]) for e in on_07} == set(OOM_PRS)
    seen, before = [], ""
    for _ in range(10):
        page = api(fleet, REPO + "/?board&format=json&limit=7" + before)
        seen += [int(e["pr"]) for e in page["entries"]]
        if page["next_before"] is None:
            break
        before = "&before=%d" % page["next_before"]
    assert seen == [int(e["pr"]) for e in board["entries"]]


def test_a_log_says_how_many_other_prs_its_error_broke(fleet):
    r = api(fleet, key(OOM_PRS[0]) + "?recurring")
    assert r["indexed"] is True
    others = r["others"]
    assert others["prs"] == len(OOM_PRS) - 1
    assert others["hosts"][0]["host"] == "alibuild-07"
    assert others["infrastructure"] is True
    # A PR's own error broke nobody else.
    assert api(fleet, key(15201) + "?recurring")["others"] is None
    assert api(fleet, key(GREEN_PRS[0]) + "?recurring")["build"]["error"] is None


def test_errors_json_prints_the_signature_the_index_groups_by(fleet, tmp_path):
    path = tmp_path / "oom.log"
    path.write_bytes(generated(str(tmp_path), "compiler-killed-oom", 3, "elsewhere", 1))
    out = json.loads(subprocess.run([BIN, "errors", "--json", str(path)], capture_output=True,
                                    check=True, timeout=60).stdout)
    groups = api(fleet, "?failures&format=json")["groups"]
    assert out["errors"][0]["signature"] == groups[0]["signature"]


def test_browser_board_groups_and_the_log_pages_line(fleet):
    assert os.path.exists("/usr/bin/chromium"), "chromium missing: run make deps"
    os.makedirs(ARTIFACTS, exist_ok=True)
    job = {"board": fleet.web + "/" + BUCKET + "/" + REPO + "/?board",
           "folder": fleet.web + "/" + BUCKET + "/" + REPO + "/",
           "failures": fleet.web + "/" + BUCKET + "/?failures",
           "log": fleet.web + "/" + BUCKET + "/" + key(OOM_PRS[-1]),
           "diffLog": fleet.web + "/" + BUCKET + "/" + key(GZ_PR) + ".gz",
           "artifacts": ARTIFACTS}
    r = subprocess.run(["node", "across_builds_test.mjs", json.dumps(job)], cwd=JS_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert "exception" not in seen, seen["exception"]
    # The repository's folder links its board; the board shows every PR with its badges.
    assert seen["folderLinks"] == ["PR board", "Recurring failures"], seen["folderLinks"]
    total = len(OOM_PRS) + len(GREEN_PRS) + len(PUSHED) + 1
    assert seen["board"]["rows"] == total
    assert seen["board"]["failingRows"] == total - len(GREEN_PRS)
    assert seen["board"]["okBadges"] == len(GREEN_PRS)
    # A badge goes to the log, positioned on its error.
    assert re.search(r"#L\d+$", seen["board"]["firstBadgeHref"]), seen["board"]
    assert seen["afterBadge"]["hashLine"] == seen["afterBadge"]["errorLine"], seen["afterBadge"]
    # The recurring failures: the host's failure first, flagged, with its host and PR count.
    assert seen["groups"]["first"]["flag"] == "likely infrastructure"
    assert "alibuild-07" in seen["groups"]["first"]["reason"]
    assert seen["groups"]["first"]["prs"] == "12 PRs"
    assert seen["groups"]["count"] == len(PUSHED) + 2
    # The log page says it where it matters.
    assert seen["logLine"] == ("Likely not this change: This error also failed 11 other PRs "
                               "since %s, 11 of them on alibuild-07 · see them"
                               % seen["logLineSince"]), seen["logLine"]
    # Compared with the last green build: gaps fold what it has too; the error stays in view;
    # "Show the whole log" brings the rest back.
    diff = api(fleet, key(GZ_PR) + ".gz?diff")
    assert seen["diff"]["shownLines"] == diff["shown_lines"]
    assert seen["diff"]["gapRows"] >= 1
    assert seen["diff"]["errorRowVisible"] is True, seen["diff"]
    assert seen["diff"]["status"].startswith("%d new lines against #%d"
                                             % (diff["new_lines"], GREEN_PRS[-1])), seen["diff"]
    assert seen["diff"]["afterWhole"]["gapRows"] == 0
    assert seen["consoleErrors"] == []


def test_the_diff_against_the_last_green_build_holds_the_error_and_little_else(fleet):
    log = key(GZ_PR) + ".gz"
    recurring = api(fleet, log + "?recurring")
    assert [int(g["pr"]) for g in recurring["greens"]] == sorted(GREEN_PRS, reverse=True)
    diff = api(fleet, log + "?diff")
    assert diff["base"]["key"] == key(GREEN_PRS[-1])  # the newest green build of the check
    decisive = api(fleet, log + "?errors")["errors"][0]["line"]
    assert any(a <= decisive <= b for a, b in diff["shown"]), (decisive, diff["shown"][-5:])
    assert diff["shown_lines"] == sum(b - a + 1 for a, b in diff["shown"])
    assert diff["shown_lines"] * 10 < diff["lines"], diff["shown_lines"]
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(diff["shown"], diff["shown"][1:]))
    # Another green build, named; a log against itself; a log that is not there.
    other = api(fleet, log + "?diff=" + key(GREEN_PRS[0]))
    assert other["base"]["pr"] == str(GREEN_PRS[0]) and other["new_lines"] == diff["new_lines"]
    body, _ = get(fleet.web + "/" + BUCKET + "/" + log + "?diff=" + log, expect=400)
    assert "itself" in json.loads(body)["error"]
    body, _ = get(fleet.web + "/" + BUCKET + "/" + log + "?diff=no/such/log.txt", expect=404)
    assert "no/such/log.txt" in json.loads(body)["error"]


def test_push_says_when_the_index_knows_the_error(fleet, tmp_path):
    # One more PR killed like alibuild-07's: push's PR snippet says it is not the PR's fault.
    r = push_pr(fleet, str(tmp_path), 15401, "compiler-killed-oom")
    assert ("⚠ **Likely not this change**: this error also failed %d other PRs in the last 7 "
            "days, %d of them on `alibuild-07` ([see them](%s/%s/?failures&days=7&signature="
            % (len(OOM_PRS), len(OOM_PRS), fleet.web, BUCKET)) in r.stdout, r.stdout
    # A PR's own error (no PR of the fleet has a traceback): no such line.
    r = push_pr(fleet, str(tmp_path), 15402, "python-traceback")
    assert "also failed" not in r.stdout
    # (the fleet as it was, for the next test)
    s3 = fleet.client()
    for pr in (15401, 15402):
        for name in ("fullLog.txt", "summary.json", "pretty.html"):
            s3.delete_object(Bucket=BUCKET, Key=key(pr, name))
    deadline = time.monotonic() + 60
    while len(api(fleet, REPO + "/?board&format=json&limit=200")["entries"]) != fleet.total:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_index_follows_deletes_survives_restarts_and_rebuilds(fleet):
    s3 = fleet.client()
    s3.delete_object(Bucket=BUCKET, Key=key(GREEN_PRS[0]))
    deadline = time.monotonic() + 60
    while True:
        entries = api(fleet, REPO + "/?board&format=json&limit=200")["entries"]
        if GREEN_PRS[0] not in {int(e["pr"]) for e in entries}:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(entries) == fleet.total - 1
    # A restart resumes: nothing is read again.
    assert fleet.stop() == 0
    fleet.start()
    m = wait_crawled(fleet)
    assert m["logbucket_build_index_indexed_total"] == 0, m
    assert len(api(fleet, REPO + "/?board&format=json&limit=200")["entries"]) == fleet.total - 1
    # The index is a cache: deleted, it is rebuilt from the bucket.
    assert fleet.stop() == 0
    for name in os.listdir(fleet.data_dir):
        if name.startswith("builds.sqlite"):
            os.unlink(os.path.join(fleet.data_dir, name))
    fleet.start()
    m = wait_crawled(fleet)
    assert m["logbucket_build_index_indexed_total"] == fleet.total - 1, m
    assert api(fleet, "?failures&format=json")["groups"][0]["prs"] == len(OOM_PRS)


def wait_crawled(server, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(server)
        if m.get("logbucket_build_index_crawls_total", 0) >= 1:
            return m
        assert time.monotonic() < deadline, m
        time.sleep(0.05)
