"""An OpenID provider the test controls, for the attacks a real provider never makes: ID tokens
with the wrong nonce or audience, expired, signed with `none`, with HS256 keyed by the public
key, by an unknown key; answers that are not JSON. It speaks the real protocol over HTTP on
127.0.0.1 (discovery, authorize → redirect with code and state, token endpoint with client
authentication and a real PKCE S256 check, JWKS, userinfo, end_session), so logbucket cannot tell
it from a provider. The happy path is also tested against the npm oidc-provider
(test_web_oidc.py); this one exists for what that one will not do.
"""
import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse

import jwt  # PyJWT (Debian python3-jwt), signing only
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self, kind="RSA", kid=None):
        self.kind = kind
        self.kid = kid or secrets.token_hex(6)
        if kind == "RSA":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        if self.kind == "RSA":
            n = self.private.public_key().public_numbers()
            return {"kty": "RSA", "kid": self.kid, "use": "sig",
                    "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                    "e": b64url(n.e.to_bytes(3, "big"))}
        n = self.private.public_key().public_numbers()
        return {"kty": "EC", "kid": self.kid, "use": "sig", "crv": "P-256",
                "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}

    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class ScriptedProvider:
    """Start with .start(); .issuer is its URL. Knobs (set between sign-ins):
    alg, signing_key, claims_override (dict merged into the ID token), header_override,
    roles_in_id_token, userinfo_sub, token_answer (raw body replacing the token response),
    discovery_answer (raw body replacing discovery), token_auth ('basic' or 'post')."""

    def __init__(self, client_id, client_secret, redirect_uri):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.keys = [Key("RSA", "rsa-1"), Key("EC", "ec-1")]
        self.published = list(self.keys)  # what /jwks serves
        self.signing_key = self.keys[0]
        self.alg = "RS256"
        self.claims_override = {}
        self.header_override = {}
        self.roles_in_id_token = True
        self.roles = ["default-role", "alice-member"]
        self.subject = "alice-sub"
        self.userinfo_sub = None
        self.token_answer = None
        self.discovery_answer = None
        self.token_auth = "basic"
        self.codes = {}
        self.jwks_fetches = 0
        self.token_requests = 0
        self.failures = []  # protocol errors the provider saw from logbucket
        self.httpd = None

    # --- the ID token -------------------------------------------------------------------
    def id_token(self, nonce):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.subject, "aud": self.client_id,
                  "iat": now, "exp": now + 300, "nonce": nonce, "name": "Alice Member",
                  "email": "alice@example.org"}
        if self.roles_in_id_token:
            claims["cern_roles"] = self.roles
        claims.update(self.claims_override)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"kid": self.signing_key.kid, **self.header_override}
        if self.alg == "none":
            head = dict(header, alg="none", typ="JWT")
            return b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode()) + "."
        if self.alg == "HS256-public-key":
            # The classic confusion attack: HMAC keyed with the provider's public key bytes.
            head = dict(header, alg="HS256", typ="JWT")
            signing_input = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
            import hmac
            mac = hmac.new(self.signing_key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
            return signing_input + "." + b64url(mac)
        if "alg" in header:
            # A header that lies about the algorithm: signed RS256 with the RSA key regardless.
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
            signing_input = b64url(json.dumps(dict(header, typ="JWT")).encode()) + "." + \
                b64url(json.dumps(claims).encode())
            signature = self.signing_key.private.sign(signing_input.encode(), padding.PKCS1v15(),
                                                      hashes.SHA256())
            return signing_input + "." + b64url(signature)
        return jwt.encode(claims, self.signing_key.private, algorithm=self.alg, headers=header)

    # --- HTTP ---------------------------------------------------------------------------
    def start(self):
        provider = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status, body, ctype="application/json", headers=()):
                data = body if isinstance(body, bytes) else body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path == "/.well-known/openid-configuration":
                    if provider.discovery_answer is not None:
                        return self.answer(200, provider.discovery_answer, "text/html")
                    return self.answer(200, json.dumps({
                        "issuer": provider.issuer,
                        "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token",
                        "jwks_uri": provider.issuer + "/jwks",
                        "userinfo_endpoint": provider.issuer + "/userinfo",
                        "end_session_endpoint": provider.issuer + "/logout",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
                    }))
                if u.path == "/jwks":
                    provider.jwks_fetches += 1
                    return self.answer(200, json.dumps({"keys": [k.jwk() for k in provider.published]}))
                if u.path == "/authorize":
                    problems = []
                    if q.get("client_id") != provider.client_id:
                        problems.append("client_id")
                    if q.get("redirect_uri") != provider.redirect_uri:
                        problems.append("redirect_uri " + q.get("redirect_uri", ""))
                    if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
                        problems.append("pkce")
                    if "openid" not in q.get("scope", "").split() or q.get("response_type") != "code":
                        problems.append("scope/response_type")
                    if not q.get("state") or not q.get("nonce"):
                        problems.append("state/nonce")
                    if problems:
                        provider.failures.append("authorize: " + ", ".join(problems))
                        return self.answer(400, json.dumps({"error": "invalid_request"}))
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"]}
                    location = provider.redirect_uri + "?" + urllib.parse.urlencode(
                        {"code": code, "state": q["state"]})
                    return self.answer(302, "", "text/plain", [("Location", location)])
                if u.path == "/userinfo":
                    if self.headers.get("Authorization") != "Bearer at-" + provider.subject:
                        return self.answer(401, json.dumps({"error": "invalid_token"}))
                    return self.answer(200, json.dumps({
                        "sub": provider.userinfo_sub or provider.subject, "name": "Alice Member",
                        "cern_roles": provider.roles}))
                self.answer(404, json.dumps({"error": "not_found"}))

            def do_POST(self):
                u = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                if u.path != "/token":
                    return self.answer(404, "{}")
                provider.token_requests += 1
                if provider.token_answer is not None:
                    return self.answer(200, provider.token_answer, "text/html")
                if provider.token_auth == "basic":
                    # RFC 6749 §2.3.1: id and secret are form-encoded, then joined and base64'd.
                    header = self.headers.get("Authorization", "")
                    authed = False
                    if header.startswith("Basic "):
                        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                        authed = (urllib.parse.unquote_plus(user) == provider.client_id
                                  and urllib.parse.unquote_plus(password) == provider.client_secret)
                else:
                    authed = (form.get("client_id") == provider.client_id
                              and form.get("client_secret") == provider.client_secret)
                if not authed:
                    provider.failures.append("token: client authentication")
                    return self.answer(401, json.dumps({"error": "invalid_client"}))
                grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or form.get("grant_type") != "authorization_code" \
                        or form.get("redirect_uri") != provider.redirect_uri:
                    return self.answer(400, json.dumps({"error": "invalid_grant"}))
                verifier = form.get("code_verifier", "")
                if b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
                    provider.failures.append("token: PKCE verifier does not match")
                    return self.answer(400, json.dumps({"error": "invalid_grant",
                                                        "error_description": "PKCE"}))
                return self.answer(200, json.dumps({
                    "access_token": "at-" + provider.subject, "token_type": "Bearer",
                    "expires_in": 300, "id_token": provider.id_token(grant["nonce"])}))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.issuer = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
