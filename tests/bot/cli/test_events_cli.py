"""``opspilot events dead-letters [--json]`` and ``opspilot events redeliver ID`` against a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.errors import DeliveryRejected
from core.intake import Ask
from core.outbox import CloudEvent, Delivery, Subscriber
from core.service import OpsPilot

ROOT = Path(__file__).resolve().parents[3]


class Refusing(Subscriber):
    name = "refusing"

    def __init__(self) -> None:
        self.accept = False
        self.seen: list[str] = []

    def wants(self, event: CloudEvent) -> bool:
        return event.type == "task.planned"

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        self.seen.append(delivery.event.id)
        if not self.accept:
            raise DeliveryRejected("HTTP 410 Gone from the receiver")
        return None


def cli(config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "events", *args],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": config.database_url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


async def test_a_dead_letter_is_listed_and_sent_again_by_id(config) -> None:
    service = await OpsPilot.create(config)
    refusing = Refusing()
    service.outbox.register(refusing)
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    await service.dispatcher.run_until_idle()
    assert len(refusing.seen) == 1

    listed = cli(config, "dead-letters", "--json")
    assert listed.returncode == 0, listed.stderr
    (letter,) = json.loads(listed.stdout)
    assert letter["type"] == "task.planned" and letter["subscriber"] == "refusing"
    assert letter["attempts"] == 1 and "410" in letter["error"] and letter["subject"] == outcome.plan.id
    text = cli(config, "dead-letters")
    assert "1 dead letter(s)" in text.stdout and "task.planned" in text.stdout

    again = cli(config, "redeliver", str(letter["id"]))
    assert again.returncode == 0, again.stderr
    assert "requeued task.planned to refusing" in again.stdout
    refusing.accept = True
    await service.dispatcher.run_until_idle()
    assert refusing.seen == [letter["event_id"], letter["event_id"]]
    assert json.loads(cli(config, "dead-letters", "--json").stdout) == []
    audit = [e.event for e in await service.store.audit_entries([outcome.plan.id])]
    assert "notification.dead_lettered" in audit
    await service.close()


async def test_redeliver_says_what_was_wrong_and_changes_nothing(config) -> None:
    service = await OpsPilot.create(config)
    await service.close()
    missing = cli(config, "redeliver", "12345")
    assert missing.returncode == 1 and "no dead letter 12345" in missing.stderr
    malformed = cli(config, "redeliver", "'; drop table outbox_events; --")
    assert malformed.returncode == 2 and "is not a delivery id or an event id" in malformed.stderr
    empty = cli(config, "dead-letters")
    assert empty.returncode == 0 and "no dead letters" in empty.stdout
