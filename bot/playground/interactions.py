"""Short-lived handles Slack gives apps along with a delivery: trigger ids and response URLs."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from bot.playground.ids import trigger_id


class InteractionError(Exception):
    """A Slack error code for a bad trigger id or response URL."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class Trigger:
    user: str
    issued_at: float


class TriggerRegistry:
    """Trigger ids open modals for the user who caused them, within `ttl` seconds, once."""

    def __init__(self, ttl: float = 3.0) -> None:
        self.ttl = ttl
        self._issued: dict[str, Trigger] = {}

    def issue(self, user: str) -> str:
        new_id = trigger_id()
        self._issued[new_id] = Trigger(user=user, issued_at=time.monotonic())
        return new_id

    def redeem(self, trigger: str) -> str:
        """The user the trigger belongs to; raises InteractionError like Slack would."""
        issued = self._issued.pop(trigger, None)
        if issued is None:
            raise InteractionError("invalid_trigger_id")
        if time.monotonic() - issued.issued_at > self.ttl:
            raise InteractionError("expired_trigger_id")
        return issued.user


@dataclass(frozen=True)
class ResponseTarget:
    """Where a response_url post lands: the user and channel, and the message it came from."""

    user: str
    channel: str
    message_ts: str | None = None
    is_ephemeral: bool = False
    thread_ts: str | None = None


class ResponseUrlRegistry:
    """Response URLs accept at most `max_uses` posts, as on Slack."""

    def __init__(self, max_uses: int = 5) -> None:
        self.max_uses = max_uses
        self._targets: dict[str, ResponseTarget] = {}
        self._uses: dict[str, int] = {}

    def issue(self, target: ResponseTarget) -> str:
        token = secrets.token_urlsafe(12)
        self._targets[token] = target
        self._uses[token] = 0
        return token

    def use(self, token: str) -> ResponseTarget:
        target = self._targets.get(token)
        if target is None:
            raise InteractionError("no_such_response_url")
        if self._uses[token] >= self.max_uses:
            raise InteractionError("used_url")
        self._uses[token] += 1
        return target
