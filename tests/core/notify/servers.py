"""Real peers on loopback for the outbox subscribers: an aiosmtpd SMTP server (plain, STARTTLS or implicit TLS
with a certificate made here, refusing chosen recipients) and an aiohttp webhook receiver that can be told to
answer with a status, hang, hang up or answer slowly."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .conftest import free_port

SMTP_USER, SMTP_PASSWORD = "opspilot", "s3cret-smtp-pw"


# -- a certificate for 127.0.0.1 -------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only (and checks the host name, as production does)."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost: with ``cryptography`` when it is installed, else
    with the ``openssl`` command."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            raise RuntimeError("neither cryptography nor openssl is available to make a test certificate") from None
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
                *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
    return Certificate(cert, key)


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


# -- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool  # the conversation was encrypted when the mail arrived


@dataclass
class SmtpRecorder:
    """Records accepted mail; ``refuse`` maps an address to the reply its RCPT gets (e.g. "550 5.1.1 unknown");
    ``answers`` are DATA replies to give first."""

    host: str = "127.0.0.1"
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            if self.answers:
                return self.answers.pop(0)
            message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
            tls = server.transport.get_extra_info("ssl_object") is not None
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, tls))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((user, password))
            return AuthResult(success=(user, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(mode: str = "none", certificate: Certificate | None = None) -> Iterator[SmtpRecorder]:
    """``mode``: none (plain SMTP), starttls (offered and required before AUTH/MAIL) or implicit (TLS from the start)."""
    recorder = SmtpRecorder(port=free_port())
    options: dict = {"authenticator": recorder.authenticate, "auth_required": False}
    if mode == "starttls":
        assert certificate is not None
        options.update(tls_context=certificate.server_context(), require_starttls=True, auth_require_tls=True)
    elif mode == "implicit":
        assert certificate is not None
        options.update(ssl_context=certificate.server_context(), auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    controller = Controller(recorder, hostname=recorder.host, port=recorder.port, **options)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


# -- webhooks --------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookServer:
    """Records every request; ``plan`` holds what to do for the next requests, then it answers 200:
    ("status", code, headers), ("hang",), ("close",) or ("slow", seconds)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    plan: list[tuple] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Received(request.path_qs, dict(request.headers), await request.read()))
        action = self.plan.pop(0) if self.plan else ("status", 200, {})
        if action[0] == "hang":
            await asyncio.sleep(3600)
        if action[0] == "close":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.1)
            return web.Response(status=200)
        if action[0] == "slow":
            await asyncio.sleep(action[1])
            return web.json_response({"ok": True})
        _, status, headers = action
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "not now")


@asynccontextmanager
async def hook_server() -> AsyncIterator[HookServer]:
    server = HookServer()
    app = web.Application()
    app.router.add_post("/hooks/{name}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}/hooks/token-in-path"
    try:
        yield server
    finally:
        await runner.cleanup()
