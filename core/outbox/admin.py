"""What ``opspilot events`` shows and does: the dead letters, and sending one again."""

from __future__ import annotations

import json

from core.config import Config
from core.outbox.dispatcher import DeadLetter, dead_letters, redeliver
from core.store import Database
from core.work.queue import WorkQueue


def letter_document(letter: DeadLetter) -> dict:
    return {
        "id": letter.id,
        "event_id": letter.event_id,
        "type": letter.type,
        "subscriber": letter.subscriber,
        "subject": letter.subject,
        "attempts": letter.attempt,
        "error": letter.last_error,
        "at": letter.at.isoformat(),
    }


async def dead_letter_report(config: Config, *, as_json: bool, limit: int = 200) -> tuple[int, str]:
    database = Database(config.database_url)
    try:
        letters = await dead_letters(database, limit=limit)
    finally:
        await database.dispose()
    if as_json:
        return 0, json.dumps([letter_document(letter) for letter in letters], indent=2)
    if not letters:
        return 0, "no dead letters: every delivery arrived or is still being retried"
    lines = [f"{len(letters)} dead letter(s), newest first (send one again: opspilot events redeliver ID)"]
    for letter in letters:
        lines.append(
            f"{letter.id:>6}  {letter.at:%Y-%m-%d %H:%M:%S}  {letter.type:<22} {letter.subscriber:<18} "
            f"attempts {letter.attempt}  event {letter.event_id}"
        )
        lines.append(f"        {(letter.last_error or '')[:300]}")
    return 0, "\n".join(lines)


async def redeliver_dead(config: Config, ident: str) -> tuple[int, str]:
    ident = ident.strip()
    if not ident or len(ident) > 64 or not ident.replace("-", "").isalnum():
        return 2, f"opspilot: {ident!r} is not a delivery id or an event id; `opspilot events dead-letters` lists them"
    database = Database(config.database_url)
    try:
        requeued = await redeliver(database, WorkQueue(database), ident)
    finally:
        await database.dispose()
    if not requeued:
        return 1, f"opspilot: no dead letter {ident}; `opspilot events dead-letters` lists them"
    names = ", ".join(f"{r.type} to {r.subscriber} (delivery {r.id})" for r in requeued)
    return 0, f"requeued {names}: a running worker sends it now"
