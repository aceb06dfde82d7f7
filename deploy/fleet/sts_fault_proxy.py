#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of the STS emulator (moto), for the fleet fault tests.

    sts_fault_proxy.py PORT UPSTREAM_URL KEYS_FILE

Forwards every request to UPSTREAM_URL unchanged and its answer back unchanged, except as the
current fault says. The fault is set over the same port, from loopback only:

    PUT /_fault?delay=3.0&fail_every=2    every answer waits 3 s; every 2nd is a 503 ServiceUnavailable
    PUT /_fault                           no fault
    GET /_fault                           the current fault and counters, as JSON

A failed request is answered the way STS answers when it is unavailable (HTTP 503, Query-protocol
ErrorResponse, code ServiceUnavailable) and never reaches moto, so it mints nothing. Every
AccessKeyId in an answer that moto gave is appended to KEYS_FILE, one per line: what STS minted,
to compare with what Roleport audited and what clients received.
"""

import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid

PORT, UPSTREAM, KEYS_FILE = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2]), sys.argv[3]
ACCESS_KEY = re.compile(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>")
lock = threading.Lock()
fault = {"delay": 0.0, "fail_every": 0}
counts = {"forwarded": 0, "failed": 0, "delayed": 0}


def sts_unavailable():
    rid = str(uuid.uuid4())
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Receiver</Type>'
        "<Code>ServiceUnavailable</Code><Message>injected by the fleet fault proxy</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/xml"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self):
        if self.command == "PUT":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with lock:
                fault["delay"] = float(query.get("delay", ["0"])[0])
                fault["fail_every"] = int(query.get("fail_every", ["0"])[0])
        with lock:
            state = {"fault": dict(fault), "counts": dict(counts)}
        self.answer(200, json.dumps(state).encode(), "application/json")

    def do_GET(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_fault"):
            return self.control()
        with lock:
            delay, every = fault["delay"], fault["fail_every"]
            n = counts["forwarded"] + counts["failed"] + 1
            fail = every > 0 and n % every == 0
            counts["failed" if fail else "forwarded"] += 1
            counts["delayed"] += delay > 0
        if delay > 0:
            time.sleep(delay)
        if fail:
            return self.answer(503, sts_unavailable())
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        try:
            conn.request(self.command, self.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        keys = ACCESS_KEY.findall(data)
        if keys:
            with lock, open(KEYS_FILE, "ab") as f:
                f.write(b"".join(k + b"\n" for k in keys))
        self.answer(resp.status, data, resp.getheader("Content-Type", "text/xml"))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
