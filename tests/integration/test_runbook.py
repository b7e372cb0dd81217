"""docs/OPERATIONS.md, followed word for word: its ```sh blocks run in order against a fresh
store, with only the variables of step 0 replaced (the data dir, and loopback addresses for the
frontends). The admin commands are also checked one by one for their failure modes."""
import json
import os
import re
import subprocess

from conftest import BIN
from test_policy_lifecycle import FRONTEND, ELSEWHERE, curl

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sh_blocks(path):
    with open(path) as f:
        return re.findall(r"```sh\n(.*?)```", f.read(), re.S)


def admin_env(server):
    env = dict(os.environ)
    env.update(server.env)
    env["PATH"] = os.path.dirname(os.path.abspath(BIN)) + ":" + env["PATH"]
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return env


def lb(env, *args, check=True):
    r = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert r.returncode == 0, "%s: %s %s" % (args, r.stdout, r.stderr)
    return r


def test_operations_runbook_word_for_word(server, tmp_path):
    blocks = sh_blocks(os.path.join(ROOT, "docs", "OPERATIONS.md"))
    assert len(blocks) >= 7
    # Step 0 names things; the test's values replace it (a loopback frontend, this data dir).
    assert "DATA=/var/lib/logbucket" in blocks[0]
    variables = ("DATA=%s\nBUCKET=alice-build-logs\nFRONTEND_1=%s\nFRONTEND_2=127.0.0.4\n"
                 "NEW_FRONTEND=127.0.0.5\n" % (server.data_dir, FRONTEND))
    script = "set -euo pipefail\ncd %s\n" % ROOT + variables + "".join(blocks[1:])
    # Files the runbook creates (policy.json, alibot.env, ...) land in a scratch copy of the repo
    # paths it reads, so the checkout stays clean.
    work = tmp_path / "work"
    (work / "examples").mkdir(parents=True)
    for name in os.listdir(os.path.join(ROOT, "examples")):
        (work / "examples" / name).write_bytes(open(os.path.join(ROOT, "examples", name), "rb").read())
    script = script.replace("cd %s\n" % ROOT, "cd %s\n" % work)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(BIN)) + ":" + env["PATH"]
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        env.pop(k, None)
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    out = r.stdout
    assert "created bucket alice-build-logs" in out
    assert "rule expire (enabled): every key, expire after 60 days, abort uploads after 7 days" in out
    assert "denied, as intended" in out
    # Step 9: fsck of the live directory and of the backup taken while it serves.
    assert out.count("clean: no problem found") == 2, out[-3000:]
    assert "backed up " in out
    # Denied here, as expected (so ✓), with the server's reason.
    assert "\u2713 anonymous GET test.txt: 403 AccessDenied" in out and "why: implicit deny" in out
    assert "uploaded alisw/O2/1234/0123abcd/build_O2_fullCI/fullLog.txt" in out and 'rule-id="expire"' in out
    assert ("https://alice-logs.example.org/alice-build-logs/alisw/O2/1234/0123abcd/build_O2_fullCI/"
            "fullLog.txt\n") in out and "`src/a.cxx:3:1: error: expected \";\"`" in out
    # The applied policy is the example with the runbook's edits: frontend 1 reads, the moved
    # frontend reads from its new address, the old address does not.
    url = "%s/alice-build-logs/test.txt" % server.endpoint
    assert curl(url, FRONTEND)[0] == 200
    assert curl(url, "127.0.0.5")[0] == 200
    assert curl(url, "127.0.0.4")[0] == 403
    assert curl(url, ELSEWHERE)[0] == 403


def test_admin_command_failures(server, tmp_path):
    env = admin_env(server)
    lb(env, "bucket", "create", "logs")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObjekt", "Resource": "*"}]}')
    r = lb(env, "policy", "set", "-b", "logs", str(bad), check=False)
    assert r.returncode != 0 and str(bad) in r.stderr and "s3:GetObjekt" in r.stderr
    r = lb(env, "policy", "get", "-b", "logs", check=False)
    assert r.returncode != 0 and "NoSuchBucketPolicy" in r.stderr
    r = lb(env, "policy", "set", "-b", "logs", str(tmp_path / "missing.json"), check=False)
    assert r.returncode != 0 and "missing.json" in r.stderr
    r = lb(env, "lifecycle", "set", "-b", "logs", check=False)
    assert r.returncode != 0 and "--expire-days" in r.stderr
    r = lb(env, "bucket", "delete", "no-such-bucket", check=False)
    assert r.returncode != 0 and "NoSuchBucket" in r.stderr
    # No credentials at all: a clear message, not an anonymous attempt.
    bare = {k: v for k, v in env.items() if not k.startswith("AWS_") or k == "AWS_ENDPOINT_URL"}
    bare["HOME"] = str(tmp_path)
    r = lb(bare, "bucket", "ls", check=False)
    assert r.returncode != 0 and "no credentials" in r.stderr
    # A profile from ~/.aws/credentials works like the environment.
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[ops]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))
    assert "logs" in lb(bare, "bucket", "ls", "--profile", "ops").stdout
    # Offline check with a user: the bot is allowed from anywhere.
    policy = tmp_path / "p.json"
    example = json.load(open(os.path.join(ROOT, "examples", "policy-production.json")))
    policy.write_text(json.dumps(example))
    r = lb(env, "policy", "check", str(policy), "--ip", "203.0.113.7", "--user", "alibot",
           "--action", "s3:PutObject", "--resource", "alice-build-logs/x/fullLog.txt")
    assert r.stdout.startswith("allow") and "'BotReadWrite'" in r.stdout
    r = lb(env, "policy", "check", str(policy), "--ip", "203.0.113.7", "--action", "s3:GetObject",
           "--resource", "alice-build-logs/x", check=False)
    assert r.returncode == 3 and "203.0.113.7" in r.stdout


def test_verify_explains_from_each_address(server, tmp_path):
    env = admin_env(server)
    lb(env, "bucket", "create", "alice-build-logs")
    s3 = server.client()
    s3.put_object(Bucket="alice-build-logs", Key="test.txt", Body=b"ok\n")
    example = open(os.path.join(ROOT, "examples", "policy-production.json")).read()
    policy = tmp_path / "policy.json"
    policy.write_text(example.replace("188.184.10.20", FRONTEND))
    lb(env, "user", "add", "alibot", "--data", server.data_dir)
    lb(env, "policy", "set", "-b", "alice-build-logs", str(policy))
    ok = lb(env, "verify", "-b", "alice-build-logs", "--source-address", FRONTEND,
            "--expect-anonymous", "allowed")
    assert "\u2713 anonymous GET test.txt: 200" in ok.stdout
    assert "why: allow by 'FrontendAnonymousRead'" in ok.stdout
    assert "\u2713 signed DELETE" in ok.stdout
    bad = lb(env, "verify", "-b", "alice-build-logs", "--source-address", ELSEWHERE,
             "--expect-anonymous", "allowed", check=False)
    assert bad.returncode == 1
    assert "\u2717 anonymous GET test.txt: 403 AccessDenied" in bad.stdout
    assert "aws:SourceIp %s does not satisfy IpAddress" % ELSEWHERE in bad.stdout
    # Keys that are not admin keys get the checks without explanations.
    out = lb(env, "user", "add", "viewer", "--data", server.data_dir).stdout
    keys = dict(line.split("=", 1) for line in out.split() if "=" in line)
    plain = lb(env, "verify", "-b", "alice-build-logs", "--source-address", FRONTEND,
               "--access-key", keys["AWS_ACCESS_KEY_ID"], "--secret-key", keys["AWS_SECRET_ACCESS_KEY"],
               check=False)
    assert "\u2713 anonymous GET test.txt: 200" in plain.stdout and "why:" not in plain.stdout
    assert "\u2717 signed PUT" in plain.stdout and plain.returncode == 1
