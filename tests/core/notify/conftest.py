"""Real receivers on loopback: an aiosmtpd SMTP server and an aiohttp webhook endpoint that record
what arrives and can be told to answer badly first (451 / 500 / 429) to exercise retries."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.events import RunFinished
from core.notify import Notice, build_notice

SECRET = "whsec-test-0123456789"
SMTP_USER, SMTP_PASSWORD = "opspilot", "s3cret-smtp-pw"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    """Records every accepted message; ``answers`` are DATA replies to give first (e.g. "451 try later")."""

    host: str = "127.0.0.1"
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.attempts += 1
            if self.answers:
                return self.answers.pop(0)
            message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((user, password))
            return AuthResult(success=(user, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    recorder = SmtpServer()
    recorder.port = free_port()
    controller = Controller(
        recorder,
        hostname=recorder.host,
        port=recorder.port,
        authenticator=recorder.authenticate,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every request; ``answers`` are (status, headers) to give first, then 200."""

    url: str = ""
    requests: list[Delivery] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Delivery(request.path_qs, dict(request.headers), await request.read()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.answers:
            status, headers = self.answers.pop(0)
            return web.Response(status=status, headers=headers, text="not now")
        return web.json_response({"ok": True})


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/hooks/{name}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hooks/opspilot"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
async def rolled_back_notice() -> Notice:
    event = RunFinished(
        task_id="task-1",
        plan_id="plan-1",
        run_id="run-1",
        state="rolled_back",
        reason="Wave 1: rollback_if error_rate 9 > 5",
        assets_changed=4,
        assets_rolled_back=4,
        phases_completed=1,
        total_phases=3,
        duration_seconds=125.0,
    )
    notice = await build_notice(event)
    assert notice is not None
    return notice
