"""The production frontend's shape: Apache httpd with mod_auth_openidc (Debian's packages) signs
users in at a real OpenID provider (npm oidc-provider) and proxies to logbucket in
auth.mode = "proxy", which trusts the OIDC_CLAIM_* headers from Apache's address only.

Headless Chromium signs in through the provider's forms, as a member and as an outsider. The
link a member opens is a PR comment's `?L=` line link, which survives the provider's redirects
(a `#L` fragment would not: the browser never sends it to Apache).
"""
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import free_port
from test_web_oidc import CLIENT_ID, JS_DIR, KEY, LOG_PATH, RealProvider

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
CLIENT_SECRET = "apache-client-" + secrets.token_hex(8)

CONF = """\
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {dir}/httpd.pid
DefaultRuntimeDir {dir}
Mutex file:{dir} default
ErrorLog {dir}/error.log
LogLevel warn auth_openidc:info
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/_oidc/callback
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRemoteUserClaim sub
OIDCPassClaimsAs headers

Alias /_signed_out.html {dir}/signed_out.html
ProxyPass /_signed_out.html !
ProxyPass /_oidc/ !
ProxyPass / http://127.0.0.1:{viewer_port}/
ProxyPassReverse / http://127.0.0.1:{viewer_port}/

<Location />
  AuthType openid-connect
  Require valid-user
</Location>
<Location /_signed_out.html>
  AuthType None
  Require all granted
</Location>
"""


class Apache:
    """httpd in the foreground with its own configuration, stopped by PID."""

    def __init__(self, port, issuer, viewer_port):
        assert os.path.exists(APACHE), "apache2 missing: run make deps"
        assert os.path.exists(MODULES + "/mod_auth_openidc.so"), "mod_auth_openidc missing: run make deps"
        self.dir = tempfile.mkdtemp(prefix="lb-apache-")
        os.chmod(self.dir, 0o755)  # the worker user reads signed_out.html
        self.port = port
        self.url = "http://127.0.0.1:%d" % self.port
        with open(os.path.join(self.dir, "signed_out.html"), "w") as f:
            f.write("<!DOCTYPE html><title>Signed out</title><p>Signed out.</p>\n")
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(
                port=self.port, dir=self.dir, modules=MODULES, issuer=issuer, client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET, passphrase=secrets.token_hex(16),
                viewer_port=viewer_port,
                # As root, httpd's workers need a user to switch to; otherwise they stay ours.
                user="User www-data\nGroup www-data" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                # Unauthenticated: mod_auth_openidc answers with a redirect to the provider.
                req = urllib.request.Request(self.url + "/", headers={"Accept": "text/html"})
                opener = urllib.request.build_opener(NoRedirect)
                opener.open(req, timeout=5)
            except urllib.error.HTTPError as e:
                if e.code == 302:
                    return
            except OSError:
                time.sleep(0.05)  # not listening yet: a bounded wait for the port
        code = self.proc.poll()
        stderr = self.proc.stderr.read() if code is not None else ""
        self.stop()
        raise AssertionError("apache did not start (exit %s): %s %s" % (code, stderr, self.error_log()))

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start_proxied_viewer(server_factory, viewer_port, sign_out_url):
    config = ('[auth]\nmode = "proxy"\nrequire_role = "alice-member"\n'
              'trusted_proxies = ["127.0.0.1/32"]\n[auth.proxy]\nsign_out_url = "%s"\n' % sign_out_url)
    s = server_factory(config=config, web_listen="127.0.0.1:%d" % viewer_port).start()
    c = s.client()
    c.create_bucket(Bucket="alice-build-logs")
    c.put_object(Bucket="alice-build-logs", Key=KEY, ContentType="text/plain",
                 Body=b"line one\nsrc/a.cc:1:2: error: the secret failure\nline three\n")
    return s


def test_apache_mod_auth_openidc_in_front_of_the_viewer(server_factory, tmp_path):
    # The provider must know Apache's addresses before Apache starts, and Apache the provider's.
    apache_port, viewer_port = free_port(), free_port()
    signed_out = "http://127.0.0.1:%d/_signed_out.html" % apache_port
    provider = RealProvider("http://127.0.0.1:%d/_oidc/callback" % apache_port, signed_out,
                            client_secret=CLIENT_SECRET)
    apache = None
    try:
        sign_out = "/_oidc/callback?logout=" + urllib.parse.quote(signed_out, safe="")
        start_proxied_viewer(server_factory, viewer_port, sign_out)
        apache = Apache(apache_port, provider.issuer, viewer_port)

        job = {"url": apache.url + LOG_PATH, "anchor": "?L=2", "line": 2, "member": "alice",
               "outsider": "bob", "artifacts": str(tmp_path), "signOutHref": sign_out,
               "signedOutUrl": signed_out, "forger": "noroles-mallory",
               "forgedHeaders": [{"X-Forwarded-Groups": "alice-member"},
                                 {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "alice-member"},
                                 {"OIDC_CLAIM_cern_roles": "alice-member"},
                                 {"OIDC-CLAIM-cern-roles": "alice-member"}]}
        r = subprocess.run(["node", "oidc_browser_test.mjs", json.dumps(job)], cwd=JS_DIR,
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stdout + r.stderr + apache.error_log()[-3000:]
        out = json.loads(r.stdout.strip().splitlines()[-1])
        # Member: the provider's login and consent, then the log at the linked line, named.
        assert out["member"]["sawLoginForm"] and out["member"]["sawConsent"]
        assert out["member"]["finalUrl"] == apache.url + LOG_PATH + "#L2"
        assert "the secret failure" in out["member"]["text"]
        assert "signed in as Alice Member" in out["member"]["header"]
        assert out["member"]["currentLine"] == "2"
        # Sign-out: mod_auth_openidc's logout, the provider's end-session, then the landing page;
        # the log asks for a sign-in again.
        assert out["member"]["afterLogout"].startswith(signed_out)
        assert out["member"]["reopened"].startswith(provider.issuer)
        # Outsider: signed in at the provider, refused by logbucket with who and what.
        assert out["outsider"]["status"] == 403
        assert "Bob Outsider" in out["outsider"]["text"]
        assert "alice-member" in out["outsider"]["text"]
        assert "the secret failure" not in out["outsider"]["text"]
        assert out["consoleErrors"] == []
        # Signed in, but the provider sent no roles claim: refused, and none of the headers a
        # browser adds (another proxy's family, or mod_auth_openidc's own, which it strips)
        # gives the role.
        assert out["forger"]["status"] == 403 and "Your roles: none" in out["forger"]["text"]
        for attempt in out["forger"]["attempts"]:
            assert attempt["status"] == 403, attempt["headers"]
            assert "the secret failure" not in attempt["text"]
            assert "Your roles: none" in attempt["text"], attempt

        # A client that forges the claim headers at Apache gets the provider, not the log:
        # mod_auth_openidc strips them and there is no session.
        req = urllib.request.Request(apache.url + LOG_PATH, headers={
            "Accept": "text/html", "OIDC_CLAIM_sub": "mallory", "OIDC_CLAIM_cern_roles": "alice-member"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.build_opener(NoRedirect).open(req, timeout=10)
        assert e.value.code == 302 and e.value.headers["Location"].startswith(provider.issuer)
    finally:
        if apache is not None:
            apache.stop()
        provider.stop()
