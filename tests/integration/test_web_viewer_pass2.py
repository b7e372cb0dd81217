"""The viewer's second pass (issue 14): what a PR author notices in the first ten seconds.

Logs are pushed with `logbucket push` (a failing build with --latest, a green one), then
headless Chromium (tests/js/viewer_pass2_test.mjs) looks at them at 1440x900 and at 390x844.
Screenshots land in build/artifacts/pass2-*.png.
"""
import json
import os
import re
import subprocess
import urllib.request

import contextlib
import html

import pytest

import test_push
from test_push import BUCKET, LATEST, PREFIX, make_build_dir, push
from test_web_viewer import ARTIFACTS, JS_DIR, get, page

GREEN_PR = "AliceO2Group/AliceO2#14520@1111111111111111111111111111111111111111"
GREEN_PREFIX = "AliceO2Group/AliceO2/14520/1111111111111111111111111111111111111111/build_O2_o2/"


@contextlib.contextmanager
def pushing_as(pr):
    """test_push.push() with another --pr."""
    saved = test_push.PR
    test_push.PR = pr
    try:
        yield
    finally:
        test_push.PR = saved


@pytest.fixture
def pushed(server, s3, tmp_path):
    s3.create_bucket(Bucket=BUCKET)
    failing = tmp_path / "failing"
    failing.mkdir()
    make_build_dir(failing, [200_000, 1_000_000, 3_000_000])
    # A very long line in the first package, right after its section starts: the section row's
    # badge must stay on screen while it is in view.
    first_log = failing / "sw" / "BUILD" / "boost-latest" / "log"
    body = first_log.read_bytes()
    first_log.write_bytes(b"x" * 4000 + b" long compiler command\n" + body)
    os.utime(first_log, (1_700_000_000, 1_700_000_000))
    r = push(server, failing, "--latest")
    assert r.returncode == 0, r.stderr
    green = tmp_path / "green"
    green.mkdir()
    make_build_dir(green, [300_000, 600_000], failure="none")
    with pushing_as(GREEN_PR):
        r = push(server, green)
    assert r.returncode == 0, r.stderr
    return server


def test_favicon_is_served_not_taken_for_a_bucket(server):
    with urllib.request.urlopen(server.web + "/favicon.ico", timeout=30) as r:
        assert r.status == 200 and r.url.endswith("/_static/favicon.svg")
        assert r.headers["Content-Type"] == "image/svg+xml"
        assert r.read().startswith(b"<svg")


def test_viewer_page_titles_the_check_and_shows_the_latest_commit(pushed):
    summary = json.loads(get(pushed.web + "/" + BUCKET + "/" + PREFIX + "summary.json?raw=1")[0])
    html, _ = page(pushed.web + "/" + BUCKET + "/" + LATEST + "fullLog.txt")
    # The check's own name (push records it), not the folder's build_O2_o2.
    assert "<title>#14473 build/O2/o2 · " in html
    assert '<link rel="icon" href="/_static/favicon.svg"' in html
    assert "latest build of this PR" in html and "Commit latest" not in html
    assert re.search(r'<dt>Uploaded</dt><dd><time datetime="[^"]+" title="[^"]+ UTC">'
                     r'(just now|\d+ min ago)</time>', html), html[:3000]
    assert summary["verdict"] == "failed"
    listing, _ = page(pushed.web + "/" + BUCKET + "/" + PREFIX)
    assert "📁" not in listing and "📄" not in listing


def test_browser_verdict_first_lines_search_sections_and_narrow_screens(pushed):
    assert os.path.exists("/usr/bin/chromium"), "chromium missing: run make deps"
    summary = json.loads(get(pushed.web + "/" + BUCKET + "/" + PREFIX + "summary.json?raw=1")[0])
    decisive = summary["errors"][0]
    os.makedirs(ARTIFACTS, exist_ok=True)
    job = {"failed": pushed.web + "/" + BUCKET + "/" + LATEST + "fullLog.txt",
           "green": pushed.web + "/" + BUCKET + "/" + GREEN_PREFIX + "fullLog.txt",
           "repo": pushed.web + "/" + BUCKET + "/AliceO2Group/AliceO2/",
           "decisiveLine": decisive["line"], "search": "error:", "many": "/sw/",
           "artifacts": ARTIFACTS}
    r = subprocess.run(["node", "viewer_pass2_test.mjs", json.dumps(job)], cwd=JS_DIR,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])

    # 1. The repository's folder in the browser: the newer PR first, dated, no emoji icons.
    assert seen["listing"]["prs"] == ["14520/", "14473/"], seen["listing"]
    assert all(re.fullmatch(r"just now|\d+ min ago", t) and u.endswith(" UTC")
               for t, u in seen["listing"]["times"]), seen["listing"]
    assert seen["listing"]["iconFont"] == '""'  # drawn with a CSS mask, not a glyph

    # 2. The first lines stay on screen until the index arrives; the banner says so meanwhile.
    assert seen["beforeIndex"]["lines"] >= 20, seen["beforeIndex"]
    assert seen["beforeIndex"]["banner"] == "Analysing the log…"
    assert seen["beforeIndex"]["emptyFacts"] == 0
    # The verdict: banner, title, icon; "Jump to error" lands on the decisive line.
    loc = re.match(r"^(?:\S*/)?([^/\s:]+:\d+(?::\d+)?):", decisive["text"])
    assert seen["banner"].startswith("✗ Failed in O2 — " + decisive["kind"] + ": "), seen["banner"]
    if loc:
        assert loc.group(1) in seen["banner"]
        assert seen["firstError"]["loc"] == loc.group(1)
        assert seen["firstError"]["title"].endswith(loc.group(1))
    assert seen["title"].startswith("✗ #14473 build/O2/o2"), seen["title"]
    assert seen["icon"].startswith("data:image/svg+xml") and "cf222e" in seen["icon"]
    assert seen["jumpLine"] == decisive["line"]
    assert re.fullmatch(r"[0-9a-f]{12}", seen["commit"]["text"]) and \
        seen["commit"]["href"].endswith("/commit/0c5c7fd0a6a3a4506513270e269e0d37f2a74de4")
    # One time format: the header's "Finished … at" (UTC, as push writes it) is relative like
    # the upload time, with the exact time on hover.
    assert re.fullmatch(r"just now|\d+ min ago", seen["finished"]["text"]), seen["finished"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(from the log's header\)",
                        seen["finished"]["title"]), seen["finished"]
    assert seen["green"]["banner"].startswith("✓ No errors found"), seen["green"]
    assert seen["green"]["title"].startswith("✓ #14520 build/O2/o2")
    assert "1a7f37" in seen["green"]["icon"]

    # 3. Enter again goes to the next match, Shift+Enter back; the match is marked in the line.
    assert seen["search"]["first"] < seen["search"]["second"], seen["search"]
    assert seen["search"]["back"] == seen["search"]["first"]
    assert seen["search"]["mark"].lower() == "error:"
    # "N" from the first of more than 1000 matches goes to the log's last match.
    last = json.loads(get(job["failed"] + "?search=%2Fsw%2F&last=1")[0])
    assert last["earlier"] and seen["many"]["count"].endswith("+"), seen["many"]
    assert seen["many"]["last"] == last["lines"][-1], seen["many"]
    assert seen["many"]["lastCount"] == "1 from the end"

    # 4. The section row's badge stays on screen beside a 4,000-character line.
    assert seen["badge"]["visible"] is True, seen["badge"]
    assert seen["badge"]["text"].startswith("boost"), seen["badge"]

    # 6. "?" shows the keys, "g" an inline field (no prompt), Enter goes there.
    assert seen["help"] is True
    assert seen["gotoLine"] == 1234
    assert "dialog" not in seen

    # 5. A phone: the panel above the log, the log at least 300 px wide.
    assert seen["narrow"]["logWidth"] >= 300 and seen["narrow"]["logHeight"] >= 500, seen["narrow"]
    assert seen["narrow"]["panelAbove"] is True
    assert seen["consoleErrors"] == []


def test_json_is_shown_indented_and_not_run_through_the_error_rules(pushed, s3):
    url = pushed.web + "/" + BUCKET + "/" + PREFIX + "summary.json"
    stored = s3.get_object(Bucket=BUCKET, Key=PREFIX + "summary.json")["Body"].read()
    assert b"undefined reference" in stored or b"error" in stored  # it quotes the log's errors
    meta = json.loads(get(url + "?meta")[0])
    errors = json.loads(get(url + "?errors")[0])
    assert errors["verdict"] == "document" and errors["errors"] == [] and errors["warnings"] == []
    lines = json.loads(get(url + "?lines=1-400")[0])["lines"]
    assert lines[0] == "{" and lines[1].startswith("  &quot;") and meta["lines"] > 20
    if meta["lines"] <= 400:  # the whole document: the same data, only indented
        assert json.loads(html.unescape("\n".join(lines))) == json.loads(stored)
    html_page, _ = page(url)
    assert '<span class="t">{</span>' in html_page  # the server-rendered first lines too
    # Not JSON after all: shown as stored.
    s3.put_object(Bucket=BUCKET, Key="o/r/1/latest/c/broken.json", Body=b'{"a": [1, 2',
                  ContentType="application/json")
    broken = pushed.web + "/" + BUCKET + "/o/r/1/latest/c/broken.json"
    assert json.loads(get(broken + "?lines=1-5")[0])["lines"] == ['{&quot;a&quot;: [1, 2']


def test_deeply_nested_json_is_shown_as_stored_not_a_crash(server, s3):
    # Pretty-printing recurses per level: 2 million levels would overflow a worker's stack.
    s3.create_bucket(Bucket=BUCKET)
    body = b"[" * 2_000_000 + b"]" * 2_000_000
    s3.put_object(Bucket=BUCKET, Key="o/r/1/latest/c/deep.json", Body=body,
                  ContentType="application/json")
    url = server.web + "/" + BUCKET + "/o/r/1/latest/c/deep.json"
    meta = json.loads(get(url + "?meta")[0])
    assert meta["lines"] == 1 and meta["bytes"] == len(body)  # as stored
    assert json.loads(get(url + "?errors")[0])["verdict"] == "document"
    get(server.web + "/_health")
