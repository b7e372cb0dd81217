"""A small independent SigV4 signer for raw-wire tests (AWS "Signature Version 4" algorithm),
so tests control the payload hash, the date and every byte sent, and cross-check the server's
canonicalisation with a second implementation."""
import datetime
import hashlib
import hmac
import socket
import urllib.parse


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _encode(s, keep_slash):
    return urllib.parse.quote(s, safe="/~" if keep_slash else "~")


def sign(method, endpoint, path, access_key, secret_key, headers=None, payload_hash="UNSIGNED-PAYLOAD",
         query="", when=None, region="us-east-1"):
    """Returns (raw_target, headers) with Authorization for a request to endpoint + path.

    path is percent-encoded as it goes on the wire."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    host = urllib.parse.urlsplit(endpoint).netloc
    h = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    for k, v in (headers or {}).items():
        h[k.lower()] = str(v)
    names = sorted(h)
    canonical_headers = "".join("%s:%s\n" % (n, " ".join(h[n].split())) for n in names)
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    canonical_query = "&".join("%s=%s" % (_encode(k, False), _encode(v, False)) for k, v in sorted(pairs))
    canonical_path = _encode(urllib.parse.unquote_to_bytes(path), True)
    canonical = "\n".join([method, canonical_path, canonical_query, canonical_headers, ";".join(names), payload_hash])
    scope = "%s/%s/s3/aws4_request" % (date, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), date), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(names), signature)
    target = path + ("?" + query if query else "")
    return target, h


def raw_request(endpoint, method, target, headers, body=b"", extra_raw_headers=b"", content_length=None,
                read_all=True):
    """Sends one request over a fresh socket and returns (status, head, body)."""
    u = urllib.parse.urlsplit(endpoint)
    lines = ["%s %s HTTP/1.1" % (method, target)]
    lines += ["%s: %s" % (k, v) for k, v in headers.items()]
    if body or content_length is not None:
        lines.append("content-length: %d" % (len(body) if content_length is None else content_length))
    lines.append("connection: close")
    head = ("\r\n".join(lines) + "\r\n").encode() + extra_raw_headers + b"\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode("latin-1"), rest


def read_head(sock):
    """Reads from `sock` until a response head is complete (or the peer closes); returns the
    bytes read so far (the head, and whatever of the body came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
