"""Bearer tokens of the REST API: ``OPSPILOT_API_TOKENS="token=U0APPROVER1,token=U0REQUESTER"``.

A token may name its workspace too (``token=U0APPROVER1@T0123ABCD``): with OpsPilot installed in many workspaces
(OAuth mode) the token then sees and acts on that workspace's tasks only, and every token must name one.

Each token acts as the Slack user ID it maps to, so the approver list and the audit log treat an API
call exactly like a click by that person. Tokens come from the environment only, are compared in
constant time (``hmac.compare_digest``) and are never logged or echoed: error messages name the
position of a bad entry, never its text.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from pydantic import SecretStr

from core.errors import ConfigError

ENV_NAME = "OPSPILOT_API_TOKENS"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class TokenTable:
    """Token → user ID; empty when ``OPSPILOT_API_TOKENS`` is not set (the API then stays closed)."""

    _entries: tuple[tuple[bytes, str], ...] = field(default=(), repr=False)

    @property
    def configured(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def user_for(self, token: str) -> str | None:
        """The user the token acts as, or None. Every entry is compared, so timing tells nothing."""
        found = self.identity_for(token)
        return found[0] if found is not None else None

    def identity_for(self, token: str) -> tuple[str, str | None] | None:
        """(user, workspace or None) the token acts as, or None."""
        try:
            offered = token.encode("utf-8")
        except UnicodeEncodeError:  # a header that was not UTF-8; it matches no token
            return None
        found = None
        for known, who in self._entries:
            if hmac.compare_digest(offered, known) and found is None:
                found = who
        if found is None:
            return None
        user, _, team = found.partition("@")
        return user, team or None

    def unscoped(self) -> list[str]:
        """The users of tokens that name no workspace (refused in OAuth mode)."""
        return [who for _, who in self._entries if "@" not in who]


def parse_tokens(raw: SecretStr | str | None) -> TokenTable:
    """Read ``token=USER_ID`` (or ``token=USER_ID@TEAM_ID``) pairs separated by commas; ConfigError (naming no
    token) when malformed."""
    text = raw.get_secret_value() if isinstance(raw, SecretStr) else (raw or "")
    entries: list[tuple[bytes, str]] = []
    for number, raw_item in enumerate(text.split(","), start=1):
        item = raw_item.strip()
        if not item:
            continue
        token, sep, user = item.rpartition("=")  # a token may end in base64 '=' padding; a user ID has none
        token, user = token.strip(), user.strip()
        if not sep or not token or not user:
            raise ConfigError(f'{ENV_NAME}: entry {number} is not token=USER_ID (e.g. {ENV_NAME}="<random>=U0APPROVER1")')
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{ENV_NAME}: the token of entry {number} (user {user}) is shorter than {MIN_TOKEN_CHARS} characters; "
                "use a random one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        encoded = token.encode("utf-8")
        if any(hmac.compare_digest(encoded, known) for known, _ in entries):
            raise ConfigError(
                f"{ENV_NAME}: entry {number} (user {user}) repeats a token given earlier; each token maps to one user"
            )
        entries.append((encoded, user))
    return TokenTable(tuple(entries))


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
