"""Request signing shared by the http driver and webhooks: ``v1=<hex HMAC-SHA256 of "timestamp.body">``.

The sender puts the unix timestamp in ``X-OpsPilot-Timestamp`` and the signature in
``X-OpsPilot-Signature``; the receiver recomputes it over the raw body and refuses stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
TIMESTAMP_HEADER = "X-OpsPilot-Timestamp"
SIGNATURE_HEADER = "X-OpsPilot-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    message = f"{timestamp}.".encode() + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``signature`` matches and ``timestamp`` is within ``tolerance_seconds`` of now."""
    if not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """``X-OpsPilot-Timestamp`` and ``X-OpsPilot-Signature`` for ``body``, stamped now."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
