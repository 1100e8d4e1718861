"""Slack request signing (v0 HMAC-SHA256), as Slack signs what it sends to apps."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(signing_secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(signing_secret, timestamp, body),
    }
