"""slack_sdk's ``AsyncInstallationStore`` over OpsPilot's database (``core/store/installations.py``, reached through
``service.queries``). Tokens are sealed there; here they are only converted between slack_sdk's models and core rows.

A row that does not open with ``OPSPILOT_TOKEN_KEY`` is logged (without the token) and treated as absent: Bolt then
answers the workspace that OpsPilot must be installed again, instead of failing the request.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from core.errors import SealedTokenUnreadable
from core.store.installations import BotRow, InstallationRow, Installations

logger = logging.getLogger(__name__)


class OpsPilotInstallationStore(AsyncInstallationStore):
    def __init__(self, installations: Installations, client_id: str) -> None:
        self.installations = installations
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_save(self, installation: Installation) -> None:
        values = installation.to_dict_for_copying()
        values.pop("custom_values", None)
        row = InstallationRow.model_validate({**_secrets(values), "client_id": self.client_id})
        bot = None
        if installation.bot_token:
            bot = BotRow.model_validate({**_secrets(installation.to_bot().to_dict_for_copying()), "client_id": self.client_id})
        await self.installations.save(row, bot)
        logger.info("Slack installation saved for team %s (enterprise %s)", installation.team_id, installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        await self.installations.save_bot(
            BotRow.model_validate({**_secrets(bot.to_dict_for_copying()), "client_id": self.client_id})
        )

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        try:
            row = await self.installations.find_bot(
                self.client_id, enterprise_id, team_id, is_enterprise_install=bool(is_enterprise_install)
            )
        except SealedTokenUnreadable as exc:
            logger.error("the bot of team %s cannot be used: %s", team_id, exc)
            return None
        return Bot(**_plain(row.model_dump(exclude={"client_id"}))) if row is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        try:
            row = await self.installations.find_installation(
                self.client_id, enterprise_id, team_id, user_id, is_enterprise_install=bool(is_enterprise_install)
            )
            if row is None:
                return None
            values = _plain(row.model_dump(exclude={"client_id"}))
            if user_id is not None or not values.get("bot_token"):
                # The workspace's bot may be newer than this user's installation (another user installed since).
                bot = await self.installations.find_bot(
                    self.client_id, enterprise_id, team_id, is_enterprise_install=bool(is_enterprise_install)
                )
                if bot is not None:
                    values.update(_plain(bot.model_dump(include=set(BOT_FIELDS))))
        except SealedTokenUnreadable as exc:
            logger.error("the installation of team %s cannot be used: %s", team_id, exc)
            return None
        return Installation(**values)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.installations.delete_bot(self.client_id, enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self.installations.delete_installation(self.client_id, enterprise_id, team_id, user_id)


BOT_FIELDS = ("bot_token", "bot_id", "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at")


def _secrets(values: dict[str, Any]) -> dict[str, Any]:
    """slack_sdk's plain values → a core row's: tokens as SecretStr, ``installed_at`` aware."""
    out = {key: SecretStr(value) if _is_token(key) and value else value for key, value in values.items()}
    for key in ("installed_at", "bot_token_expires_at", "user_token_expires_at"):
        moment = out.get(key)
        if isinstance(moment, int | float):
            out[key] = datetime.fromtimestamp(moment, tz=UTC)
    return out


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in values.items()}


def _is_token(key: str) -> bool:
    return key.endswith(("_token", "_refresh_token")) or key == "incoming_webhook_url"
