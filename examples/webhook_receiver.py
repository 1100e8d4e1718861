"""A receiver for OpsPilot webhooks (format: cloudevents), standard library only.

    OPSPILOT_WEBHOOK_SECRET=... python examples/webhook_receiver.py 9000

It checks the v1 signature over the raw body, refuses timestamps more than five minutes away from now (a
captured request replayed later fails), and handles each event id once (OpsPilot delivers at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

TOLERANCE_SECONDS = 300


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None) -> bool:
    """True when ``signature`` is ``v1=`` HMAC-SHA256("<timestamp>.<body>") and the timestamp is recent."""
    if not secret or not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > TOLERANCE_SECONDS:
        return False
    expected = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def handle(event: dict) -> None:
    print(event["type"], event.get("subject"), event.get("severity"), flush=True)


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("OPSPILOT_WEBHOOK_SECRET", "")
    seen: ClassVar[set[str]] = set()  # event ids handled (keep them in your database, for longer than a day)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        timestamp, signature = self.headers.get("X-OpsPilot-Timestamp"), self.headers.get("X-OpsPilot-Signature")
        if not verify(self.secret, timestamp, signature, body):
            self.send_response(401)  # a 4xx is not retried: fix the secret or the clock, then redeliver
            self.end_headers()
            return
        event = json.loads(body)
        if event["id"] not in self.seen:
            self.seen.add(event["id"])
            handle(event)
        self.send_response(204)  # any 2xx: delivered
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
