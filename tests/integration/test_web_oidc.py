"""Sign-in for the web viewer, native OpenID Connect (auth.mode = "oidc").

Two providers, both real HTTP servers on 127.0.0.1 started here: the npm package oidc-provider
(a certified implementation) for the full browser sign-in in headless Chromium, and
oidc_test_provider.ScriptedProvider for the attacks a real provider never makes (wrong nonce or
audience, expired or unsigned tokens, unknown keys, non-JSON answers). The HTTP-level tests
follow redirects by hand with their own cookie jar, as a browser would.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import html
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from conftest import free_port
from oidc_test_provider import Key, ScriptedProvider

KEY = "AliceO2Group/AliceO2/14473/latest/build_O2_o2/fullLog.txt"
LOG_PATH = "/alice-build-logs/" + KEY
CLIENT_ID = "logbucket-viewer"
CLIENT_SECRET = "s3cr3t-with:colon&amp"
SESSION_SECRET = "0123456789abcdef0123456789abcdef-test-only"
JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")


class Browser:
    """Follows nothing by itself: each step is one request, cookies kept per name."""

    def __init__(self):
        self.cookies = {}

    def get(self, url, headers=None):
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        path = u.path + ("?" + u.query if u.query else "")
        h = {"Accept": "text/html", **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        try:
            conn.request("GET", path, headers=h)
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            set_cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        finally:
            conn.close()
        for c in set_cookies:
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r.status, r.getheader("Location"), body, set_cookies

    def follow(self, url, limit=10):
        """GETs and follows redirects; returns the last answer and the URLs visited."""
        visited = [url]
        for _ in range(limit):
            status, location, body, set_cookies = self.get(url)
            hop = re.search(r'<a class="next" href="([^"]+)" data-keep-hash="1"', body)
            if hop:  # the sign-in page's script follows this link (adding the #fragment)
                location = html.unescape(hop.group(1))
            elif status not in (301, 302, 303) or location is None:
                return status, body, visited
            url = urllib.parse.urljoin(url, location)
            visited.append(url)
        raise AssertionError("redirect loop: %s" % visited)


def config_text(issuer, public_url, extra=""):
    return ('[web]\npublic_url = "%s"\n\n[auth]\nmode = "oidc"\nrequire_role = "alice-member"\n'
            'session_secret = "%s"\n%s\n[auth.oidc]\nissuer = "%s"\nclient_id = "%s"\n'
            'client_secret = "%s"\n' % (public_url, SESSION_SECRET, extra, issuer, CLIENT_ID,
                                       CLIENT_SECRET))


def write_config(path, issuer, public_url, extra=""):
    with open(path, "w") as f:
        f.write(config_text(issuer, public_url, extra))


def start_viewer(server_factory, issuer, extra="", port=None, token_auth=None):
    port = port or free_port()
    public_url = "http://127.0.0.1:%d" % port
    config = config_text(issuer, public_url, extra)
    if token_auth:
        config += 'token_auth_method = "%s"\n' % token_auth
    s = server_factory(config=config, web_listen="127.0.0.1:%d" % port).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    c.put_object(Bucket="alice-build-logs", Key=KEY, ContentType="text/plain",
                 Body=b"line one\nsrc/a.cc:1:2: error: the secret failure\nline three\n")
    return s


@pytest.fixture
def provider():
    port = free_port()
    p = ScriptedProvider(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:%d/_auth/callback" % port)
    p.viewer_port = port
    p.start()
    yield p
    p.stop()


@pytest.fixture
def viewer(server_factory, provider):
    return start_viewer(server_factory, provider.issuer, port=provider.viewer_port)


def sign_in(browser, viewer, path=LOG_PATH):
    return browser.follow(viewer.web + path)


def forge_session(sub, roles, expires, secret=SESSION_SECRET):
    payload = base64.urlsafe_b64encode(json.dumps(
        {"sub": sub, "name": sub, "email": "", "roles": roles, "exp": expires, "v": 1}).encode()
    ).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return payload + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# --- the flow ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alg,key", [("RS256", 0), ("PS256", 0), ("ES256", 1)])
def test_sign_in_comes_back_to_the_log(viewer, provider, alg, key):
    provider.alg, provider.signing_key = alg, provider.keys[key]
    b = Browser()
    status, location, _, _ = b.get(viewer.web + LOG_PATH + "?x=1")
    assert status == 302
    assert location == "/_auth/login?return_to=" + urllib.parse.quote(LOG_PATH + "?x=1", safe="")
    status, body, visited = b.follow(viewer.web + LOG_PATH + "?x=1")
    assert status == 200, body
    assert "the secret failure" in body
    assert "signed in as <b>Alice Member</b>" in body and "/_auth/logout" in body
    assert visited[-1] == viewer.web + LOG_PATH + "?x=1"
    assert any(u.startswith(provider.issuer + "/authorize?") for u in visited)
    assert provider.failures == []  # PKCE, client authentication, redirect_uri all right
    assert set(b.cookies) == {"lb_session"}  # the sign-in cookie is gone
    # The API works with the session too.
    status, _, body, _ = b.get(viewer.web + LOG_PATH + "?meta")
    assert status == 200 and json.loads(body)["lines"] == 3


def test_session_cookie_attributes(viewer, provider):
    b = Browser()
    set_cookie_lines = []
    url = viewer.web + "/_auth/login?go=1&return_to=%2F"
    for _ in range(6):
        status, location, _, set_cookies = b.get(url)
        set_cookie_lines += set_cookies
        if status != 302:
            break
        url = urllib.parse.urljoin(url, location)
    session = [c for c in set_cookie_lines if c.startswith("lb_session=")]
    assert len(session) == 1
    attrs = [a.strip() for a in session[0].split(";")]
    assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs
    assert "Max-Age=43200" in attrs
    assert "Secure" not in attrs  # public_url is http://; https:// adds it (unit-tested)
    pending = [c for c in set_cookie_lines if c.startswith("lb_oidc_") and "Max-Age=600" in c]
    assert pending and "Path=/_auth/" in pending[0] and "HttpOnly" in pending[0]


def test_roles_from_userinfo_when_the_id_token_has_none(viewer, provider):
    provider.roles_in_id_token = False
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 200 and "the secret failure" in body
    # userinfo about somebody else is refused.
    provider.userinfo_sub = "mallory"
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 403 and "another subject" in body and "the secret failure" not in body


def test_signed_in_without_the_role_gets_a_403_naming_who_and_what(viewer, provider):
    provider.roles = ["default-role"]
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 403
    assert "Alice Member" in body and "alice-member" in body and "default-role" in body
    assert "the secret failure" not in body
    assert "sign out" in body


def test_scripts_get_401_not_a_redirect(viewer):
    b = Browser()
    status, location, body, _ = b.get(viewer.web + LOG_PATH + "?lines=1-3")
    assert status == 401 and location is None
    assert "the secret failure" not in body and json.loads(body)["error"]
    status, location, body, _ = b.get(viewer.web + "/", {"Accept": "application/json"})
    assert status == 401


def test_client_secret_post(server_factory, provider):
    provider.token_auth = "post"
    v = start_viewer(server_factory, provider.issuer, port=provider.viewer_port,
                     token_auth="client_secret_post")
    status, body, _ = sign_in(Browser(), v)
    assert status == 200 and "the secret failure" in body
    assert provider.failures == []


# --- cookies ----------------------------------------------------------------------------------

def test_tampered_forged_expired_and_oversized_cookies_are_refused(viewer):
    now = int(time.time())
    good = forge_session("alice", ["alice-member"], now + 600)
    b = Browser()
    b.cookies["lb_session"] = good
    status, _, body, _ = b.get(viewer.web + LOG_PATH)
    assert status == 200 and "the secret failure" in body  # the secret makes the cookie
    payload, mac = good.split(".")
    elevated = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    elevated["sub"] = "mallory"
    tampered = base64.urlsafe_b64encode(json.dumps(elevated).encode()).rstrip(b"=").decode() + "." + mac
    cases = {
        "tampered": tampered,
        "foreign secret": forge_session("alice", ["alice-member"], now + 600, secret="x" * 40),
        "expired": forge_session("alice", ["alice-member"], now - 5),
        "oversized": "A" * 5000 + "." + "B" * 40,
        "malformed": "not-a-session",
        "binary": "%00%ff.%00",
    }
    for name, value in cases.items():
        b = Browser()
        b.cookies["lb_session"] = value
        status, location, body, _ = b.get(viewer.web + LOG_PATH)
        assert status == 302 and location.startswith("/_auth/login?"), name
        status, _, body, _ = b.get(viewer.web + LOG_PATH + "?meta")
        assert status == 401 and "the secret failure" not in body, name
    log = viewer.read_log()
    assert "refused session cookie" in log and "signature does not verify" in log
    assert "larger than 4096" in log


def test_two_frontends_sharing_the_secret_accept_each_others_sessions(server_factory, provider):
    a = start_viewer(server_factory, provider.issuer, port=provider.viewer_port)
    other = start_viewer(server_factory, provider.issuer)
    b = Browser()
    status, _, _ = sign_in(b, a)
    assert status == 200
    status, _, body, _ = b.get(other.web + LOG_PATH)
    assert status == 200 and "the secret failure" in body


# --- the callback -----------------------------------------------------------------------------

def run_to_callback(b, viewer):
    """Goes through sign-in up to (not into) the callback; returns its URL."""
    url = viewer.web + LOG_PATH
    for _ in range(6):
        status, location, body, _ = b.get(url)
        hop = re.search(r'<a class="next" href="([^"]+)" data-keep-hash="1"', body)
        assert status == 302 or hop
        url = urllib.parse.urljoin(url, html.unescape(hop.group(1)) if hop else location)
        if "/_auth/callback?" in url:
            return url
    raise AssertionError("never reached the callback")


def test_replayed_state_is_refused(viewer, provider):
    b = Browser()
    callback = run_to_callback(b, viewer)
    saved = dict(b.cookies)
    status, location, _, _ = b.get(callback)
    assert status == 302 and "lb_session" in b.cookies
    attacker = Browser()
    attacker.cookies = saved  # the same sign-in cookie and the same code, again
    status, _, body, _ = attacker.get(callback)
    assert status == 400 and "already used" in body
    assert "lb_session" not in attacker.cookies
    assert "replayed sign-in state" in viewer.read_log()


def test_callback_without_the_browsers_sign_in_cookie_is_refused(viewer, provider):
    # Login CSRF: the attacker's own code and state, delivered to the victim's browser.
    callback = run_to_callback(Browser(), viewer)
    victim = Browser()
    status, _, body, _ = victim.get(callback)
    assert status == 400 and "does not belong to a sign-in started in this browser" in body
    assert "lb_session" not in victim.cookies
    assert provider.token_requests == 0  # refused before spending the code


def test_provider_error_answer_is_shown_escaped(viewer):
    b = Browser()
    status, _, body, _ = b.get(viewer.web + "/_auth/callback?error=access_denied&"
                               "error_description=%3Cscript%3Ealert(1)%3C/script%3E&state=abcdefghijklmn")
    assert status == 401 and "access_denied" in body
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    # Forged log lines and novels from the query string are cut to one short line.
    status, _, body, _ = b.get(viewer.web + "/_auth/callback?error=x%0a2026-01-01%20warn%20forged&"
                               "error_description=" + "y" * 5000 + "&state=abcdefghijklmn")
    assert status == 401 and "y" * 201 not in body
    assert "\n2026-01-01 warn forged" not in viewer.read_log() and "x 2026-01-01 warn forged" in viewer.read_log()


BAD_TOKENS = {
    "wrong nonce": dict(claims_override={"nonce": "someone-elses"}),
    "wrong audience": dict(claims_override={"aud": "another-client"}),
    "several audiences, azp another": dict(claims_override={"aud": [CLIENT_ID, "x"], "azp": "x"}),
    "expired": dict(claims_override={"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
    "issued in the future": dict(claims_override={"iat": int(time.time()) + 3600}),
    "wrong issuer": dict(claims_override={"iss": "http://127.0.0.1:1/evil"}),
    "no subject": dict(claims_override={"sub": None}),
    "alg none": dict(alg="none"),
    "HS256 keyed with the public key": dict(alg="HS256-public-key"),
    "ES256 header on an RSA key": dict(header_override={"alg": "ES256"}),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_id_tokens_are_refused(viewer, provider, case):
    for k, v in BAD_TOKENS[case].items():
        setattr(provider, k, v)
    b = Browser()
    status, body, _ = sign_in(b, viewer)
    assert status == 403, (case, body[:500])
    assert "Sign-in refused" in body
    assert "lb_session" not in b.cookies and "the secret failure" not in body
    assert "oidc: sign-in from 127.0.0.1 refused" in viewer.read_log()


def test_unknown_kid_then_key_rotation(viewer, provider):
    status, _, _ = sign_in(Browser(), viewer)
    assert status == 200 and provider.jwks_fetches == 1
    # A token from a key the provider never published: refused, after one refetch.
    provider.signing_key = Key("RSA", "never-published")
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 403 and "never-published" in body
    assert provider.jwks_fetches == 2
    # The provider rotates: new key published and used. Picked up at once.
    rotated = Key("RSA", "rsa-2")
    provider.published = [rotated]
    provider.signing_key = rotated
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 200 and "the secret failure" in body
    assert provider.jwks_fetches == 3
    # A stream of made-up kids does not become a stream of JWKS requests (5 a minute).
    for i in range(10):
        provider.header_override = {"kid": "made-up-%d" % i}
        status, _, _ = sign_in(Browser(), viewer)
        assert status == 403
    assert provider.jwks_fetches <= 3 + 5 * 2  # at most two one-minute windows in this test
    assert provider.jwks_fetches < 3 + 10


# --- return_to --------------------------------------------------------------------------------

@pytest.mark.parametrize("return_to", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                       "%2F%2Fevil.example", "/%0d%0aSet-Cookie:x=1", "javascript:alert(1)",
                                       "/_auth/logout"])
def test_return_to_never_leaves_the_site(viewer, provider, return_to):
    b = Browser()
    url = viewer.web + "/_auth/login?go=1&return_to=" + return_to
    for _ in range(6):
        status, location, _, _ = b.get(url)
        assert status == 302
        if location.startswith("/") and "/_auth/" not in location:
            break
        url = urllib.parse.urljoin(url, location)
    assert location == "/", location
    assert "lb_session" in b.cookies


# --- the provider misbehaving -----------------------------------------------------------------

def test_provider_down_gives_a_clear_502_and_the_server_keeps_serving(server_factory):
    dead = "http://127.0.0.1:%d" % free_port()
    v = start_viewer(server_factory, dead)
    b = Browser()
    status, body, visited = b.follow(v.web + LOG_PATH)
    assert status == 502
    assert "Sign-in is unavailable" in body and "cannot be reached" in body and dead in body
    # Sessions already issued keep working without the provider.
    b.cookies["lb_session"] = forge_session("alice", ["alice-member"], int(time.time()) + 600)
    status, _, body, _ = b.get(v.web + LOG_PATH)
    assert status == 200 and "the secret failure" in body


def test_non_json_provider_answers_are_a_clear_502(viewer, provider):
    provider.token_answer = "<html>maintenance</html>"
    status, body, _ = sign_in(Browser(), viewer)
    assert status == 502 and "not a JSON object" in body
    provider.token_answer = None


def test_non_json_discovery_is_a_clear_502(server_factory, provider):
    provider.discovery_answer = "<html>maintenance</html>"
    v = start_viewer(server_factory, provider.issuer, port=provider.viewer_port)
    status, body, _ = sign_in(Browser(), v)
    assert status == 502 and "not a JSON object" in body
    # Discovery failures are not remembered: the provider back, sign-in works.
    provider.discovery_answer = None
    status, body, _ = sign_in(Browser(), v)
    assert status == 200


# --- logout -----------------------------------------------------------------------------------

def test_logout_clears_the_session_and_uses_the_providers_end_session(viewer, provider):
    b = Browser()
    assert sign_in(b, viewer)[0] == 200
    status, location, _, set_cookies = b.get(viewer.web + "/_auth/logout")
    assert status == 302
    u = urllib.parse.urlsplit(location)
    assert location.startswith(provider.issuer + "/logout?")
    q = dict(urllib.parse.parse_qsl(u.query))
    assert q == {"client_id": CLIENT_ID, "post_logout_redirect_uri": viewer.web + "/_auth/signed-out"}
    assert any(c.startswith("lb_session=;") and "Max-Age=0" in c for c in set_cookies)
    assert "lb_session" not in b.cookies
    status, location, _, _ = b.get(viewer.web + LOG_PATH)
    assert status == 302 and location.startswith("/_auth/login")
    status, _, body, _ = b.get(viewer.web + "/_auth/signed-out")
    assert status == 200 and "signed out" in body and "Sign in again" in body


def test_bad_oidc_settings_refuse_to_start(tmp_path):
    from conftest import BIN
    cases = {
        "no public_url": ('[auth]\nmode = "oidc"\n[auth.oidc]\nissuer = "https://sso.example"\n'
                          'client_id = "x"\n', "web.public_url"),
        "no issuer": ('[web]\npublic_url = "https://logs.example"\n[auth]\nmode = "oidc"\n',
                      "auth.oidc.issuer"),
        "short secret": ('[web]\npublic_url = "https://l.example"\n[auth]\nmode = "oidc"\n'
                         'session_secret = "short"\n[auth.oidc]\nissuer = "https://sso.example"\n'
                         'client_id = "x"\n', "at least 32"),
    }
    for name, (text, expected) in cases.items():
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        r = subprocess.run([BIN, "serve", "--config", str(cfg), "--data", str(tmp_path / "d"),
                            "--s3-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and expected in r.stderr, (name, r.stderr)


# --- a real provider, a real browser ----------------------------------------------------------

class RealProvider:
    """The npm oidc-provider on a free loopback port, with one client registered."""

    def __init__(self, redirect_uri, post_logout_uri, client_secret=CLIENT_SECRET):
        assert os.path.isdir(os.path.join(JS_DIR, "node_modules", "oidc-provider")), "run make deps"
        job = {"port": free_port(), "clientId": CLIENT_ID, "clientSecret": client_secret,
               "redirectUri": redirect_uri, "postLogoutRedirectUri": post_logout_uri}
        errors = tempfile.TemporaryFile("w+")  # its warnings (e.g. about the Node.js version)
        self.proc = subprocess.Popen(["node", "oidc_provider.mjs", json.dumps(job)], cwd=JS_DIR,
                                     stdout=subprocess.PIPE, stderr=errors, text=True)
        line = self.proc.stdout.readline()  # "listening <issuer>", or EOF when it failed
        if not line.startswith("listening "):
            self.stop()
            errors.seek(0)
            pytest.fail("oidc-provider did not start: " + line + errors.read())
        self.issuer = line.split()[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def real_provider():
    viewer_port = free_port()
    p = RealProvider("http://127.0.0.1:%d/_auth/callback" % viewer_port,
                     "http://127.0.0.1:%d/_auth/signed-out" % viewer_port)
    p.viewer_port = viewer_port
    yield p
    p.stop()


def test_browser_sign_in_with_a_real_provider(server_factory, real_provider, tmp_path):
    v = start_viewer(server_factory, real_provider.issuer, port=real_provider.viewer_port)
    job = {"url": v.web + LOG_PATH, "anchor": "#L2", "member": "alice", "outsider": "bob",
           "artifacts": str(tmp_path)}
    r = subprocess.run(["node", "oidc_browser_test.mjs", json.dumps(job)], cwd=JS_DIR,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    # Member: login form, consent, back on the very log line they opened.
    assert out["member"]["sawLoginForm"] and out["member"]["sawConsent"]
    assert out["member"]["finalUrl"] == v.web + LOG_PATH + "#L2"
    assert "the secret failure" in out["member"]["text"]
    assert "signed in as Alice Member" in out["member"]["header"]
    assert out["member"]["currentLine"] == "2"
    # Sign-out goes through the provider and comes back to the signed-out page.
    assert out["member"]["afterLogout"].startswith(v.web + "/_auth/signed-out")
    assert out["member"]["reopened"].startswith(real_provider.issuer)
    # Non-member: the 403 page says who and what is missing.
    assert out["outsider"]["status"] == 403
    assert "Bob Outsider" in out["outsider"]["text"] and "alice-member" in out["outsider"]["text"]
    assert "the secret failure" not in out["outsider"]["text"]
    assert out["consoleErrors"] == []
