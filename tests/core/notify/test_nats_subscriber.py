"""NatsSubscriber against a real nats-server with JetStream: ``OPSPILOT_TEST_NATS_URL`` (CI:
nats://127.0.0.1:4222) for publishing and de-duplication, and a nats-server this test starts and stops (when the
binary is on PATH) for a server that goes away and comes back."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nats
import pytest
from nats.js.errors import NotFoundError

from core.errors import DeliveryFailed
from core.notify import NatsSubscriber
from core.outbox.envelope import CloudEvent

from . import samples
from .conftest import free_port


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def nats_url() -> str:
    url = os.environ.get("OPSPILOT_TEST_NATS_URL")
    if not url:
        pytest.skip("OPSPILOT_TEST_NATS_URL is not set (e.g. nats://127.0.0.1:4222, a nats-server started with -js)")
    if not _reachable(url):
        pytest.skip(f"no NATS server answers at {url} (OPSPILOT_TEST_NATS_URL)")
    return url


@pytest.fixture
async def stream(nats_url: str) -> AsyncIterator[tuple[str, str]]:
    """A stream and subject prefix of this test's own, deleted afterwards."""
    name = f"OPSPILOT_TEST_{uuid.uuid4().hex[:8].upper()}"
    prefix = f"opspilot_test_{name[-8:].lower()}"
    yield name, prefix
    client = await nats.connect(nats_url)
    try:
        await client.jetstream().delete_stream(name)
    except NotFoundError:
        pass
    finally:
        await client.close()


async def _messages(url: str, name: str) -> list:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        info = await js.stream_info(name)
        found = [await js.get_msg(name, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        return [m for m in found if m is not None]
    finally:
        await client.close()


async def test_an_event_published_twice_is_stored_once(nats_url: str, stream: tuple[str, str]) -> None:
    name, prefix = stream
    publisher = NatsSubscriber(url=nats_url, stream=name, subject_prefix=prefix, timeout=2)
    event = samples.finished("rolled_back")
    try:
        first = await publisher.deliver(samples.first(event))
        again = await publisher.deliver(samples.first(event, attempt=2))  # e.g. the ack was lost, or a crash
    finally:
        await publisher.close()

    assert first == {"stream": name, "seq": 1, "duplicate": False}
    assert again == {"stream": name, "seq": 1, "duplicate": True}
    [message] = await _messages(nats_url, name)
    assert message.subject == f"{prefix}.run.rolled_back"
    assert message.headers["Nats-Msg-Id"] == event.id
    assert CloudEvent.from_json(message.data) == event


async def test_the_stream_is_created_once_and_takes_every_type(nats_url: str, stream: tuple[str, str]) -> None:
    name, prefix = stream
    one = NatsSubscriber(url=nats_url, stream=name, subject_prefix=prefix, timeout=2)
    other = NatsSubscriber(url=nats_url, stream=name, subject_prefix=prefix, timeout=2)  # another replica
    try:
        await one.deliver(samples.first(samples.planned()))
        await other.deliver(samples.first(samples.phase_started()))
        await one.deliver(samples.first(samples.finished("failed")))
    finally:
        await one.close()
        await other.close()
    subjects = [m.subject for m in await _messages(nats_url, name)]
    assert subjects == [f"{prefix}.task.planned", f"{prefix}.run.phase.started", f"{prefix}.task.failed"]
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(name)
    finally:
        await client.close()
    assert info.config.subjects == [f"{prefix}.>"] and info.config.duplicate_window == 3600


def test_wants_every_public_event_and_nothing_for_fronts_only() -> None:
    publisher = NatsSubscriber(url="nats://127.0.0.1:4222")
    assert publisher.wants(samples.finished()) and publisher.wants(samples.audit_appended())
    assert not publisher.wants(samples.ask_answered())
    assert publisher.subject(samples.phase_started()) == "opspilot.run.phase.started"


async def test_no_server_is_a_failed_delivery_to_retry() -> None:
    publisher = NatsSubscriber(url=f"nats://user:pw@127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(DeliveryFailed, match="cannot connect") as caught:
        await publisher.deliver(samples.first(samples.finished()))
    await publisher.close()
    assert "pw" not in str(caught.value) and "user" not in str(caught.value)


# -- a server that goes away -----------------------------------------------------------------


class NatsServer:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if _reachable(self.url):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[NatsServer]:
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not on PATH, so no server can be stopped and started again here")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_server_that_goes_away_fails_deliveries_until_it_is_back(own_server: NatsServer) -> None:
    publisher = NatsSubscriber(url=own_server.url, stream="OPSPILOT", subject_prefix="opspilot", timeout=0.5)
    before, during, after = samples.planned(), samples.phase_started(), samples.finished()
    try:
        assert (await publisher.deliver(samples.first(before)))["seq"] == 1
        own_server.stop()
        with pytest.raises(DeliveryFailed):
            await publisher.deliver(samples.first(during))
        own_server.start()  # same port and store
        result = None
        for attempt in range(2, 40):  # what the dispatcher does: retry with backoff until it goes through
            try:
                result = await publisher.deliver(samples.first(during, attempt))
                break
            except DeliveryFailed:
                await asyncio.sleep(0.25)
        assert result is not None
        await publisher.deliver(samples.first(after))
    finally:
        await publisher.close()
    stored = await _messages(own_server.url, "OPSPILOT")
    # the publish cut off by the outage may have been buffered and flushed on reconnect; the msg id keeps it single
    assert [m.headers["Nats-Msg-Id"] for m in stored] == [before.id, during.id, after.id]
