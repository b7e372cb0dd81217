"""The web log viewer, driven over HTTP (urllib) and in headless Chromium (playwright-core).

Logs come from tests/data/gen-fulllog.py (the shared generator, with truth files), objects are
uploaded with boto3 as the CI bot does.
"""
import gzip
import html
import json
import os
import random
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, SANITIZED, free_port

HERE = os.path.dirname(__file__)
GEN = os.path.join(HERE, "..", "data", "gen-fulllog.py")
JS_DIR = os.path.join(HERE, "..", "js")
ARTIFACTS = os.environ.get("LOGBUCKET_ARTIFACTS", os.path.join(HERE, "..", "..", "build", "artifacts"))
KEY = "AliceO2Group/AliceO2/14473/0c5c7fd0a6a3a4506513270e269e0d37f2a74de4/build_O2_o2/fullLog.txt"

XSS = [
    '<script>window.__xss=true</script>',
    '"><img src=x onerror="window.__xss=true">',
    "'><svg onload=window.__xss=true>",
    '<a href="javascript:window.__xss=true">x</a>',
]


def generate(tmp_path, size, failure="gcc-error", seed=3):
    out = str(tmp_path / ("%s-%d.log" % (failure, size)))
    subprocess.run([sys.executable, GEN, "--out", out, "--size", str(size), "--failure", failure,
                    "--seed", str(seed)], check=True, capture_output=True, timeout=300)
    with open(out + ".truth.json") as f:
        return out, json.load(f)


def get(url, headers=None, expect=200):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, body, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, hdrs = e.code, e.read(), e.headers
    assert status == expect, (url, status, body[:500])
    return body, hdrs


def page(url):
    body, hdrs = get(url, {"Accept": "text/html"})
    return body.decode(), hdrs


@pytest.fixture
def bucket(server):
    s3 = server.client()
    s3.create_bucket(Bucket="alice-build-logs")
    return s3


def test_listings_newest_first_with_breadcrumbs_paging_and_filter(server, bucket):
    for pr in (7, 12296, 950, 14473):
        bucket.put_object(Bucket="alice-build-logs", Key="AliceO2Group/AliceO2/%d/latest/o2/fullLog.txt" % pr,
                          Body=b"log\n", ContentType="text/plain")
    text, hdrs = page(server.web + "/")
    assert 'href="/alice-build-logs/"' in text
    assert "default-src 'none'" in hdrs["Content-Security-Policy"]
    text, _ = page(server.web + "/alice-build-logs/AliceO2Group/AliceO2/")
    prs = re.findall(r'href="/alice-build-logs/AliceO2Group/AliceO2/(\d+)/"', text)
    assert prs == ["14473", "12296", "950", "7"]  # PR numbers, newest first
    assert '<a href="/alice-build-logs/AliceO2Group/">AliceO2Group</a>' in text  # breadcrumbs
    text, _ = page(server.web + "/alice-build-logs/AliceO2Group/AliceO2/?filter=12")
    assert re.findall(r'AliceO2/(\d+)/"', text) == ["12296"]
    # A folder without its slash redirects (urllib follows); a missing bucket is a 404 page.
    body, hdrs = get(server.web + "/alice-build-logs/AliceO2Group")
    assert b'<span class="here">AliceO2Group</span>' in body
    get(server.web + "/no-such-bucket/", {"Accept": "text/html"}, expect=404)


def test_listing_pages_through_big_folders(server, bucket):
    keys = ["many/f%04d.txt" % i for i in range(103)]  # one page is 100 entries
    for key in keys:
        bucket.put_object(Bucket="alice-build-logs", Key=key, Body=b"x")
    text, _ = page(server.web + "/alice-build-logs/many/")
    assert text.count('class="file"') == 100 and "entries 1–100 of 103" in text
    nxt = re.search(r'<a href="([^"]+)" rel="next">Next', text).group(1)
    text, _ = page(server.web + html.unescape(nxt))
    shown = re.findall(r'class="file" href="/alice-build-logs/(many/f\d+\.txt)"', text)
    assert len(shown) == 3 and set(shown) <= set(keys) and "rel=\"next\"" not in text
    assert "entries 101–103 of 103" in text and 'rel="prev">← Previous' in text


def test_repo_folder_lists_prs_newest_first_across_pages(server, bucket):
    # 250 PR folders and two branch folders: S3 lists them by name ("10/" < "100/" < "dev/"),
    # a reader wants the highest PR number first on page 1, whatever the other names.
    prs = list(range(1, 251))
    random.Random(4).shuffle(prs)

    def put(pr):
        bucket.put_object(Bucket="alice-build-logs", Key="o/r/%s/latest/build/fullLog.txt" % pr,
                          Body=b"log\n", ContentType="text/plain")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, prs + ["dev", "master"]))
    pages = []
    url = server.web + "/alice-build-logs/o/r/"
    for _ in range(5):
        text, _ = page(url)
        pages.append(re.findall(r'class="folder" href="/alice-build-logs/o/r/([^/"]+)/"', text))
        m = re.search(r'<a href="([^"]+)" rel="next">', text)
        if not m:
            break
        url = server.web + html.unescape(m.group(1))
    assert [len(p) for p in pages] == [100, 100, 52]
    assert pages[0][:3] == ["250", "249", "248"] and "entries 1–100 of 252" in page(server.web + "/alice-build-logs/o/r/")[0]
    assert sum(pages, []) == [str(n) for n in range(250, 0, -1)] + ["dev", "master"]
    # Each PR folder says when it was last uploaded to, exactly on hover.
    first, _ = page(server.web + "/alice-build-logs/o/r/")
    row = re.search(r'href="/alice-build-logs/o/r/250/".*?</tr>', first, re.S).group(0)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+" title="[^"]+ UTC">(just now|\d+ min ago)</time>', row), row


def test_pr_folder_marks_the_newest_build_and_check_folders_their_result(server, bucket):
    shas = ["%040x" % (i * 7919) for i in (3, 1, 2)]
    for sha in shas:  # uploaded in this order: the last one is the newest build
        for check in ("build_O2_o2", "build_O2_fullCI"):
            bucket.put_object(Bucket="alice-build-logs", Key="o/r/5/%s/%s/fullLog.txt" % (sha, check),
                              Body=b"x.c:1:1: error: boom\n", ContentType="text/plain")
    listed = bucket.list_objects_v2(Bucket="alice-build-logs", Prefix="o/r/5/")["Contents"]
    newest = max(listed, key=lambda o: o["LastModified"])["Key"].split("/")[3]
    bucket.put_object(Bucket="alice-build-logs", Key="o/r/5/latest/build_O2_o2/fullLog.txt", Body=b"x\n")
    text, _ = page(server.web + "/alice-build-logs/o/r/5/")
    order = re.findall(r'class="folder" href="/alice-build-logs/o/r/5/([^/"]+)/"', text)
    assert order[0] == "latest" and sorted(order[1:]) == sorted(shas)
    tagged = re.search(r'href="/alice-build-logs/o/r/5/([^/"]+)/">[^<]+</a> <span class="tag newest">', text)
    assert tagged and tagged.group(1) == newest
    # A commit folder: each check's result from its summary.json (as push uploads it).
    check = "o/r/5/%s/build_O2_o2/" % shas[0]
    bucket.put_object(Bucket="alice-build-logs", Key=check + "summary.json",
                      Body=json.dumps({"verdict": "failed", "errors": []}).encode(),
                      ContentType="application/json")
    bucket.put_object(Bucket="alice-build-logs", Key=check + "pretty.html", Body=b"<p>x</p>",
                      ContentType="text/html")
    bucket.put_object(Bucket="alice-build-logs", Key="o/r/5/%s/build_O2_fullCI/summary.json" % shas[0],
                      Body=b'{"verdict": "no-errors-found"}', ContentType="application/json")
    text, _ = page(server.web + "/alice-build-logs/o/r/5/%s/" % shas[0])
    assert re.search(r'build_O2_o2/</a></td><td class="verdict"><span class="tag failed">✗ failed', text)
    assert re.search(r'build_O2_fullCI/</a></td><td class="verdict"><span class="tag ok">✓ no errors', text)
    # A check folder: its log first, then the error page, the summary, the rest.
    text, _ = page(server.web + "/alice-build-logs/" + check)
    files = re.findall(r'class="file" href="/alice-build-logs/%s([^"]+)"' % re.escape(check), text)
    assert files == ["fullLog.txt", "pretty.html", "summary.json"]


def test_viewer_page_works_without_javascript_and_links_raw(server, bucket, tmp_path):
    path, truth = generate(tmp_path, 300_000)
    bucket.upload_file(path, "alice-build-logs", KEY, ExtraArgs={"ContentType": "text/plain",
                                                               "ContentDisposition": "inline"})
    url = server.web + "/alice-build-logs/" + KEY
    text, hdrs = page(url)
    assert hdrs["X-Content-Type-Options"] == "nosniff"
    # Header card from the key; first lines rendered server-side with line anchors.
    assert "AliceO2Group/AliceO2" in text and "#14473" in text and "build_O2_o2" in text
    first_line = open(path, "rb").readline().decode().rstrip("\n")
    assert html.escape(first_line, quote=False) in text or first_line in text
    assert 'id="L1"' in text and 'href="#L1"' in text
    assert "?raw=1" in text and "?download=1" in text
    # curl (Accept: */*) gets the bytes, as `curl <host>/<bucket>/<key>` always did.
    body, hdrs = get(url)
    assert body == open(path, "rb").read()
    assert hdrs["Content-Security-Policy"] == "sandbox"
    body, hdrs = get(url + "?download=1")
    assert hdrs["Content-Disposition"].startswith("attachment")


def test_json_api_meta_lines_search_errors(server, bucket, tmp_path):
    path, truth = generate(tmp_path, 2_000_000)
    bucket.upload_file(path, "alice-build-logs", KEY, ExtraArgs={"ContentType": "text/plain"})
    url = server.web + "/alice-build-logs/" + KEY
    meta = json.loads(get(url + "?meta")[0])
    assert meta["lines"] == truth["lines"]
    assert meta["host"] == truth["header"]["host"] and meta["repo"] == "AliceO2Group/AliceO2"
    assert meta["commit"] == truth["header"]["commit"]
    assert "sections" not in meta and "verdict" not in meta  # ?meta never waits for the summary
    errors = json.loads(get(url + "?errors")[0])
    names = [s["name"] for s in errors["sections"]]
    assert names == [p["name"] for p in truth["packages"]]
    assert [s["begin_line"] for s in errors["sections"]] == [p["begin_line"] for p in truth["packages"]]
    assert errors["verdict"] == "failed"
    assert errors["errors"][0]["line"] == truth["decisive"]["line"]
    assert errors["read_bytes"] == errors["total_bytes"] == truth["bytes"]
    # Lines: exactly the requested ones, escaped HTML.
    d = truth["decisive"]["line"]
    lines = json.loads(get(url + "?lines=%d-%d" % (d, d + 1))[0])
    assert lines["from"] == d and len(lines["lines"]) == 2
    assert "error" in re.sub("<[^>]+>", "", lines["lines"][0])
    raw_lines = open(path, "rb").read().split(b"\n")
    # Search: every line holding the literal, in order, with a cap and a continuation.
    # Search matches the text the reader sees: escape sequences are not part of it.
    seen_lines = [re.sub(rb"\x1b\[[0-?]*[ -/]*[@-~]", b"", l) for l in raw_lines]
    found = json.loads(get(url + "?search=warning")[0])
    expected = [i + 1 for i, l in enumerate(seen_lines) if b"warning" in l]
    assert found["lines"] == expected[:1000]
    if len(expected) > 1000:
        assert found["truncated"] and found["next"] > found["lines"][-1]
        rest = json.loads(get(url + "?search=warning&from=%d" % found["next"])[0])
        assert rest["lines"][0] == expected[1000]
    # The last matches, for "N" from the first: the log's real last ones.
    last = json.loads(get(url + "?search=warning&last=1")[0])
    assert last["lines"] == expected[-1000:] and last["earlier"] == (len(expected) > 1000)
    # A literal found through its rarest byte, and continuation from a line inside a stride.
    needle = seen_lines[d - 1].rstrip(b"\r")[-14:]
    hits = json.loads(get(url + "?search=" + urllib.parse.quote_from_bytes(needle) + "&from=%d" % (d - 5))[0])
    want = [i + 1 for i, l in enumerate(seen_lines) if needle in l and i + 1 >= d - 5]
    assert hits["lines"] == want[:1000] and d in hits["lines"]
    # The decisive error as the screen shows it (gcc's colour codes sit between its words), and
    # the stored bytes with ?bytes=1.
    pasted = seen_lines[d - 1].decode()[-40:]
    hits = json.loads(get(url + "?search=" + urllib.parse.quote(pasted))[0])
    assert d in hits["lines"], (pasted, raw_lines[d - 1])
    if b"\x1b[" in raw_lines[d - 1]:
        assert pasted.encode() not in raw_lines[d - 1]  # what the bytes alone would miss
        hits = json.loads(get(url + "?search=%1B%5B&bytes=1")[0])
        assert d in hits["lines"] or hits["truncated"]
    rx = json.loads(get(url + "?search=%5E%23%23+End&regex=1")[0])
    assert rx["lines"] == [p["end_line"] for p in truth["packages"]]
    bad = json.loads(get(url + "?search=(unclosed&regex=1", expect=400)[0])
    assert "regular expression" in bad["error"]
    json.loads(get(url + "?lines=0-5", expect=400)[0])
    # One answer stays bounded: 5000 lines maximum, and the raw bytes of those lines at most.
    many = json.loads(get(url + "?lines=1-999999")[0])
    assert len(many["lines"]) == 5000
    # ETag and 304; gzip when asked.
    body, hdrs = get(url + "?errors", {"Accept-Encoding": "gzip"})
    assert hdrs["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["errors"][0]["line"] == d
    get(url + "?errors", {"If-None-Match": hdrs["ETag"]}, expect=304)


def test_an_answer_of_long_lines_stays_bounded(server, bucket):
    line = b"x" * 200_000 + b"\n"
    bucket.put_object(Bucket="alice-build-logs", Key="long/1/latest/c/fullLog.txt", Body=line * 100,
                      ContentType="text/plain")
    body, _ = get(server.web + "/alice-build-logs/long/1/latest/c/fullLog.txt?lines=1-100")
    answer = json.loads(body)
    assert len(answer["lines"]) == 100          # every line is there…
    assert len(body) < 10_000_000               # …but not 20 MB of them
    assert answer["cut"][0] > 1 and answer["cut"][-1] == 100


def test_gz_logs_are_read_transparently(server, bucket, tmp_path):
    path, truth = generate(tmp_path, 500_000, failure="cmake-error")
    gz = path + ".gz"
    with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    bucket.upload_file(gz, "alice-build-logs", "x/1/latest/c/fullLog.txt.gz")
    url = server.web + "/alice-build-logs/x/1/latest/c/fullLog.txt.gz"
    errors = json.loads(get(url + "?errors")[0])
    assert errors["errors"][0]["line"] == truth["decisive"]["line"]
    assert errors["errors"][0]["kind"] == "cmake"
    text, _ = page(url)
    assert "Finished building on" in text


def test_colours_opened_far_above_a_page_are_still_in_force(server, bucket):
    """A page deep in a log shows the colours a reader scrolling from line 1 would see: the line
    index keeps the ANSI state open at each of its checkpoints (every 64th line)."""
    rnd = random.Random(7)
    lines = []
    for i in range(1, 200_001):
        r = rnd.random()
        if r < 0.002:
            lines.append("\x1b[3%dmcolour opens at %d" % (rnd.randrange(1, 7), i))
        elif r < 0.003:
            lines.append("\x1b[0mreset at %d" % i)
        elif r < 0.004:
            lines.append("progress 10%%\r\x1b[1mbold after an overwrite %d" % i)
        elif r < 0.005:
            lines.append("x" * 5000 + "\x1b[35m at the end of a long line %d" % i)
        else:
            lines.append("plain line %d with some text to make it a bit longer" % i)
    # Past the 256 KiB of a line the viewer shows, codes count nowhere (whichever way the line
    # is reached).
    for n in (30_001, 150_001):
        lines[n - 1] = "w" * 300_000 + "\x1b[32m beyond what is shown"
    # A line that straddles the 8 MiB scan window, its colour code in the second window.
    window = 8 << 20
    offset = 0
    for n, line in enumerate(lines):
        if offset + len(line) + 1 > window:
            lines[n] = "z" * (window - offset + 10) + "\x1b[36mafter the window boundary"
            straddling = n + 1
            break
        offset += len(line) + 1
    key = "o/r/1/latest/c/colours.log"
    bucket.put_object(Bucket="alice-build-logs", Key=key, ContentType="text/plain",
                      Body=("\n".join(lines) + "\n").encode())
    url = server.web + "/alice-build-logs/" + key

    def render(a, b):
        return json.loads(get(url + "?lines=%d-%d" % (a, b))[0])["lines"]

    # From a checkpoint, or walked to from the one before: the same HTML.
    first_after = (straddling // 64 + 1) * 64 + 1
    checkpoints = sorted({first_after, 30_017, 150_017} |
                         {64 * rnd.randrange(2, 3000) + 1 for _ in range(40)})
    for c in checkpoints:
        assert render(c, c + 3) == render(c - 64, c + 3)[64:], c
    assert "f6" in render(first_after, first_after)[0]  # cyan, opened across the window
    # A colour opened hundreds of lines up is shown.
    opened = [i for i, l in enumerate(lines, 1) if "colour opens" in l]
    far = next(o for o, nxt in zip(opened, opened[1:])
               if nxt - o > 300 and not any("reset" in l or "\x1b[1m" in l or "long line" in l
                                            for l in lines[o:o + 300]) and o > straddling)
    shown = render(far + 250, far + 250)[0]
    assert re.match(r'<span class="f%s[ "]' % lines[far - 1][3], shown), shown


def test_uploaded_html_is_sandboxed_and_not_sniffed(server, bucket):
    bucket.put_object(Bucket="alice-build-logs", Key="o/r/1/latest/c/pretty.html",
                      Body=b"<html><script>alert(1)</script></html>", ContentType="text/html")
    body, hdrs = get(server.web + "/alice-build-logs/o/r/1/latest/c/pretty.html", {"Accept": "text/html"})
    assert hdrs["Content-Security-Policy"] == "sandbox"
    assert hdrs["X-Content-Type-Options"] == "nosniff"
    assert hdrs["Content-Type"].startswith("text/html")
    bucket.put_object(Bucket="alice-build-logs", Key="o/r/1/latest/c/core.bin", Body=b"\0\1")
    body, hdrs = get(server.web + "/alice-build-logs/o/r/1/latest/c/core.bin", {"Accept": "text/html"})
    assert hdrs["Content-Disposition"].startswith("attachment")


def test_hostile_log_lines_keys_and_metadata_are_escaped(server, bucket):
    log = "\n".join("line %d %s" % (i, p) for i, p in enumerate(XSS)) + "\nx.c:1:1: error: " + XSS[1] + "\n"
    for i, payload in enumerate(XSS):
        key = "evil/%s/%d/latest/c/fullLog.txt" % (payload.replace("/", "|"), i)
        bucket.put_object(Bucket="alice-build-logs", Key=key, Body=log.encode(), ContentType="text/plain",
                          Metadata={"note": "x"})
    listing, _ = page(server.web + "/alice-build-logs/evil/")
    viewer, _ = page(server.web + "/alice-build-logs/" + urllib.request.quote(
        "evil/%s/0/latest/c/fullLog.txt" % XSS[0].replace("/", "|")))
    errors = get(server.web + "/alice-build-logs/" + urllib.request.quote(
        "evil/%s/0/latest/c/fullLog.txt" % XSS[0].replace("/", "|")) + "?errors")[0].decode()
    for text in (listing, viewer):
        for marker in ("<script>window", "<img src=x", "<svg onload", 'href="javascript:'):
            assert marker not in text
    assert "&lt;script&gt;window.__xss=true&lt;/script&gt;" in viewer
    assert json.loads(errors)["errors"][0]["text"].endswith(XSS[1])  # JSON carries text, not HTML


def test_read_only_and_loopback_only(server, tmp_path):
    req = urllib.request.Request(server.web + "/alice-build-logs/x", method="PUT", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 405
    r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--s3-listen", "127.0.0.1:0",
                        "--web-listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--insecure-no-auth" in r.stderr


def test_browser_deep_link_search_error_panel_and_range(server, bucket, tmp_path):
    # Not skipped when missing: `make test` installs both (scripts/install-deps).
    assert os.path.exists("/usr/bin/chromium"), "chromium missing: run make deps"
    assert os.path.isdir(os.path.join(JS_DIR, "node_modules", "playwright-core")), "run make deps"
    size = 60_000_000 if SANITIZED else 200_000_000
    path, truth = generate(tmp_path, size, seed=5)
    bucket.upload_file(path, "alice-build-logs", KEY, ExtraArgs={"ContentType": "text/plain"})
    # A literal that occurs once, near the end: the decisive error's file:line:col.
    data = open(path, "rb").read()
    decisive = data.split(b"\n")[truth["decisive"]["line"] - 1]
    plain = re.sub(rb"\x1b\[[0-9;]*[mK]", b"", decisive).decode()
    needle = re.search(r"[\w.]+\.(?:cxx|h|cpp):\d+:\d+", plain).group(0)
    assert data.count(needle.encode()) == 1, needle
    deep = 1_500_000 if truth["lines"] > 1_600_000 else truth["lines"] // 2
    evil_key = "evil/%s/1/latest/c/fullLog.txt" % XSS[1].replace("/", "|")
    bucket.put_object(Bucket="alice-build-logs", Key=evil_key, ContentType="text/plain",
                      Body=("\n".join(XSS) + "\nx.c:1:1: error: " + XSS[0] + "\n").encode())
    os.makedirs(ARTIFACTS, exist_ok=True)
    job = {"url": server.web + "/alice-build-logs/" + KEY, "deepLine": deep, "search": needle,
           "decisiveLine": truth["decisive"]["line"], "range": [deep + 2, deep + 6],
           "xssUrl": server.web + "/alice-build-logs/" + urllib.request.quote(evil_key),
           "xssFolder": server.web + "/alice-build-logs/evil/", "artifacts": ARTIFACTS}
    r = subprocess.run(["node", "viewer_browser_test.mjs", json.dumps(job)], cwd=JS_DIR,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["deepVisible"] is True
    assert seen["searchCount"] == "1 / 1" and seen["searchLine"] == truth["decisive"]["line"]
    assert seen["errorLine"] == truth["decisive"]["line"]
    assert seen["hash"] == "#L%d-L%d" % (deep + 2, deep + 6)
    assert sorted(seen["selectedAfterReload"]) == list(range(deep + 2, deep + 7))
    assert seen["queryLink"]["hash"] == "#L%d-L%d" % (deep + 2, deep + 6)
    assert seen["queryLink"]["search"] == ""
    assert sorted(seen["queryLink"]["selected"]) == list(range(deep + 2, deep + 7))
    assert seen["queryLink"]["copied"] == job["url"] + "?L=%d-%d" % (deep + 2, deep + 6)
    assert seen["xssFired"] is False and seen["xssFolderFired"] is False
    assert "<script>window.__xss=true</script>" in seen["xssText"]  # shown as text
    assert "dialog" not in seen
    assert seen["consoleErrors"] == []


def test_make_demo_seeds_a_browsable_bucket(tmp_path):
    import signal
    import time
    s3, web = "127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()
    env = dict(os.environ, BIN=BIN, DATA=str(tmp_path / "demo"), S3=s3, WEB=web)
    proc = subprocess.Popen([os.path.join(HERE, "..", "..", "scripts", "demo")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        seen, deadline = [], time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("demo: open"):
                break
        assert seen and seen[-1].startswith("demo: open"), "".join(seen)
        text, _ = page("http://%s/alice-build-logs/AliceO2Group/AliceO2/" % web)
        assert re.findall(r'AliceO2/(\d+)/"', text) == ["14473", "14470", "14462", "14455", "14451"]
        errors = json.loads(get("http://%s/alice-build-logs/AliceO2Group/AliceO2/14462/latest/"
                                "build_O2_o2/fullLog.txt?errors" % web)[0])
        assert errors["errors"][0]["kind"] == "cmake"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) is not None
