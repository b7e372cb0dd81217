"""Sign-in for the web viewer, proxy mode: identity headers from a trusted proxy address are
believed (mod_auth_openidc's OIDC_CLAIM_* and oauth2-proxy's X-Forwarded-*), the same headers
from any other address are ignored and logged, and a user without the required role gets a 403
page that says who they are and what is missing. Both peers are loopback addresses: the
"proxy" connects from 127.0.0.2, the outsider from 127.0.0.1."""
import http.client
import json
import subprocess
import urllib.parse

import pytest

from conftest import BIN

KEY = "AliceO2Group/AliceO2/14473/latest/build_O2_o2/fullLog.txt"
PROXY = "127.0.0.2"
MEMBER = {"OIDC_CLAIM_sub": "alice-sub", "OIDC_CLAIM_name": "Alice Member",
          "OIDC_CLAIM_cern_roles": "default-role,alice-member"}


def request(server, path, headers=None, source=PROXY, method="GET"):
    u = urllib.parse.urlsplit(server.web)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, headers={"Accept": "text/html", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), dict(r.getheaders())
    finally:
        conn.close()


@pytest.fixture
def proxied(server_factory):
    s = server_factory(extra_args=["--auth", "proxy", "--auth-trusted-proxy", PROXY + "/32",
                                   "--require-role", "alice-member"]).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    c.put_object(Bucket="alice-build-logs", Key=KEY, ContentType="text/plain",
                 Body=b"line one\nsrc/a.cc:1:2: error: the secret failure\n")
    return s


def test_member_through_the_proxy_reads_the_log(proxied):
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY, MEMBER)
    assert status == 200
    assert "the secret failure" in body
    assert "signed in as <b>Alice Member</b>" in body
    assert "no sign-in" not in body


def test_roles_come_only_from_the_configured_proxys_headers(proxied, server_factory):
    """A signed-in user whose roles claim the proxy did not send (absent or empty) cannot add
    another proxy's roles header: mod_auth_openidc strips only its own OIDC_CLAIM_* headers, so
    a browser's X-Forwarded-Groups reaches the viewer; oauth2-proxy strips only X-Forwarded-*."""
    path = "/alice-build-logs/" + KEY
    for attempt in ({"OIDC_CLAIM_sub": "mallory", "X-Forwarded-Groups": "alice-member"},
                    {"OIDC_CLAIM_sub": "mallory", "OIDC_CLAIM_cern_roles": "",
                     "X-Forwarded-Groups": "alice-member"},
                    {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "alice-member"}):
        status, body, _ = request(proxied, path, attempt)
        assert status in (401, 403) and "the secret failure" not in body, attempt
    assert "ignored header x-forwarded-groups from proxy 127.0.0.2" in proxied.read_log()
    # Behind oauth2-proxy (--auth-proxy-kind), its own headers are the identity, and only they.
    s = server_factory(extra_args=["--auth", "proxy", "--auth-trusted-proxy", PROXY + "/32",
                                   "--require-role", "alice-member",
                                   "--auth-proxy-kind", "oauth2-proxy"]).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    c.put_object(Bucket="alice-build-logs", Key=KEY, Body=b"one\ntwo\n", ContentType="text/plain")
    status, body, _ = request(s, path + "?meta",
                              {"X-Forwarded-User": "bob", "X-Forwarded-Groups": "x,alice-member"})
    assert status == 200 and json.loads(body)["lines"] == 2
    status, body, _ = request(s, path, {"X-Forwarded-User": "mallory",
                                        "OIDC_CLAIM_cern_roles": "alice-member"})
    assert status == 403 and "two" not in body
    status, body, _ = request(s, path, MEMBER)  # mod_auth_openidc's headers mean nothing here
    assert status == 401


def test_identity_headers_from_anyone_else_are_ignored_and_logged(proxied):
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY, MEMBER, source="127.0.0.1")
    assert status == 401
    assert "the secret failure" not in body
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY + "?lines=1-2", MEMBER,
                              source="127.0.0.1")
    assert status == 401 and "secret" not in body and "error" in json.loads(body)
    assert "ignored identity headers from 127.0.0.1" in proxied.read_log()
    # The proxy itself without a user: nobody is signed in.
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY)
    assert status == 401 and "the secret failure" not in body


def test_a_user_without_the_role_is_told_who_they_are_and_what_is_missing(proxied):
    outsider = {"OIDC_CLAIM_sub": "eve-sub", "OIDC_CLAIM_name": "<script>eve</script>",
                "OIDC_CLAIM_cern_roles": "default-role"}
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY, outsider)
    assert status == 403
    assert "the secret failure" not in body
    assert "&lt;script&gt;eve&lt;/script&gt; (eve-sub)" in body and "<script>eve" not in body
    assert "alice-member" in body and "default-role" in body
    status, body, _ = request(proxied, "/", outsider)
    assert status == 403 and "alice-build-logs" not in body  # not even the bucket list
    status, body, _ = request(proxied, "/alice-build-logs/" + KEY + "?errors", outsider)
    assert status == 403 and "secret" not in body and json.loads(body)["error"]


def test_assets_and_health_need_no_sign_in(proxied):
    status, body, _ = request(proxied, "/_static/viewer.css", source="127.0.0.1")
    assert status == 200 and "header.top" in body
    assert request(proxied, "/_health", source="127.0.0.1")[0] == 200


def test_mode_none_says_so_on_every_page(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"one line\n", ContentType="text/plain")
    for path, want in [("/", 200), ("/alice-build-logs/", 200), ("/alice-build-logs/" + KEY, 200),
                       ("/no-such-bucket/", 404)]:
        status, body, _ = request(server, path, source="127.0.0.1")
        assert status == want and "no sign-in (local use only)" in body, path


@pytest.mark.parametrize("args, message", [
    (["--auth", "proxy"], "auth.trusted_proxies"),
    (["--auth", "proxy", "--auth-trusted-proxy", "not-an-address"], "auth.trusted_proxies"),
    (["--auth", "oidc"], "auth.oidc.issuer and auth.oidc.client_id"),
    (["--web-listen", "0.0.0.0:0"], "auth.mode is \"none\""),
])
def test_unsafe_or_incomplete_sign_in_settings_are_refused_at_start(tmp_path, args, message):
    listen = [] if "--web-listen" in args else ["--web-listen", "127.0.0.1:0"]
    r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--s3-listen", "127.0.0.1:0",
                        *listen, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert message in r.stderr


@pytest.mark.parametrize("proxy_toml, message", [
    ('user_headers = ["OIDC_CLAIM_sub", "X-Forwarded-User"]', "auth.proxy.user_headers is gone"),
    ('roles_headers = ["X-Forwarded-Groups"]', "auth.proxy.roles_headers is gone"),
    ('kind = "apache"', "auth.proxy.kind must be"),
    ('kind = "custom"\nuser_header = "X-SSO-User"', "needs auth.proxy.user_header and"),
])
def test_proxy_header_settings_name_one_proxy(tmp_path, proxy_toml, message):
    config = tmp_path / "c.toml"
    config.write_text('[auth]\nmode = "proxy"\ntrusted_proxies = ["127.0.0.2/32"]\n'
                      '[auth.proxy]\n' + proxy_toml + "\n")
    r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--s3-listen", "127.0.0.1:0",
                        "--web-listen", "127.0.0.1:0", "--config", str(config)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert message in r.stderr
