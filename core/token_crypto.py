"""Slack tokens sealed at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the key from ``OPSPILOT_TOKEN_KEY``.

The variable holds one Fernet key (32 url-safe base64-encoded bytes), or several separated by commas for a key
rotation: the first key seals everything written from now on, every key opens what was sealed before.
Make a key with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError, SealedTokenUnreadable

KEY_VARIABLE = "OPSPILOT_TOKEN_KEY"
MAKE_A_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class TokenCipher:
    """Seals and opens tokens. ``from_key`` refuses a malformed key with a ConfigError that says how to make one."""

    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_key(cls, key: str) -> TokenCipher:
        parts = [part.strip() for part in key.split(",") if part.strip()]
        if not parts:
            raise ConfigError(f"{KEY_VARIABLE} is empty; make a key with: {MAKE_A_KEY}")
        fernets = []
        for position, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                which = f"key {position} of {len(parts)} in {KEY_VARIABLE}" if len(parts) > 1 else KEY_VARIABLE
                raise ConfigError(
                    f"{which} is not a Fernet key (32 url-safe base64-encoded bytes, 44 characters); make one with: {MAKE_A_KEY}"
                ) from exc
        return cls(MultiFernet(fernets))

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SealedTokenUnreadable(
                f"a stored Slack token does not decrypt with {KEY_VARIABLE}: it was sealed with another key. Put the "
                f"old key back (after the new one, comma-separated), or install the app again from /slack/install"
            ) from exc
