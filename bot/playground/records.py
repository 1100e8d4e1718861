"""Records the emulator keeps and hands out: messages, API calls, deliveries, seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SeedUser:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    email: str | None = None


@dataclass(frozen=True)
class SeedChannel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None


@dataclass(frozen=True)
class RateLimit:
    """Per-channel message budget: `burst` at once, then `per_second` sustained."""

    per_second: float = 1.0
    burst: int = 3


@dataclass(frozen=True)
class Message:
    """One message as the workspace currently shows it.

    `thread_ts` is set on replies only; a parent carries `reply_count` instead.
    `raw` is the Slack-shaped JSON of the message.
    """

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reply_count: int = 0
    ephemeral_for: str | None = None
    edited: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    broadcast: bool = False  # a thread reply also sent to the channel (reply_broadcast)


@dataclass(frozen=True)
class ApiCall:
    """One Web API call (or response_url post, method "response_url") and its outcome."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None
    at: float
    team: str | None = None  # the workspace whose token made the call (OAuth: one token per installed workspace)


@dataclass(frozen=True)
class Delivery:
    """The bot's HTTP answer to something the emulator delivered."""

    status: int
    body: str | dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300
