"""No input gets a 5xx: seeded fuzzing of ``/slack/events`` and the REST API over real HTTP on loopback.

Three classes of requests go to the real server (HTTP mode, Slack emulator, REST tokens), on SQLite and,
when OPSPILOT_TEST_POSTGRES_URL is set, on a fresh PostgreSQL database:

- signed Slack bodies: slash-command forms, ``payload=`` forms and JSON event bodies built from real shapes
  and then broken (keys dropped, values swapped for random JSON, NULs, lone surrogates, deep nesting);
- unsigned garbage with bad headers (timestamps, signatures, charsets, bytes that are not UTF-8);
- REST calls with random methods, paths, path ids, tokens and bodies.

Every answer must be below 500, the unsigned and REST classes must change no row, and the log must
hold no traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from sqlalchemy import func, select
from yarl import URL

from bot.blocks import ABORT_ACTION, APPROVE_ACTION, PAUSE_ACTION, REASON_ACTION, REASON_BLOCK, REJECT_ACTION, REJECT_VIEW
from bot.playground.emulator import APPROVER_1, REQUESTER
from core.store import tables
from tests.bot.conftest import SIGNING_SECRET, SlackWorld, start_world
from tests.bot.rest.support import API, APPROVER_TOKEN, OUTSIDER_TOKEN, REQUESTER_TOKEN, TOKENS
from tests.support.postgres import POSTGRES_URL, create_database, drop_database

SEED = 20240808
SIGNED_REQUESTS = 1200
UNSIGNED_REQUESTS = 500
REST_REQUESTS = 1000
CONCURRENCY = 4


# -- a fresh world per test, on SQLite or PostgreSQL ---------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def fuzz_world(request, tmp_path: Path) -> AsyncIterator[SlackWorld]:
    env = {"OPSPILOT_API_TOKENS": TOKENS}
    name = None
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip(
                "the PostgreSQL variant needs OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
            )
        env["DATABASE_URL"], name = await create_database("opspilot_fuzz")
    world = await start_world(tmp_path, env=env)
    try:
        yield world
    finally:
        await world.bot.stop()
        await world.emulator.stop()
        if name:
            await drop_database(name)


async def row_counts(world: SlackWorld) -> dict[str, int]:
    async with world.service.store.database.engine.connect() as conn:
        return {
            t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (tables.tasks, tables.plans, tables.runs, tables.audit_log)
        }


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with_traceback = sorted({f"{r.name}: {r.getMessage()[:150]} ({r.exc_info[1]!r:.150})" for r in caplog.records if r.exc_info})
    assert with_traceback == [], "\n".join(with_traceback[:10])
    assert "Traceback" not in caplog.text


async def send_all(requests: list[Callable[[], Any]]) -> list[tuple[int, str]]:
    """Run the request coroutines a few at a time; each returns (status, what was sent)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(make: Callable[[], Any]) -> tuple[int, str]:
        async with gate:
            return await make()

    return await asyncio.gather(*(one(make) for make in requests))


# -- random values ---------------------------------------------------------------------------------------

WEIRD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "🔥" * 50,
    "help",
    "agents",
    "tools",
    "/ops",
    "null",
    "{",
    "payload",
    "%00",
    "\\u0000",
    "9" * 400,
    "fix drift on prod web servers\x00",
    "<script>",
    "\u202e\u2066",
]


def random_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(WEIRD_TEXT)
    if pick < 0.7:
        return "".join(chr(rng.randrange(0, 0x80)) for _ in range(rng.randrange(0, 30)))
    if pick < 0.9:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 30)))
    return "x" * rng.randrange(1000, 20_000)


def deep(rng: random.Random, levels: int | None = None) -> Any:
    levels = levels or rng.choice([40, 200, 600])  # deeper only as raw text: json.dumps recurses
    value: Any = rng.choice([1, "x", None])
    for _ in range(levels):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.45:
        return rng.choice([None, True, False, 0, -1, 10**30, 1.5, float("1e308"), random_text(rng), random_text(rng)])
    if pick < 0.65:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if pick < 0.95:
        keys = [
            "type",
            "user",
            "id",
            "actions",
            "event",
            "view",
            "channel",
            "team",
            "text",
            "command",
            "value",
            "authorizations",
            "private_metadata",
            "state",
            "container",
            "trigger_id",
            "user_id",
            "challenge",
        ]
        return {rng.choice([*keys, random_text(rng)]): random_json(rng, depth + 1) for _ in range(rng.randrange(0, 5))}
    return deep(rng)


def mutate(rng: random.Random, value: Any, rounds: int | None = None) -> Any:
    """Break a well-formed payload a few times: drop a key, swap a value, wrap it, nest it deep."""
    value = json.loads(json.dumps(value))
    for _ in range(rounds if rounds is not None else rng.randrange(1, 4)):
        node, parent, key = value, None, None
        while isinstance(node, dict | list) and node and rng.random() < 0.7:
            parent, key = node, rng.choice(list(node) if isinstance(node, dict) else range(len(node)))
            node = node[key]
        if parent is None:
            continue
        action = rng.random()
        if action < 0.25 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.85:
            parent[key] = random_json(rng)
        elif action < 0.95:
            parent[key] = [node] if rng.random() < 0.5 else {"id": node}
        else:
            parent[key] = deep(rng)
    return value


# -- well-formed Slack shapes to start from --------------------------------------------------------------


def slash_fields(rng: random.Random, hooks: str = "http://127.0.0.1:9") -> dict[str, str]:
    return {
        "token": "x",
        "team_id": "T0PLAYGRND",
        "team_domain": "playground",
        "channel_id": "C0OPS",
        "channel_name": "ops",
        "user_id": REQUESTER,
        "user_name": "riley",
        "command": "/ops",
        "text": rng.choice(["help", "agents", "tools", ""]),
        "api_app_id": "A0OPSPILOT",
        "response_url": f"{hooks}/no-such-hook",
        "trigger_id": "1.2.3",
    }


def block_actions(rng: random.Random) -> dict:
    action = rng.choice([APPROVE_ACTION, REJECT_ACTION, PAUSE_ACTION, ABORT_ACTION])
    return {
        "type": "block_actions",
        "user": {"id": APPROVER_1, "team_id": "T0PLAYGRND"},
        "team": {"id": "T0PLAYGRND"},
        "channel": {"id": "C0OPS"},
        "container": {"type": "message", "channel_id": "C0OPS", "message_ts": "1.1"},
        "trigger_id": "1.2.3",
        "response_url": "http://127.0.0.1:9/never",
        "api_app_id": "A0OPSPILOT",
        "message": {"ts": "1.1", "text": "card", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "b",
                "value": f"plan-{rng.randrange(10**6)}",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    }


def view_submission(rng: random.Random) -> dict:
    return {
        "type": "view_submission",
        "user": {"id": APPROVER_1},
        "team": {"id": "T0PLAYGRND"},
        "trigger_id": "1.2.3",
        "view": {
            "id": "V1",
            "callback_id": REJECT_VIEW,
            "private_metadata": json.dumps({"plan_id": f"plan-{rng.randrange(10**6)}", "channel_id": "C0OPS"}),
            "state": {"values": {REASON_BLOCK: {REASON_ACTION: {"type": "plain_text_input", "value": "no"}}}},
        },
    }


def event_callback(rng: random.Random) -> dict:
    event = rng.choice(
        [
            {"type": "app_mention", "user": REQUESTER, "channel": "C0OPS", "text": "<@U0BOT> help", "ts": "1.1"},
            {"type": "app_home_opened", "user": REQUESTER, "tab": "home", "channel": "D0HOME"},
            {"type": "message", "user": REQUESTER, "channel": "C0OPS", "text": "hi", "ts": "1.2"},
        ]
    )
    return {
        "type": "event_callback",
        "token": "x",
        "team_id": "T0PLAYGRND",
        "api_app_id": "A0OPSPILOT",
        "event": event,
        "event_id": "Ev1",
        "event_time": 1,
        "authorizations": [{"team_id": "T0PLAYGRND", "user_id": "U0BOT", "is_bot": True, "is_enterprise_install": False}],
    }


def signed_body(rng: random.Random, hooks: str) -> tuple[bytes, str]:
    """One signed body and its Content-Type, of one of the shapes Slack sends, mostly broken."""
    kind = rng.randrange(8)
    form = "application/x-www-form-urlencoded"
    if kind == 0:  # slash command form with random or missing fields
        fields: dict[str, Any] = slash_fields(rng, hooks)
        for key in rng.sample(list(fields), rng.randrange(0, 4)):
            del fields[key]
        for key in rng.sample(list(fields), min(len(fields), rng.randrange(0, 3))):
            fields[key] = random_text(rng)
        pairs = list(fields.items()) + ([("command", random_text(rng))] if rng.random() < 0.2 else [])
        return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("utf-8", "surrogatepass"), form
    if kind in (1, 2, 3):  # payload= with a broken or random JSON structure
        shape = rng.choice([block_actions, view_submission])(rng)
        payload = rng.choice([mutate(rng, shape), mutate(rng, shape), random_json(rng), deep(rng)])
        text = json.dumps(payload) if rng.random() < 0.9 else rng.choice(["notjson", "[1,2", "1", "[]", '"s"', random_text(rng)])
        return urlencode({"payload": text}, errors="surrogatepass").encode(), form
    if kind in (4, 5):  # JSON event callbacks of random shapes
        payload = rng.choice([mutate(rng, event_callback(rng)), mutate(rng, event_callback(rng)), random_json(rng)])
        return json.dumps(payload).encode(), "application/json"
    if kind == 6:  # the special bodies
        payload = rng.choice(
            [
                {"type": "url_verification", "challenge": random_json(rng)},
                {"type": "url_verification"},
                {"ssl_check": rng.choice(["1", 1, None, [1]]), "token": "x"},
                {"command": [random_text(rng)], "user_id": "U1"},
                {"command": "/ops", "text": {"a": 1}, "user_id": REQUESTER, "channel_id": "C0OPS"},
                [1, 2],
                42,
                "text",
            ]
        )
        if rng.random() < 0.5:
            return urlencode(
                {"ssl_check": "1", "token": "x"} if payload == 42 else {"payload": json.dumps(payload)}
            ).encode(), form
        return json.dumps(payload).encode(), rng.choice(["application/json", form, "text/plain"])
    # raw bodies: not UTF-8, JSON-looking garbage, an unknown charset
    body = rng.choice(
        [
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
            b"{" * 3000,
            b"[" * 50_000,
            b"payload=%FF%FE",
            b"payload=" + b"%5B" * 5000,
            b"\xff\xfe{}",
            b'{"type": "\xc3\x28"}',
            b"",
        ]
    )
    content_type = rng.choice(
        [
            form,
            "application/json",
            "application/json; charset=no-such-charset",
            "application/x-www-form-urlencoded; charset=latin-1",
            "text/plain; charset=utf-8",
            "",
        ]
    )
    return body, content_type


def sign(body: bytes, timestamp: str | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


# -- the tests ---------------------------------------------------------------------------------------------


async def test_signed_slack_requests_of_any_shape_never_get_a_5xx(fuzz_world: SlackWorld, caplog) -> None:
    rng = random.Random(SEED)
    url = f"{fuzz_world.bot.url}/slack/events"
    hooks = fuzz_world.emulator.base_url  # a reachable response_url that answers 404

    async with aiohttp.ClientSession() as http:

        def request(body: bytes, content_type: str) -> Callable[[], Any]:
            async def go() -> tuple[int, str]:
                headers = {**sign(body), "Content-Type": content_type}
                async with http.post(url, data=body, headers=headers, skip_auto_headers=["Content-Type"]) as response:
                    await response.read()
                    return response.status, f"{content_type} {body[:120]!r}"

            return go

        answers = await send_all([request(*signed_body(rng, hooks)) for _ in range(SIGNED_REQUESTS)])

    server_errors = [sent for status, sent in answers if status >= 500]
    assert server_errors == [], f"{len(server_errors)} of {len(answers)} got a 5xx, e.g. {server_errors[:5]}"
    assert {status for status, _ in answers} & {200}, "some well-formed requests must still be served"
    assert {status for status, _ in answers} & {400}, "some broken requests must be refused"
    assert_no_traceback(caplog)


def unsigned_request(rng: random.Random, host: str) -> bytes:
    """Raw HTTP/1.1 bytes, so the headers may hold anything a client could put on the wire."""
    body = rng.choice(
        [
            json.dumps(event_callback(rng)).encode(),
            urlencode(slash_fields(rng)).encode(),
            bytes(rng.randrange(256) for _ in range(rng.randrange(0, 100))),
            b"\xff\xfe\xfd",
            b"[" * 5000,
            b"payload=notjson",
            b"",
        ]
    )
    now = int(time.time())
    timestamp = rng.choice(
        [
            None,
            "",
            "abc",
            "9" * 5000,
            "-1",
            " 12",
            "1e9",
            "0x10",
            "１２３",
            str(now - 400),
            str(now),
            str(now + 10**12),
            "\xff",
            "12\x00",
        ]
    )
    valid = sign(body, str(now))["X-Slack-Signature"]
    signature = rng.choice([None, "", "v0=", "v1=abc", "v0=" + "0" * 64, "v0=" + "é" * 64, valid + "x", "x" * 5000, valid[:-1]])
    content_type = rng.choice(
        [
            None,
            "application/x-www-form-urlencoded",
            "application/json",
            "application/json; charset=no-such-charset",
            "text/plain; charset=latin-1",
            ";;;=",
            "application/x-www-form-urlencoded; charset=\xff",
        ]
    )
    lines = [
        b"POST /slack/events HTTP/1.1",
        f"Host: {host}".encode(),
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
    ]
    for name, value in (
        ("X-Slack-Request-Timestamp", timestamp),
        ("X-Slack-Signature", signature),
        ("Content-Type", content_type),
    ):
        if value is not None:
            lines.append(name.encode() + b": " + value.encode("utf-8", "surrogateescape"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def raw_status(host: str, port: int, raw: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()
        await writer.wait_closed()


async def test_unsigned_garbage_with_bad_headers_gets_a_4xx_and_changes_nothing(fuzz_world: SlackWorld, caplog) -> None:
    rng = random.Random(SEED + 1)
    url = URL(fuzz_world.bot.url)
    before = await row_counts(fuzz_world)

    def request(raw: bytes) -> Callable[[], Any]:
        async def go() -> tuple[int, str]:
            return await raw_status(url.host, url.port, raw), repr(raw[:300])

        return go

    answers = await send_all([request(unsigned_request(rng, url.host)) for _ in range(UNSIGNED_REQUESTS)])

    not_refused = [(status, sent) for status, sent in answers if not 400 <= status < 500]
    assert not_refused == [], f"{len(not_refused)} of {len(answers)} were not refused with a 4xx, e.g. {not_refused[:3]}"
    assert await row_counts(fuzz_world) == before
    assert [c for c in fuzz_world.emulator.calls if c.method.startswith(("chat.", "views."))] == []
    assert_no_traceback(caplog)


def rest_request(rng: random.Random) -> tuple[str, str, str | None, bytes | None, str | None]:
    """(method, encoded path, token, body, content type): random routes, ids, tokens and bodies."""
    ident = rng.choice(
        [
            "task-1",
            "%00",
            "a%00b",
            "%C3%28",
            "%FF",
            "..%2F..%2Fetc",
            "x" * 2000,
            "%F0%9F%94%A5",
            quote(random_text(rng)[:400], safe="", errors="surrogatepass") or "x",
            "%ED%A0%80",
        ]
    )
    path = rng.choice(
        [
            "/execute",
            "/tasks",
            f"/tasks/{ident}",
            f"/tasks/{ident}/approve",
            f"/tasks/{ident}/reject",
            f"/tasks/{ident}/executions",
            f"/tasks/{ident}/audit",
            f"/executions/{ident}",
            f"/executions/{ident}/{rng.choice(['pause', 'resume', 'cancel', 'explode'])}",
            "/agents",
            "/tools",
            f"/{ident}",
            f"/tasks?state={ident}&limit={rng.choice(['0', '-1', '20', 'x', '%00', '9' * 40])}",
        ]
    )
    method = rng.choice(["GET", "POST", "POST", "PUT", "DELETE"])
    token = rng.choice([REQUESTER_TOKEN, APPROVER_TOKEN, OUTSIDER_TOKEN, REQUESTER_TOKEN, None, "x" * 40])
    body: bytes | None = None
    content_type = rng.choice(["application/json", "application/json; charset=no-such-charset", "text/plain", None])
    if method in ("POST", "PUT"):
        value = rng.choice(
            [
                {"intent": random_text(rng) + "\x00"},
                {"intent": random_json(rng)},
                {"intent": "fix drift", "x": 1},
                {"reason": random_text(rng) + "\x00"},
                {"reason": "\ud800"},
                {"reason": deep(rng, 40)},
                {"intent": "fix drift on prod web servers", "dry_run": "yes"},
                random_json(rng),
                deep(rng),
                [],
                7,
            ]
        )
        if (
            isinstance(value, dict)
            and set(value) <= {"intent", "dry_run"}
            and isinstance(value.get("intent"), str)
            and "\x00" not in value["intent"]
        ):
            value["unexpected"] = True  # stays malformed, so no ask can be stored
        body = rng.choice(
            [
                json.dumps(value).encode(),
                json.dumps(value).encode(),
                b"[" * 30_000,
                b'{"intent": "\xff"}',
                b"\x00",
                b'{"reason": "a\\u0000b"}',
                b'{"intent": "\\udc80 fix"}',
                bytes(rng.randrange(256) for _ in range(50)),
            ]
        )
    return method, path, token, body, content_type


async def test_rest_calls_with_random_paths_ids_and_bodies_get_a_4xx_and_change_nothing(fuzz_world: SlackWorld, caplog) -> None:
    rng = random.Random(SEED + 2)
    before = await row_counts(fuzz_world)

    async with aiohttp.ClientSession() as http:

        def request(method: str, path: str, token: str | None, body: bytes | None, content_type: str | None):
            async def go() -> tuple[int, str]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if content_type:
                    headers["Content-Type"] = content_type
                target = URL(f"{fuzz_world.bot.url}{API}{path}", encoded=True)
                async with http.request(method, target, data=body, headers=headers) as response:
                    text = await response.text(errors="replace")
                    sent = f"{method} {path[:100]} {body[:100] if body else None!r}"
                    if response.status >= 400:
                        try:
                            error = json.loads(text)["error"]  # every refusal in the API's error shape
                        except (ValueError, KeyError, TypeError):
                            raise AssertionError(f"{response.status} {text[:200]!r} for {sent}") from None
                        assert error["code"] and error["message"], text
                    return response.status, sent

            return go

        answers = await send_all([request(*rest_request(rng)) for _ in range(REST_REQUESTS)])

    server_errors = [sent for status, sent in answers if status >= 500]
    assert server_errors == [], f"{len(server_errors)} of {len(answers)} got a 5xx, e.g. {server_errors[:5]}"
    assert await row_counts(fuzz_world) == before
    assert_no_traceback(caplog)


REST_BAD_BODIES = {
    "nested-30000-deep": b"[" * 30_000,
    "nested-50-deep-in-a-field": b'{"intent": ' + b"[" * 50 + b"]" * 50 + b"}",
    "nul-in-a-string": b'{"intent": "a\\u0000b"}',
    "lone-surrogate": b'{"reason": "\\ud800"}',
}
REST_NUL_PATHS = [
    ("GET", "/tasks/a%00b"),
    ("GET", "/executions/%00"),
    ("POST", "/tasks/%00/approve"),
    ("POST", "/executions/x%00/cancel"),
    ("GET", "/tasks/%00/audit"),
]


async def test_rest_body_too_deep_or_with_nul_and_path_ids_with_nul_get_400_bad_request(fuzz_world: SlackWorld, caplog) -> None:
    auth = {"Authorization": f"Bearer {APPROVER_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for case, body in REST_BAD_BODIES.items():
            async with http.post(
                f"{fuzz_world.bot.url}{API}/execute", data=body, headers={**auth, "Content-Type": "application/json"}
            ) as r:
                assert r.status == 400, case
                assert (await r.json())["error"]["code"] == "bad_request", case
        for method, path in REST_NUL_PATHS:
            async with http.request(method, URL(f"{fuzz_world.bot.url}{API}{path}", encoded=True), headers=auth) as r:
                assert r.status == 400, path
                assert (await r.json())["error"]["code"] == "bad_request", path
    assert await row_counts(fuzz_world) == {"tasks": 0, "plans": 0, "runs": 0, "audit_log": 0}
    assert_no_traceback(caplog)


FORM = "application/x-www-form-urlencoded"
UNSIGNED_BAD = {  # (timestamp or None for now, body, content type); every one has a made-up signature
    "timestamp-not-digits": ("abc", b"command=%2Fops", FORM),
    "timestamp-5000-digits": ("9" * 5000, b"command=%2Fops", FORM),
    "body-not-utf8": (None, b"\xff\xfe payload", FORM),
    "unknown-charset": (None, b"command=%2Fops", f"{FORM}; charset=no-such"),
}


async def test_unsigned_bad_timestamps_bytes_or_charsets_get_4xx_with_a_reason_and_no_traceback(
    fuzz_world: SlackWorld, caplog
) -> None:
    async with aiohttp.ClientSession() as http:
        for case, (timestamp, body, content_type) in UNSIGNED_BAD.items():
            headers = {
                "X-Slack-Request-Timestamp": timestamp or str(int(time.time())),
                "X-Slack-Signature": "v0=" + "0" * 64,
                "Content-Type": content_type,
            }
            async with http.post(f"{fuzz_world.bot.url}/slack/events", data=body, headers=headers) as r:
                assert 400 <= r.status < 500, case
                assert (await r.json())["error"], case
    assert await row_counts(fuzz_world) == {"tasks": 0, "plans": 0, "runs": 0, "audit_log": 0}
    assert_no_traceback(caplog)


SIGNED_MALFORMED = {  # body, content type
    "payload-not-json": (b"payload=notjson", FORM),
    "payload-a-list": (b"payload=%5B1%2C2%5D", FORM),
    "json-list": (b"[1, 2]", "application/json"),
    "json-number": (b"42", "application/json"),
    "huge-nesting": (b"[" * 50_000, "application/json"),
    "command-a-list": (b'{"command": ["/ops"], "user_id": "U1", "channel_id": "C1"}', "application/json"),
    "no-actions": (b'{"type": "block_actions", "user": {"id": "U1"}, "actions": []}', "application/json"),
    "event-a-string": (b'{"type": "event_callback", "event": "app_mention"}', "application/json"),
    "nul-in-text": (
        b'{"command": "/ops", "text": "a\\u0000b", "user_id": "U1", "channel_id": "C1", "response_url": "http://127.0.0.1:9/x"}',
        "application/json",
    ),
    "not-utf8": (b"\xff\xfe", "application/json"),
    "other-charset": (b"{}", "application/json; charset=latin-1"),
}


async def test_signed_malformed_bodies_get_4xx_with_a_reason(fuzz_world: SlackWorld, caplog) -> None:
    async with aiohttp.ClientSession() as http:
        for case, (body, content_type) in SIGNED_MALFORMED.items():
            headers = {**sign(body), "Content-Type": content_type}
            async with http.post(f"{fuzz_world.bot.url}/slack/events", data=body, headers=headers) as r:
                assert 400 <= r.status < 500, case
                assert (await r.json())["error"], case
    assert await row_counts(fuzz_world) == {"tasks": 0, "plans": 0, "runs": 0, "audit_log": 0}
    assert_no_traceback(caplog)


async def test_signed_ssl_check_and_url_verification_still_work(fuzz_world: SlackWorld) -> None:
    async with aiohttp.ClientSession() as http:
        body = b"ssl_check=1&token=x"
        async with http.post(f"{fuzz_world.bot.url}/slack/events", data=body, headers={**sign(body), "Content-Type": FORM}) as r:
            assert r.status == 200
        body = b'{"type": "url_verification", "challenge": "c-123"}'
        async with http.post(
            f"{fuzz_world.bot.url}/slack/events", data=body, headers={**sign(body), "Content-Type": "application/json"}
        ) as r:
            assert r.status == 200
            assert "c-123" in await r.text()
