"""The error panel beyond aliBuild (issue 17): build logs as GitHub Actions (raw and downloaded),
GitLab and Jenkins (timestamper) write them, of Maven, Gradle, pytest, cargo and go builds. Each
log is written here in its system's real format with its decisive line known; the test asks
`logbucket errors --json` and the viewer's ?errors (the error panel's source) for the first
finding."""
import json
import os
import subprocess

import pytest

from conftest import BIN
from test_web_viewer import ARTIFACTS, JS_DIR, get

GH = "2022-05-30T09:11:%02d.8576463Z "
GL = "2024-01-05T10:00:%02d.123456Z 00O "


def gh(lines):  # GitHub Actions' raw log: every line timestamped
    return "".join(GH % (i % 60) + l + "\n" for i, l in enumerate(lines))


def gh_downloaded(lines):  # a job's log downloaded as a zip: "job<TAB>step<TAB>timestamp "
    return "".join("build (ubuntu-22.04)\tRun tests\t" + GH % (i % 60) + l + "\n"
                   for i, l in enumerate(lines))


def gitlab(lines):  # GitLab with timestamps: the stream after the time
    return "".join(GL % (i % 60) + l + "\n" for i, l in enumerate(lines))


def jenkins(lines):  # Jenkins with the timestamper plugin
    return "".join("[2022-05-30T09:11:%02d.857Z] " % (i % 60) + l + "\n" for i, l in enumerate(lines))


MAVEN = [
    "[INFO] Scanning for projects...",
    "[INFO] --- maven-compiler-plugin:3.8.1:compile (default-compile) @ core ---",
    "[INFO] Compiling 12 source files to /w/core/target/classes",
    "[\x1b[1;31mERROR\x1b[m] COMPILATION ERROR : ",
    "[\x1b[1;31mERROR\x1b[m] /w/core/src/main/java/org/x/A.java:[23,29] cannot find symbol",  # 5
    "  symbol:   variable foo",
    "  location: class org.x.A",
    "[INFO] BUILD FAILURE",
    "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.8.1:compile"
    " (default-compile) on project core: Compilation failure",
    "[ERROR] -> [Help 1]",
    "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.",
    "[ERROR] Re-run Maven using the -X switch to enable full debug logging.",
]
GRADLE = [
    "> Task :core:compileJava",
    "> Task :core:test",
    "",
    "ATest > testX() FAILED",  # 4
    "    org.opentest4j.AssertionFailedError: expected: <1> but was: <2>",
    "        at org.x.ATest.testX(ATest.java:12)",
    "",
    "3 tests completed, 1 failed",
    "",
    "> Task :core:test FAILED",
    "",
    "FAILURE: Build failed with an exception.",
    "",
    "* What went wrong:",
    "Execution failed for task ':core:test'.",
]
PYTEST = [
    "##[group]Run python -m pytest",
    "============================= test session starts ==============================",
    "collected 4 items",
    "tests/test_a.py ...F                                                     [100%]",
    "=================================== FAILURES ===================================",
    "___________________________________ test_b ____________________________________",
    "    def test_b():",
    ">       assert 1 == 2",
    "E       assert 1 == 2",
    "tests/test_a.py:9: AssertionError",
    "=========================== short test summary info ============================",
    "FAILED tests/test_a.py::test_b - assert 1 == 2",  # 12
    "========================= 1 failed, 3 passed in 0.12s ==========================",
    "##[endgroup]",
    "##[error]Process completed with exit code 1.",
]
CARGO = [
    "   Compiling foo v0.1.0 (/w)",
    "error[E0425]: cannot find value `x` in this scope",  # 2
    " --> src/main.rs:2:13",
    "  |",
    "2 |     println!(\"{}\", x);",
    "  |                    ^ not found in this scope",
    "",
    "For more information about this error, try `rustc --explain E0425`.",
    "error: could not compile `foo` due to previous error",
]
GO = [
    "=== RUN   TestAdd",
    "    add_test.go:9: got 3, want 4",
    "--- FAIL: TestAdd (0.00s)",  # 3
    "=== RUN   TestSub",
    "--- PASS: TestSub (0.00s)",
    "FAIL",
    "FAIL\tgithub.com/x/y\t0.005s",
    "FAIL",
]
GIT = [
    "$ git clone https://gitlab.example/x/y.git",
    "Cloning into 'y'...",
    "fatal: could not read Username for 'https://gitlab.example': No such device or address",  # 3
    "Cleaning up project directory and file based variables",
    "ERROR: Job failed: exit code 1",
]

CASES = {
    "maven-on-jenkins": (jenkins(MAVEN), 5, "compile-error"),
    "gradle-on-github": (gh(GRADLE), 4, "test-failure"),
    "pytest-on-github-downloaded": (gh_downloaded(PYTEST), 12, "test-failure"),
    "pytest-on-github": (gh(PYTEST), 12, "test-failure"),
    "cargo-on-gitlab": (gitlab(CARGO), 2, "compile-error"),
    "go-plain": ("\n".join(GO) + "\n", 3, "test-failure"),
    "git-on-gitlab": (gitlab(GIT), 3, "git"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_errors_cli_finds_the_decisive_line(tmp_path, name):
    text, line, kind = CASES[name]
    path = tmp_path / (name + ".log")
    path.write_text(text)
    out = subprocess.run([BIN, "errors", "--json", str(path)], capture_output=True, text=True,
                         check=True, timeout=60)
    summary = json.loads(out.stdout)
    assert summary["verdict"] == "failed", summary
    first = summary["errors"][0]
    assert (first["line"], first["kind"]) == (line, kind), summary["errors"][:3]
    if name.startswith("pytest"):  # the step, from GitHub's ##[group] (a section)
        assert first["section"] == "Run python -m pytest", first
    # Its text is the line without the CI's timestamp (the viewer still shows that).
    assert not first["text"].startswith(("2022-", "2024-", "[2022-", "build (ubuntu"))


def test_viewer_error_panel_on_other_ci_logs(server, s3, bucket):
    for name, (text, line, kind) in sorted(CASES.items()):
        key = "org/repo/1/latest/%s/fullLog.txt" % name
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/plain")
        panel = json.loads(get(server.web + "/" + bucket + "/" + key + "?errors")[0])
        assert (panel["errors"][0]["line"], panel["errors"][0]["kind"]) == (line, kind), name
        # The line the panel links to is that line, with its timestamp, as stored.
        shown = json.loads(get(server.web + "/" + bucket + "/" + key + "?lines=%d-%d" % (line, line))[0])
        assert len(shown["lines"]) == 1
        assert text.split("\n")[line - 1][:10] in shown["lines"][0], (name, shown["lines"])


# A GitHub Actions job as "View raw logs" gives it: a byte-order mark, every line timestamped,
# each step a `##[group]Run …` (its command) and then its output; the post steps run anyway.
GITHUB_JOB = ("\ufeff" + "".join("2024-03-01T10:%02d:%02d.0000000Z %s\n" % (s // 60, s % 60, l) for s, l in [
    (0, "Requested labels: ubuntu-latest"),
    (1, "##[group]Run actions/checkout@v4"),
    (1, "with:"),
    (1, "##[endgroup]"),
    (3, "Syncing repository: org/app"),
    (5, "##[group]Run mvn -B verify"),
    (5, "mvn -B verify"),
    (5, "##[endgroup]"),
    (40, "[INFO] Compiling 12 source files"),
    (62, "[ERROR] /home/runner/work/app/src/main/java/a/B.java:[23,29] cannot find symbol"),  # 10
    (62, "[ERROR]   symbol:   method frob()"),
    (63, "[INFO] BUILD FAILURE"),
    (63, "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.11.0:"
         "compile (default-compile) on project app: Compilation failure"),
    (65, "##[error]Process completed with exit code 1."),
    (66, "Post job cleanup."),
    (67, "Error: fatal: No url found for submodule path 'x' in .gitmodules"),
    (68, "Cleaning up orphan processes"),
]))


def test_github_job_steps_times_and_the_failing_step(tmp_path):
    path = tmp_path / "job.log"
    path.write_text(GITHUB_JOB)
    summary = json.loads(subprocess.run([BIN, "errors", "--json", str(path)], capture_output=True,
                                        text=True, check=True, timeout=60).stdout)
    first = summary["errors"][0]
    # The compiler's error in the step that failed: not the cleanup's "Error:", not the exit code.
    assert (first["line"], first["kind"], first["section"]) == (10, "compile-error", "Run mvn -B verify")
    assert (first["time"], first["elapsed"]) == ("2024-03-01T10:01:02.0000000Z", 62)
    steps = [(s["name"], s["begin_line"], s["end_line"], s["seconds"], s["failed"])
             for s in summary["sections"]]
    assert steps == [("Run actions/checkout@v4", 2, 5, 4, False),
                     ("Run mvn -B verify", 6, 14, 61, True),
                     ("Post job cleanup", 15, 17, 2, False)], steps
    assert (summary["first_time"], summary["last_time"]) == \
        ("2024-03-01T10:00:00.0000000Z", "2024-03-01T10:01:08.0000000Z")
    text = subprocess.run([BIN, "errors", str(path)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    assert "at 2024-03-01T10:01:02.0000000Z" in text.split("\n  2.")[0], text


def test_browser_steps_and_the_timestamps_toggle(server, s3, bucket):
    assert os.path.exists("/usr/bin/chromium"), "chromium missing: run make deps"
    key = "org/app/7/latest/build/fullLog.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=GITHUB_JOB.encode(), ContentType="text/plain")
    plain = "org/app/7/latest/go/fullLog.txt"
    s3.put_object(Bucket=bucket, Key=plain, Body=("\n".join(GO) + "\n").encode(),
                  ContentType="text/plain")
    # A build that prints more groups than the summary keeps (10,000).
    many = "org/app/7/latest/groups/fullLog.txt"
    s3.put_object(Bucket=bucket, Key=many, ContentType="text/plain",
                  Body="".join("::group::g%d\n::endgroup::\n" % i for i in range(10005)).encode())
    os.makedirs(ARTIFACTS, exist_ok=True)
    job = {"github": server.web + "/" + bucket + "/" + key, "plain": server.web + "/" + bucket + "/" + plain,
           "many": server.web + "/" + bucket + "/" + many, "errorLine": 10, "artifacts": ARTIFACTS}
    r = subprocess.run(["node", "ci_steps_test.mjs", json.dumps(job)], cwd=JS_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert "exception" not in seen, seen["exception"]
    # Hidden by default (as GitHub does), the button there to show them.
    assert seen["button"] == {"hidden": False, "on": False}, seen["button"]
    assert seen["errorLine"]["tsShown"] is False
    assert seen["errorLine"]["text"].startswith("[ERROR] /home/runner/"), seen["errorLine"]
    # The panel: the step and the time of the finding, how far into the job on hover.
    assert seen["where"] == "L10 · Run mvn -B verify · 10:01:02 (+1 min 2 s)", seen["where"]
    assert seen["whereTitle"] == "2024-03-01T10:01:02.0000000Z, 1 min 2 s into the log"
    # The steps with their durations; the failing one marked.
    assert [(s["name"], s["failed"]) for s in seen["sections"]] == [
        ("Run actions/checkout@v4", False), ("Run mvn -B verify", True), ("Post job cleanup", False)]
    assert seen["sections"][1]["info"].endswith("1 min 1 s"), seen["sections"]
    # "t" shows them, a reload keeps that, the button hides them again.
    assert seen["afterKey"]["tsShown"] is True
    assert seen["afterKey"]["text"].startswith("2024-03-01T10:01:02.0000000Z [ERROR]"), seen["afterKey"]
    assert seen["afterReload"]["tsShown"] is True
    assert seen["afterClick"]["tsShown"] is False
    assert seen["plainButtonHidden"] is True
    assert seen["many"] == {"listed": 10000, "omitted": ["5 more sections not listed"], "last": "g9999"}, \
        seen["many"]
    assert seen["consoleErrors"] == []
