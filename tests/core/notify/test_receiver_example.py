"""The receiver docs/events.md shows (examples/webhook_receiver.py, shown verbatim there) accepts what the
WebhookSubscriber sends, refuses stale or forged requests, and handles a retried event once."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import HTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from core.clock import ManualClock
from core.errors import DeliveryRejected
from core.notify import WebhookSubscriber
from core.signing import sign

from . import samples
from .conftest import SECRET

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "webhook_receiver.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


receiver = _load()


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict]]]:
    handled: list[dict] = []
    monkeypatch.setattr(receiver.Receiver, "secret", SECRET)
    monkeypatch.setattr(receiver.Receiver, "seen", set())
    monkeypatch.setattr(receiver.Receiver, "log_message", lambda *args: None)
    monkeypatch.setattr(receiver, "handle", handled.append)
    server = HTTPServer(("127.0.0.1", 0), receiver.Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/opspilot", handled
    finally:
        server.shutdown()
        server.server_close()


def test_the_docs_show_the_example_verbatim() -> None:
    code = EXAMPLE.read_text(encoding="utf-8").rstrip("\n")
    assert f"```python\n{code}\n```" in (ROOT / "docs" / "events.md").read_text(encoding="utf-8")


async def test_a_signed_event_is_accepted_and_a_retry_handled_once(running: tuple[str, list[dict]]) -> None:
    url, handled = running
    hook = WebhookSubscriber(url=url, secret=SECRET, timeout=5)
    event = samples.finished()
    assert await hook.deliver(samples.first(event)) == {"status": 204}
    assert await hook.deliver(samples.first(event, attempt=2)) == {"status": 204}
    await hook.close()
    assert [e["id"] for e in handled] == [event.id]


async def test_a_request_signed_six_minutes_ago_is_refused(running: tuple[str, list[dict]]) -> None:
    url, handled = running
    late = ManualClock()
    late.advance(-timedelta(minutes=6).total_seconds())
    hook = WebhookSubscriber(url=url, secret=SECRET, timeout=5, clock=late)
    with pytest.raises(DeliveryRejected, match="HTTP 401"):
        await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    assert handled == []


async def test_a_wrong_secret_is_refused(running: tuple[str, list[dict]]) -> None:
    url, handled = running
    hook = WebhookSubscriber(url=url, secret="not-the-secret", timeout=5)
    with pytest.raises(DeliveryRejected, match="HTTP 401"):
        await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    assert handled == []


def test_verify_checks_body_timestamp_and_window() -> None:
    body = b'{"id": "1"}'
    signature = sign(SECRET, "1000", body)
    assert receiver.verify(SECRET, "1000", signature, body, now=1000 + 299)
    assert not receiver.verify(SECRET, "1000", signature, body, now=1000 + 301)
    assert not receiver.verify(SECRET, "1001", signature, body, now=1000)
    assert not receiver.verify(SECRET, "1000", signature, body + b" ", now=1000)
    assert not receiver.verify(SECRET, "soon", signature, body, now=1000)
    assert not receiver.verify("", "1000", signature, body, now=1000)
    assert not receiver.verify(SECRET, None, signature, body, now=1000)
