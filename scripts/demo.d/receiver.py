#!/usr/bin/env python3
"""The demo's webhook receiver: checks prescale's signature and applies the scale.

usage: receiver.py PORT SECRET_FILE LOG_JSONL
Serves on 127.0.0.1:PORT. A request whose X-Prescale-Signature is not the HMAC-SHA256 of
the body under the secret (docs/control-plane.md, "Verifying webhook signatures"), or whose
timestamp is more than 5 minutes off, gets 401. A valid one is logged (one JSON line) and
answered {"replicas": to_replicas}; repeats of an Idempotency-Key are answered again but
applied once.
"""
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    SECRET = f.read().rstrip(b"\n")
LOG = open(sys.argv[3], "a", buffering=1)
SEEN = {}


def verify(body: bytes, signature: str, timestamp: str, max_age_s: int = 300) -> bool:
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return False
    return timestamp.isdigit() and abs(time.time() - int(timestamp)) <= max_age_s


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet: the demo shows the actions itself
        pass

    def answer(self, code: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sig = self.headers.get("X-Prescale-Signature", "")
        ts = self.headers.get("X-Prescale-Timestamp", "")
        if not verify(body, sig, ts):
            LOG.write(json.dumps({"time": time.time(), "verified": False, "path": self.path}) + "\n")
            self.answer(401, {"error": "bad signature"})
            return
        action = json.loads(body)
        key = self.headers.get("Idempotency-Key", action.get("id", ""))
        if key not in SEEN:
            SEEN[key] = action["to_replicas"]
            LOG.write(json.dumps({"time": time.time(), "verified": True, "action": action}) + "\n")
        self.answer(200, {"replicas": SEEN[key]})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
