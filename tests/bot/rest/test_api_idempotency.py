"""``Idempotency-Key`` on POSTs: the same request twice is one task and one answer; another body is a 409."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.rest.idempotency import body_hash, token_scope
from core.intake.idempotency import IdempotencyKeys
from core.store.tables import tasks
from tests.bot.rest.support import API, APPROVER_TOKEN, REQUESTER_TOKEN, ApiWorld

ASK = "fix drift on prod web servers"


async def task_count(api: ApiWorld) -> int:
    async with api.service.store.database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(tasks))).scalar() or 0)


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_two_posts_with_one_key_are_one_task_and_the_same_answer(api: ApiWorld) -> None:
    first = await api.call("POST", f"{API}/execute", json={"intent": ASK, "dry_run": False}, headers=keyed("ask-0001"))
    again = await api.call("POST", f"{API}/execute", json={"intent": ASK, "dry_run": False}, headers=keyed("ask-0001"))
    assert first.status == again.status == 201, (first.body, again.body)
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert await task_count(api) == 1

    # Key order and white space are not a different body.
    reordered = await api.call(
        "POST",
        f"{API}/execute",
        data=f'{{ "dry_run": false,  "intent": "{ASK}" }}',
        headers={**keyed("ask-0001"), "Content-Type": "application/json"},
    )
    assert reordered.status == 201 and reordered.body == first.body
    assert await task_count(api) == 1


async def test_the_same_key_with_another_body_is_a_conflict_that_changes_nothing(api: ApiWorld) -> None:
    assert (await api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed("k-2"))).status == 201
    other = await api.call("POST", f"{API}/execute", json={"intent": "patch staging api servers"}, headers=keyed("k-2"))
    assert other.status == 409
    assert other.body["error"]["code"] == "idempotency_key_reused"
    assert "different body" in other.body["error"]["message"]
    assert await task_count(api) == 1


async def test_keys_are_per_token_and_per_route(api: ApiWorld) -> None:
    mine = await api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed("shared"))
    theirs = await api.call("POST", f"{API}/execute", APPROVER_TOKEN, json={"intent": ASK}, headers=keyed("shared"))
    assert mine.status == theirs.status == 201
    assert mine.body["task"]["id"] != theirs.body["task"]["id"]

    task_id = mine.body["task"]["id"]
    voted = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN, json={}, headers=keyed("vote-1"))
    repeat = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN, json={}, headers=keyed("vote-1"))
    assert voted.status == 200 and repeat.status == 200 and repeat.body == voted.body
    assert repeat.headers.get("Idempotent-Replayed") == "true"


async def test_a_refusal_is_replayed_too(api: ApiWorld) -> None:
    first = await api.call("POST", f"{API}/execute", json={"intent": ""}, headers=keyed("bad-1"))
    again = await api.call("POST", f"{API}/execute", json={"intent": ""}, headers=keyed("bad-1"))
    assert first.status == again.status == 422 and again.body == first.body


async def test_a_key_whose_first_request_is_still_running_is_a_conflict(api: ApiWorld) -> None:
    class Fake:  # what token_scope reads of a request
        headers = {"Authorization": f"Bearer {REQUESTER_TOKEN}"}

    keys = IdempotencyKeys(api.service.store.database)
    body = b'{"intent": "fix drift on prod web servers"}'
    assert (await keys.begin(token_scope(Fake()), f"POST {API}/execute", "busy-1", body_hash(body))).verdict == "run"
    answer = await api.call("POST", f"{API}/execute", data=body, headers={**keyed("busy-1"), "Content-Type": "application/json"})
    assert answer.status == 409
    assert answer.body["error"]["code"] == "idempotency_key_in_progress"
    assert answer.headers["Retry-After"] == "1"
    assert await task_count(api) == 0


async def test_concurrent_posts_with_one_key_run_once(api: ApiWorld) -> None:
    answers = await asyncio.gather(
        *(api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed("race-1")) for _ in range(4))
    )
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert await task_count(api) == 1


async def test_bad_keys_are_refused_with_a_reason(api: ApiWorld) -> None:
    too_long = await api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed("k" * 256))
    assert too_long.status == 400 and too_long.body["error"]["code"] == "bad_idempotency_key"
    assert "255" in too_long.body["error"]["message"]
    empty = await api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed(" "))
    assert empty.status == 400
    control = await api.call("POST", f"{API}/execute", json={"intent": ASK}, headers=keyed("a\tb"))
    assert control.status == 400 and "control" in control.body["error"]["message"]
    assert await task_count(api) == 0
