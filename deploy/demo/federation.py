"""Demo stand-in for AWS's console sign-in endpoint (https://signin.aws.amazon.com/federation).

NOT AWS: a small loopback server for deploy/demo.sh, so that Roleport's "Console" button has
somewhere to go. Run it with the moto venv's python (it needs boto3):

    .run/venv/bin/python deploy/demo/federation.py --port 18913 --sts http://127.0.0.1:18912

GET /federation?Action=getSigninToken&Session=<json>[&SessionDuration=N]
    Session must be JSON with exactly sessionId, sessionKey and sessionToken (non-empty strings);
    SessionDuration, when present, 900-43200. The session must be real: GetCallerIdentity on the
    STS emulator (moto) with it must name an assumed role (or a federated user). Answers
    {"SigninToken": "<random>"} and remembers token -> caller ARN for 15 minutes.
GET /federation?Action=login&Issuer=<url>&Destination=<url>&SigninToken=<token>
    An HTML page "Demo AWS console — you are signed in as <ARN>, landing on <Destination>";
    an unknown or expired token is refused with 400.
GET /console/...    a placeholder for the console pages that Destination points at.
POST /saml          the stand-in for https://signin.aws.amazon.com/saml (Roleport's "AWS sign-in
    page"): takes the form-POSTed SAMLResponse, decodes it and shows the Role and RoleSessionName
    attributes it carries. It does NOT verify the signature: it only shows where AWS would go.
GET /healthz        200 "ok".

Everything else is 400/404. Requests are logged without their query (it carries credentials).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import json
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TOKEN_LIFETIME_SECONDS = 900  # AWS: a sign-in token must be used within 15 minutes
SESSION_DURATION_RANGE = (900, 43200)
SESSION_KEYS = ["sessionId", "sessionKey", "sessionToken"]
MAX_QUERY_BYTES = 16 * 1024
# Roleport's console SAML POST is a few kilobytes; far more is not a sign-in.
MAX_FORM_BYTES = 256 * 1024
SAML_ROLE = "https://aws.amazon.com/SAML/Attributes/Role"
SAML_SESSION_NAME = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SAML_ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
MAX_TOKENS = 10_000
COOKIE = "demo_console"
PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;"
    "color:#222}code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}"
    ".banner{background:#fff4d6;border:1px solid #e0c36c;padding:.6rem .9rem;border-radius:4px}"
)


class Tokens:
    """token -> (caller ARN, expiry), pruned on every use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, float, int | None]] = {}

    def add(self, arn: str, session_duration: int | None) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._prune()
            if len(self._items) >= MAX_TOKENS:
                self._items.pop(next(iter(self._items)))
            self._items[token] = (arn, time.monotonic() + TOKEN_LIFETIME_SECONDS, session_duration)
        return token

    def get(self, token: str) -> tuple[str, int | None] | None:
        with self._lock:
            self._prune()
            item = self._items.get(token)
        return None if item is None else (item[0], item[2])

    def _prune(self) -> None:
        now = time.monotonic()
        for t in [t for t, (_, exp, _) in self._items.items() if exp <= now]:
            del self._items[t]


def page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head><body>"
        '<p class="banner">Demo stand-in for the AWS sign-in endpoint and console '
        "(deploy/demo/federation.py). This is not AWS.</p>"
        f"{body}</body></html>"
    ).encode()


def is_web_url(value: str) -> bool:
    try:
        u = urlsplit(value)
    except ValueError:
        return False
    return u.scheme in ("http", "https") and bool(u.hostname)


class Handler(BaseHTTPRequestHandler):
    server_version = "roleport-demo-federation"
    sts_url = ""
    tokens = Tokens()

    # The query carries credentials and tokens: log the path and the Action only.
    def log_request(self, code="-", size="-") -> None:
        # A request line that did not parse leaves no path or command behind.
        u = urlsplit(getattr(self, "path", "") or "")
        action = parse_qs(u.query).get("Action", ["-"])[0][:32] if u.path == "/federation" else "-"
        sys.stderr.write(f"federation: {getattr(self, 'command', None) or '-'} {u.path or '-'} Action={action} -> {code}\n")

    def log_message(self, format, *args) -> None:  # noqa: A002 (stdlib signature)
        # http.server's own error lines quote the request line: drop any query from them.
        sys.stderr.write("federation: " + re.sub(r"\?[^\s'\"]*", "?…", format % args) + "\n")

    def send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status: int, message: str) -> None:
        self.send(status, page("Sign-in refused", f"<h1>Refused</h1><p>{html.escape(message)}</p>"),
                  "text/html; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        u = urlsplit(self.path)
        if len(u.query) > MAX_QUERY_BYTES:
            return self.fail(400, "request too large")
        if u.path == "/healthz":
            return self.send(200, b"ok\n", "text/plain")
        if u.path == "/federation":
            try:
                params = parse_qs(u.query, keep_blank_values=True, strict_parsing=bool(u.query))
            except ValueError:
                return self.fail(400, "malformed query string")
            if any(len(v) != 1 for v in params.values()):
                return self.fail(400, "a parameter is repeated")
            p = {k: v[0] for k, v in params.items()}
            action = p.get("Action")
            if action == "getSigninToken":
                return self.get_signin_token(p)
            if action == "login":
                return self.login(p)
            return self.fail(400, "Action must be getSigninToken or login")
        if u.path == "/console" or u.path.startswith("/console/"):
            return self.console(u.path)
        self.fail(404, "no such page")

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        u = urlsplit(self.path)
        if u.path != "/saml":
            return self.fail(404, "no such page")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            return self.fail(411, "a Content-Length is required")
        if not 0 < length <= MAX_FORM_BYTES:
            return self.fail(413, "the form is empty or too large")
        try:
            form = parse_qs(self.rfile.read(length).decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return self.fail(400, "the form is not URL-encoded")
        responses = form.get("SAMLResponse", [])
        if len(responses) != 1:
            return self.fail(400, "exactly one SAMLResponse is required")
        try:
            xml = base64.b64decode(responses[0], validate=True)
            root = ElementTree.fromstring(xml)
        except (binascii.Error, ElementTree.ParseError):
            return self.fail(400, "SAMLResponse is not base64 of an XML document")
        values = {SAML_ROLE: [], SAML_SESSION_NAME: []}
        for attribute in root.iter(f"{{{SAML_ASSERTION_NS}}}Attribute"):
            name = attribute.get("Name")
            if name in values:
                values[name] += [v.text or "" for v in attribute.iter(f"{{{SAML_ASSERTION_NS}}}AttributeValue")]
        if not values[SAML_ROLE]:
            return self.fail(400, "the SAMLResponse names no Role attribute")
        e = html.escape
        # Each Role value is "<role ARN>,<SAML provider ARN>".
        roles = "".join(
            f'<li><code class="role">{e(v.split(",")[0])}</code> (provider <code>{e(",".join(v.split(",")[1:]))}</code>)</li>'
            for v in values[SAML_ROLE]
        )
        session = "".join(f"<code>{e(v)}</code>" for v in values[SAML_SESSION_NAME][:1])
        body = (
            "<h1>Demo AWS sign-in</h1>"
            f'<p>The SAML sign-in asks for the role</p><ul id="roles">{roles}</ul>'
            + (f'<p>Session name <span id="session-name">{session}</span>.</p>' if session else "")
            + "<p>AWS would now check the signature and open the console as this role. "
            "This stand-in does not check anything: it only shows what arrived.</p>"
        )
        self.send(200, page("Demo AWS sign-in", body), "text/html; charset=utf-8")

    def get_signin_token(self, p: dict[str, str]) -> None:
        extra = set(p) - {"Action", "Session", "SessionDuration"}
        if extra:
            return self.fail(400, f"unexpected parameters: {', '.join(sorted(extra))}")
        try:
            session = json.loads(p.get("Session", ""))
        except ValueError:
            return self.fail(400, "Session is not JSON")
        if not isinstance(session, dict) or sorted(session) != SESSION_KEYS:
            return self.fail(400, "Session must hold exactly sessionId, sessionKey and sessionToken")
        if not all(isinstance(session[k], str) and session[k] for k in SESSION_KEYS):
            return self.fail(400, "sessionId, sessionKey and sessionToken must be non-empty strings")
        duration = None
        if "SessionDuration" in p:
            raw = p["SessionDuration"]
            lo, hi = SESSION_DURATION_RANGE
            if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
                return self.fail(400, f"SessionDuration must be {lo}-{hi} seconds")
            duration = int(raw)
        sts = boto3.client(
            "sts", endpoint_url=self.sts_url, region_name="us-east-1",
            aws_access_key_id=session["sessionId"], aws_secret_access_key=session["sessionKey"],
            aws_session_token=session["sessionToken"],
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10),
        )
        try:
            arn = sts.get_caller_identity()["Arn"]
        except ClientError as e:
            return self.fail(400, f"the session was refused by STS: {e.response.get('Error', {}).get('Code')}")
        except BotoCoreError as e:
            return self.fail(503, f"the STS emulator did not answer: {type(e).__name__}")
        # moto names any key it does not know `user/moto`: only temporary sessions sign in here.
        if ":assumed-role/" not in arn and ":federated-user/" not in arn:
            return self.fail(400, f"not a temporary role session (GetCallerIdentity: {arn})")
        token = self.tokens.add(arn, duration)
        self.send(200, json.dumps({"SigninToken": token}).encode(), "application/json")

    def login(self, p: dict[str, str]) -> None:
        extra = set(p) - {"Action", "Issuer", "Destination", "SigninToken"}
        if extra:
            return self.fail(400, f"unexpected parameters: {', '.join(sorted(extra))}")
        issuer, destination, token = p.get("Issuer", ""), p.get("Destination", ""), p.get("SigninToken", "")
        if not is_web_url(destination):
            return self.fail(400, "Destination must be an absolute http(s) URL")
        if issuer and not is_web_url(issuer):
            return self.fail(400, "Issuer must be an absolute http(s) URL")
        found = self.tokens.get(token) if token else None
        if found is None:
            return self.fail(400, "unknown or expired SigninToken (tokens last 15 minutes)")
        arn, duration = found
        e = html.escape
        dest_link = f'<a href="{e(destination)}">{e(destination)}</a>' if is_local(destination, self) else f"<code>{e(destination)}</code>"
        body = (
            "<h1>Demo AWS console</h1>"
            f'<p>You are signed in as <code id="arn">{e(arn)}</code>, landing on '
            f'<span id="destination">{dest_link}</span>.</p>'
            + (f"<p>Console session: {duration} seconds (SessionDuration).</p>" if duration else "")
            + (f'<p>Signed in through <a href="{e(issuer)}">{e(issuer)}</a> (Issuer).</p>' if issuer else "")
            + "<p>The real AWS endpoint would now open the console at Destination.</p>"
        )
        cookie = f"{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Lax; Max-Age={TOKEN_LIFETIME_SECONDS}"
        self.send(200, page("Demo AWS console", body), "text/html; charset=utf-8", {"Set-Cookie": cookie})

    def console(self, path: str) -> None:
        token = ""
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE:
                token = v
        found = self.tokens.get(token) if token else None
        who = f"signed in as <code>{html.escape(found[0])}</code>" if found else "not signed in"
        body = (f"<h1>Demo AWS console</h1><p>Page <code>{html.escape(path)}</code>; you are {who}.</p>"
                "<p>There is no console behind this demo: only the sign-in is shown.</p>")
        self.send(200, page("Demo AWS console", body), "text/html; charset=utf-8")


def is_local(url: str, handler: BaseHTTPRequestHandler) -> bool:
    """Link to Destination only when it is this server's own placeholder console."""
    u = urlsplit(url)
    host, port = handler.server.server_address[:2]
    return u.scheme == "http" and u.hostname == host and u.port == port and u.path.startswith("/console")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18913)
    ap.add_argument("--sts", required=True, help="STS endpoint to check sessions with (moto)")
    a = ap.parse_args()
    Handler.sts_url = a.sts
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"federation: demo sign-in endpoint on http://{a.host}:{a.port}/federation (STS {a.sts})\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
