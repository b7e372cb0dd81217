"""The Debian package, installed on this machine as an operator would: `make deb`'s script,
lintian, `apt-get install ./logbucket_*.deb`, the files, the system user, the conffile, the
units (systemd-analyze verify and security), the unit's ExecStart run as its user with its
environment (both listeners answer, readiness told over $NOTIFY_SOCKET), then remove (data
kept) and purge (data, user and configuration gone).

systemd is not PID 1 on the test machines, so the unit is not started by systemd here: what
only a running systemd can show (the seccomp filter and namespaces applied) is checked by
systemd-analyze offline, and the unit's command line, user and environment are run by hand.
Needs root (apt-get); skipped in the sanitizer pass, which packages nothing new.
"""
import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request

import pytest

import lbserver
from conftest import BIN, SANITIZED

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
UNITS = ["logbucket.service", "logbucket-viewer@.service"]

pytestmark = [
    pytest.mark.skipif(SANITIZED, reason="the package ships the release build"),
    pytest.mark.skipif(os.geteuid() != 0, reason="installing a package needs root"),
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="not a Debian system"),
]


def sh(*args, check=True, timeout=300, **kwargs):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check:
        assert r.returncode == 0, "%s: %s%s" % (" ".join(args), r.stdout[-3000:], r.stderr[-3000:])
    return r


def installed():
    r = sh("dpkg-query", "-W", "-f=${db:Status-Status}", "logbucket", check=False)
    return r.stdout.strip()


def purge():
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh("apt-get", "purge", "-y", "-qq", "logbucket", check=False, env=env)


@pytest.fixture(scope="module")
def deb():
    out = tempfile.mkdtemp(prefix="lb-deb-")
    r = sh(os.path.join(ROOT, "scripts", "make-deb"), BIN, out)
    path = r.stdout.strip().splitlines()[-1]
    assert os.path.exists(path) and path.endswith(".deb")
    # lintian ran inside make-deb and failed it on any error or warning; what it said:
    assert not re.search(r"^[EW]: ", r.stderr, re.M), r.stderr
    yield path
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def package(deb):
    purge()  # a leftover of an earlier run
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", deb, env=env)
    try:
        yield deb
    finally:
        purge()


def test_the_package_installs_its_files_user_and_conffile(package):
    assert installed() == "installed"
    version = sh(BIN, "--version").stdout.split()[1]
    assert sh("/usr/bin/logbucket", "--version").stdout.split()[1] == version
    for path in ["/lib/systemd/system/logbucket.service",
                 "/lib/systemd/system/logbucket-viewer@.service",
                 "/etc/logbucket/logbucket.toml", "/etc/default/logbucket",
                 "/usr/share/man/man1/logbucket.1.gz",
                 "/usr/share/bash-completion/completions/logbucket",
                 "/usr/share/doc/logbucket/copyright", "/usr/share/doc/logbucket/OPERATIONS.md",
                 "/usr/share/doc/logbucket/examples/viewer.toml"]:
        assert os.path.isfile(path), path
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "logbucket").stdout
    assert "/etc/logbucket/logbucket.toml" in conffiles and "/etc/default/logbucket" in conffiles
    user = pwd.getpwnam("logbucket")
    assert user.pw_dir == "/var/lib/logbucket"
    assert user.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    assert user.pw_uid < 1000  # a system user
    assert grp.getgrnam("logbucket").gr_gid == user.pw_gid
    st = os.stat("/var/lib/logbucket")
    assert st.st_uid == user.pw_uid and stat.S_IMODE(st.st_mode) == 0o750
    # Dependencies computed from the binary's libraries, not written by hand.
    depends = sh("dpkg-query", "-W", "-f=${Depends}", "logbucket").stdout
    for lib in ("libc6", "libssl3", "libsqlite3-0", "libstdc++6"):
        assert lib in depends, depends
    # The man page documents every command, from the binary's own help.
    page = subprocess.run(["zcat", "/usr/share/man/man1/logbucket.1.gz"], capture_output=True,
                          text=True, check=True).stdout
    for command in ("serve", "fsck", "backup", "restore", "push", "user add"):
        assert '.SS "logbucket %s"' % command in page, command
    assert "\\-\\-repair" in page


def complete(words):
    """What bash completes after `words` (the last one being typed)."""
    line = " ".join(words)
    script = (". /usr/share/bash-completion/completions/logbucket; COMP_WORDS=(%s); "
              "COMP_CWORD=%d; _logbucket; printf '%%s\\n' \"${COMPREPLY[@]}\""
              % (" ".join(shlex.quote(w) for w in words), len(words) - 1))
    return sh("bash", "-c", script).stdout.split(), line


def test_bash_completes_commands_and_options(package):
    assert complete(["logbucket", "fs"])[0] == ["fsck"]
    assert complete(["logbucket", "ba"])[0] == ["backup"]
    assert "--repair" in complete(["logbucket", "fsck", "--r"])[0]
    assert complete(["logbucket", "user", "ro"])[0] == ["rotate"]


def test_the_units_verify_and_score_well_in_systemd_analyze(package):
    work = tempfile.mkdtemp(prefix="lb-units-")
    try:
        os.symlink("/lib/systemd/system/logbucket-viewer@.service",
                   os.path.join(work, "logbucket-viewer@alice.service"))
        r = sh("systemd-analyze", "verify", "/lib/systemd/system/logbucket.service",
               os.path.join(work, "logbucket-viewer@alice.service"), check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        for unit in ["/lib/systemd/system/logbucket.service",
                     os.path.join(work, "logbucket-viewer@alice.service")]:
            r = sh("systemd-analyze", "security", "--offline=true", unit, check=False)
            score = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
            assert score, r.stdout[-2000:] + r.stderr
            assert float(score.group(1)) <= 2.0, score.group(0)  # "OK" is below 4.0
    finally:
        shutil.rmtree(work)


def unit_command(unit, opts):
    """The unit's User, ExecStart (with $LOGBUCKET_OPTS expanded as systemd does: split
    into words) and its EnvironmentFile's variables."""
    text = open(os.path.join("/lib/systemd/system", unit)).read()
    user = re.search(r"^User=(\S+)", text, re.M).group(1)
    exec_start = re.search(r"^ExecStart=(.+)$", text, re.M).group(1)
    words = []
    for word in shlex.split(exec_start):
        words += opts if word == "$LOGBUCKET_OPTS" else [word]
    env_file = re.search(r"^EnvironmentFile=-?(\S+)", text, re.M).group(1)
    env = {}
    for line in open(env_file):
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.strip().split("=", 1)
            env[k] = v.strip('"')
    return user, words, env


SYSTEMD = os.path.isdir("/run/systemd/system")


@pytest.mark.skipif(not SYSTEMD, reason="systemd is not PID 1 on this machine: the package's "
                    "unit cannot be started by systemd here (its ExecStart is run by hand below, "
                    "its sandbox checked offline above)")
def test_systemd_started_the_unit_and_reloads_it(package):
    # postinst enabled and started it; Type=notify: active means READY=1 came.
    assert sh("systemctl", "is-enabled", "logbucket.service").stdout.strip() == "enabled"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = sh("systemctl", "is-active", "logbucket.service", check=False).stdout.strip()
        if state != "activating":
            break
        time.sleep(0.2)
    assert state == "active", sh("journalctl", "-u", "logbucket", "-n", "50", check=False).stdout
    with urllib.request.urlopen("http://127.0.0.1:9000/_health", timeout=10) as r:
        assert r.status == 200
    sh("systemctl", "reload", "logbucket.service")
    sh("systemctl", "stop", "logbucket.service")  # frees the data directory for the next test


def test_the_units_exec_start_serves_as_its_user(package):
    user, command, env = unit_command(
        "logbucket.service", ["--s3-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"])
    assert user == "logbucket"
    assert command[:4] == ["/usr/bin/logbucket", "serve", "--config",
                           "/etc/logbucket/logbucket.toml"]
    notify_dir = tempfile.mkdtemp(prefix="lb-notify-")
    os.chmod(notify_dir, 0o755)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(notify_dir, "notify"))
    os.chmod(os.path.join(notify_dir, "notify"), 0o777)  # the service user sends to it
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                "NOTIFY_SOCKET": os.path.join(notify_dir, "notify"), **env}
    proc = subprocess.Popen(["runuser", "-u", user, "--", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env, text=True)
    try:
        lines, s3_url, web_url = [], None, None
        deadline = time.monotonic() + 60
        while (s3_url is None or web_url is None) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            s3_url = s3_url or (lbserver.S3_LINE.search(line) or [None, None])[1]
            web_url = web_url or (lbserver.WEB_LINE.search(line) or [None, None])[1]
        assert s3_url and web_url, lines
        notify.settimeout(30)
        assert "READY=1" in notify.recv(4096).decode().split("\n")
        for url in (s3_url, web_url):
            with urllib.request.urlopen(url + "/_health", timeout=10) as r:
                assert r.status == 200
        # It runs as the package's user (runuser may stay as its parent) and its data
        # directory's files are that user's.
        server_pid = proc.pid
        for child in os.listdir("/proc"):
            if child.isdigit():
                try:
                    with open("/proc/%s/cmdline" % child, "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if argv[:2] == [b"/usr/bin/logbucket", b"serve"]:
                    server_pid = int(child)
        status = open("/proc/%d/status" % server_pid).read()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        assert uid == pwd.getpwnam("logbucket").pw_uid
        admin_env = "/var/lib/logbucket/admin.env"
        st = os.stat(admin_env)
        assert st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o600
        os.kill(server_pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        shutil.rmtree(notify_dir, ignore_errors=True)


def test_remove_keeps_the_data_and_purge_removes_it(package):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    marker = "/var/lib/logbucket/keep-me"
    with open(marker, "w") as f:
        f.write("an archive")
    sh("apt-get", "remove", "-y", "-qq", "logbucket", env=env)
    assert installed() == "config-files"
    assert os.path.exists(marker) and os.path.exists("/etc/logbucket/logbucket.toml")
    pwd.getpwnam("logbucket")  # the user stays
    assert not os.path.exists("/usr/bin/logbucket")
    sh("apt-get", "purge", "-y", "-qq", "logbucket", env=env)
    assert installed() in ("", "not-installed")
    assert not os.path.exists("/var/lib/logbucket")
    assert not os.path.exists("/etc/logbucket/logbucket.toml")
    with pytest.raises(KeyError):
        pwd.getpwnam("logbucket")
