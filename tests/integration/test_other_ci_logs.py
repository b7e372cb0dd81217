"""The error panel beyond aliBuild (issue 17): build logs as GitHub Actions (raw and downloaded),
GitLab and Jenkins (timestamper) write them, of Maven, Gradle, pytest, cargo and go builds. Each
log is written here in its system's real format with its decisive line known; the test asks
`logbucket errors --json` and the viewer's ?errors (the error panel's source) for the first
finding."""
import json
import subprocess

import pytest

from conftest import BIN
from test_web_viewer import get

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
