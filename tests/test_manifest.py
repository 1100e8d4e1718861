"""manifest.yml asks Slack for exactly what the bot listens to and calls."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


def test_manifest_declares_the_ops_command_and_interactivity_on_the_events_url() -> None:
    commands = MANIFEST["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/ops"]
    urls = {
        commands[0]["url"],
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_subscribes_to_the_events_the_bot_handles_and_has_the_scopes_it_needs() -> None:
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "app_home_opened"}
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands"} <= scopes
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


# -- scopes: exactly what the bot's Web API calls and event subscriptions need ---------------

# Slack's documented bot scope(s) per Web API method; None: the method needs no scope.
# A method the bot calls that is missing here fails the test, so the table stays honest.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "views.open": frozenset(),
    "views.push": frozenset(),
    "views.update": frozenset(),
    "views.publish": frozenset(),
    "users.info": frozenset({"users:read"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "conversations.open": frozenset({"im:write"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "reactions.add": frozenset({"reactions:write"}),
    "files.upload": frozenset({"files:write"}),
    "files.uploadV2": frozenset({"files:write"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
}
RETRY_CHECK_METHODS = frozenset({"conversations.history", "conversations.replies"})
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_mention": frozenset({"app_mentions:read"}),
    "app_home_opened": frozenset(),
}
NOT_WEB_API = {"response_url"}  # the emulator also records posts to response URLs; they need no scope


async def _drive_the_whole_loop(tmp_path: Path) -> set[str]:
    """Ask, refuse, approve and run to completion, reject with the modal, App Home, pause/resume/abort."""
    from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, OUTSIDER, REQUESTER
    from tests.bot.conftest import start_world

    def buttons(message) -> dict[str, dict]:
        return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}

    world = await start_world(tmp_path)
    emu = world.emulator
    try:

        async def new_card(ask: str, *, mention: bool = False):
            seen = {m.ts for m in emu.messages(OPS_CHANNEL)}
            if mention:
                await emu.send_message(REQUESTER, OPS_CHANNEL, f"<@{emu.bot_user_id}> {ask}")
            else:
                await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ask)
            return await emu.wait_for(
                lambda: next(
                    (m for m in emu.messages(OPS_CHANNEL) if m.ts not in seen and "plan_approve" in buttons(m)),
                    None,
                ),
                timeout=15,
            )

        await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "help")
        await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod cache servers")

        # Approve (after an outsider is refused) and run to completion.
        card = await new_card("fix drift on prod web servers")
        await emu.click_button(OUTSIDER, OPS_CHANNEL, card.ts, "plan_approve")
        await emu.wait_for(lambda: next((m for m in emu.ephemerals(OUTSIDER) if "not allowed" in m.text), None))
        await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
        await emu.wait_for(
            lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30
        )

        # Reject with the reason modal.
        card = await new_card("fix drift on staging web servers", mention=True)
        await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "plan_reject")
        modal = await emu.wait_for(lambda: emu.open_modal(APPROVER_2))
        await emu.submit_view(APPROVER_2, modal["id"], {"reason_input": "freeze"})
        await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and not buttons(m) and m)

        # Run control: pause, resume, then abort a second run.
        world.service.executor.wait_scale = 1000.0
        for action in ("run_pause", "run_abort"):
            card = await new_card("fix drift on staging web servers")
            await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
            await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "run_pause" in buttons(m) and m)
            # A queued run refuses a pause: wait until it executes (its first phase started in the thread).
            await emu.wait_for(lambda: any("Phase 1/" in m.text for m in emu.thread(OPS_CHANNEL, card.ts)))
            await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, action)
            if action == "run_pause":
                paused = await emu.wait_for(
                    lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "run_resume" in buttons(m) and m
                )
                await emu.click_button(APPROVER_1, OPS_CHANNEL, paused.ts, "run_resume")
                await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "run_pause" in buttons(m) and m)
                await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "run_abort")
            # A run aborted while still queued ends "failed: aborted by …" (nothing to revert); a running one rolls back.
            await emu.wait_for(
                lambda: next(
                    (m for m in emu.thread(OPS_CHANNEL, card.ts) if "rolled back" in m.text or "aborted by" in m.text), None
                )
            )

        await emu.open_home(APPROVER_1)
        await emu.wait_for(lambda: emu.home_view(APPROVER_1))
        return {call.method for call in emu.calls} - NOT_WEB_API
    finally:
        await world.bot.stop()
        await world.emulator.stop()


async def test_manifest_asks_for_exactly_the_scopes_the_bot_uses(tmp_path: Path) -> None:
    # The Slack subscriber reads the channel or the thread before it repeats a post whose first attempt failed or was
    # cut by a crash (tests/bot/test_slack_delivery.py), so those methods count whether or not this drive retried.
    called = await _drive_the_whole_loop(tmp_path) | RETRY_CHECK_METHODS
    assert {"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.publish"} <= called, called
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add the documented scope of {sorted(unknown)} to METHOD_SCOPES"

    needed = set().union(*(METHOD_SCOPES[m] for m in called))
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    needed |= set().union(*(EVENT_SCOPES[e] for e in events))
    if MANIFEST["features"].get("slash_commands"):
        needed.add("commands")
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert not needed - scopes, f"manifest.yml lacks {sorted(needed - scopes)}"
    assert not scopes - needed, f"manifest.yml asks for {sorted(scopes - needed)}, which nothing the bot does needs"
