"""slack_sdk's ``AsyncOAuthStateStore`` over OpsPilot's database: the ``state`` of an OAuth install is issued by
``/slack/install`` and consumed at most once by the redirect, on whichever replica it lands.

A state is ``<nonce>.<signature>``: the signature (HMAC-SHA256 with ``SLACK_STATE_SECRET``) turns a forged or
mangled state away before the database is asked; the database (only the state's hash is stored) makes it single-use
and expiring.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from core.clock import SYSTEM_CLOCK, Clock
from core.store.installations import Installations

logger = logging.getLogger(__name__)

MAX_STATE_CHARS = 200


class OpsPilotStateStore(AsyncOAuthStateStore):
    def __init__(
        self, installations: Installations, secret: str, *, expiration_seconds: int = 600, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.installations = installations
        self._secret = secret.encode("utf-8")
        self.expiration_seconds = expiration_seconds
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        nonce = secrets.token_urlsafe(24)
        state = f"{nonce}.{self._sign(nonce)}"
        now = self.clock.now()
        await self.installations.issue_state(state, now + timedelta(seconds=self.expiration_seconds), now)
        return state

    async def async_consume(self, state: str) -> bool:
        if not isinstance(state, str) or len(state) > MAX_STATE_CHARS:
            return False
        nonce, _, signature = state.partition(".")
        if not nonce or not hmac.compare_digest(signature, self._sign(nonce)):
            logger.info("OAuth state refused: not signed with SLACK_STATE_SECRET")
            return False
        consumed = await self.installations.consume_state(state, self.clock.now())
        if not consumed:
            logger.info("OAuth state refused: unknown, expired or already used")
        return consumed

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
