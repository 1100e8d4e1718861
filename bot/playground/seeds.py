"""The seeded playground workspace: team, bot identity, people and channels."""

from __future__ import annotations

from bot.playground.records import SeedChannel, SeedUser

TEAM_ID = "T0PLAYGRND"
TEAM_DOMAIN = "playground"
TEAM_NAME = "Playground"
# A second workspace, for OAuth mode (an install per workspace): its own id and name, the same people and channels.
SECOND_TEAM_ID = "T0SECONDWS"
SECOND_TEAM_DOMAIN = "second"
SECOND_TEAM_NAME = "Second Workspace"
TEAMS: dict[str, tuple[str, str]] = {TEAM_ID: (TEAM_NAME, TEAM_DOMAIN), SECOND_TEAM_ID: (SECOND_TEAM_NAME, SECOND_TEAM_DOMAIN)}
APP_ID = "A0OPSPILOT"
BOT_ID = "B0OPSPILOT"
BOT_USER_ID = "U0OPSPILOT"
BOT_NAME = "OpsPilot"
SLACKBOT_USER_ID = "USLACKBOT"

REQUESTER = "U0REQUESTER"
APPROVER_1 = "U0APPROVER1"
APPROVER_2 = "U0APPROVER2"
OUTSIDER = "U0OUTSIDER"

OPS_CHANNEL = "C0OPS"
PROD_CHANGES_CHANNEL = "C0PRODCHG"
SANDBOX_CHANNEL = "C0SANDBOX"

APPROVERS_GROUP = "S0APPROVERS"

DEFAULT_USERS: tuple[SeedUser, ...] = (
    SeedUser(REQUESTER, "riley", "Riley Requester", email="riley@playground.test"),
    SeedUser(APPROVER_1, "avery", "Avery Approver", email="avery@playground.test"),
    SeedUser(APPROVER_2, "sam", "Sam Approver", email="sam@playground.test"),
    SeedUser(OUTSIDER, "olive", "Olive Outsider", email="olive@playground.test"),
)

BOT_USER = SeedUser(BOT_USER_ID, "opspilot", BOT_NAME, is_bot=True)
SLACKBOT_USER = SeedUser(SLACKBOT_USER_ID, "slackbot", "Slackbot", is_bot=True)

DEFAULT_CHANNELS: tuple[SeedChannel, ...] = (
    SeedChannel(OPS_CHANNEL, "ops"),
    SeedChannel(PROD_CHANGES_CHANNEL, "prod-changes"),
    SeedChannel(SANDBOX_CHANNEL, "sandbox"),
)

DEFAULT_USERGROUPS: dict[str, tuple[str, ...]] = {
    APPROVERS_GROUP: (APPROVER_1, APPROVER_2),
}


def dm_channel_id(user_id: str) -> str:
    """The id of the direct-message channel between `user_id` and the bot."""
    return "D" + user_id[1:]
