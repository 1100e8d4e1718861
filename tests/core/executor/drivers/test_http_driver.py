"""The http driver beyond the contract: body and headers, retries under one key, status polling, refusals."""

from __future__ import annotations

import json
import time

import pytest

from core.errors import ConfigError, DriverError
from core.executor.drivers import idempotency_key
from core.executor.drivers.http import HttpDriver
from core.signing import sign, verify
from tests.core.executor.drivers.support import ASSET, CHANGE, RUN, SECRET, Receiver, apply_action, step_action

ENV = {"OPSPILOT_DRIVER_SECRET": SECRET}
KEY = idempotency_key(RUN, 0, ASSET.id, "apply")


@pytest.fixture
async def driver(receiver: Receiver):
    d = HttpDriver(receiver.url + "/actions", timeout=5, backoff=0.01, env=ENV)
    yield d
    await d.close()


async def test_the_body_and_headers_are_as_documented(receiver: Receiver, driver: HttpDriver) -> None:
    result = await driver.perform(apply_action(attempt=2))
    assert (result.previous, result.current, result.output) == ("1.0", "2.0", "deployed")
    (seen,) = receiver.seen
    assert seen.signed
    assert seen.headers["Idempotency-Key"] == KEY
    assert seen.headers["Content-Type"] == "application/json"
    assert abs(int(seen.headers["X-OpsPilot-Timestamp"]) - time.time()) < 60
    assert seen.headers["X-OpsPilot-Signature"] == sign(SECRET, seen.headers["X-OpsPilot-Timestamp"], seen.body)
    assert seen.json == {
        "action": "apply",
        "asset": {"id": ASSET.id, "address": "10.0.0.7", "image": "ubuntu-22.04", "tags": ["web", "prod"], "service": "nginx"},
        "change": CHANGE.model_dump(mode="json"),
        "from_version": "1.0",
        "to_version": "2.0",
        "step": None,
        "run_id": RUN,
        "phase": "canary",
        "phase_index": 0,
        "idempotency_key": KEY,
        "attempt": 2,
    }


async def test_a_step_is_posted_with_its_command(receiver: Receiver, driver: HttpDriver) -> None:
    await driver.perform(step_action("systemctl restart nginx"))
    body = receiver.seen[0].json
    assert (body["action"], body["asset"], body["change"]) == ("step", None, None)
    assert body["step"] == {"name": "drain", "command": "systemctl restart nginx"}
    assert body["phase_index"] == 1


@pytest.mark.parametrize("first", [(500, {"error": "busy"}), (429, {"error": "slow down"}), (503, b"<html>"), "close"])
async def test_a_transient_failure_is_retried_under_the_same_key(receiver: Receiver, driver: HttpDriver, first) -> None:
    receiver.answers = [first, first]
    result = await driver.perform(apply_action())
    assert result.current == "2.0"
    posts = receiver.posts()
    assert len(posts) == 3
    assert {p.headers["Idempotency-Key"] for p in posts} == {KEY}
    assert {p.json["attempt"] for p in posts} == {1}, "the body's attempt is the action's, not the retry count"
    assert len({p.body for p in posts}) == 1


async def test_a_client_error_is_not_retried(receiver: Receiver, driver: HttpDriver) -> None:
    receiver.answers = [(422, {"error": "no such asset"})]
    with pytest.raises(DriverError, match="HTTP 422") as caught:
        await driver.perform(apply_action())
    assert "no such asset" in caught.value.output
    assert len(receiver.posts()) == 1


async def test_retries_give_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.default = (500, {"error": "down"})
    driver = HttpDriver(receiver.url + "/actions", max_attempts=3, backoff=0.01, env=ENV)
    try:
        with pytest.raises(DriverError, match="gave up after 3 attempts: HTTP 500"):
            await driver.perform(apply_action())
    finally:
        await driver.close()
    assert len(receiver.posts()) == 3


async def test_a_receiver_that_says_failed_fails_the_action(receiver: Receiver, driver: HttpDriver) -> None:
    receiver.answers = [(200, {"status": "failed", "error": "health check failed", "output": "log tail"})]
    with pytest.raises(DriverError, match="health check failed") as caught:
        await driver.perform(apply_action())
    assert caught.value.output == "log tail"


async def test_the_status_url_is_polled_signed_until_done(receiver: Receiver) -> None:
    receiver.answers = [(202, {"status": "accepted"})]
    receiver.status_answers = [
        (200, {"status": "running"}),
        (503, {}),
        (200, {"status": "done", "previous": "1.0", "current": "2.0", "output": "ok"}),
    ]
    driver = HttpDriver(
        receiver.url + "/actions", status_url=receiver.url + "/status/{key}", backoff=0.01, poll_interval=0.01, env=ENV
    )
    try:
        result = await driver.perform(apply_action())
    finally:
        await driver.close()
    assert (result.previous, result.current, result.output) == ("1.0", "2.0", "ok")
    polls = [s for s in receiver.seen if s.method == "GET"]
    assert [p.path for p in polls] == [f"/status/{KEY}"] * 3
    assert all(p.signed and p.body == b"" and p.headers["Idempotency-Key"] == KEY for p in polls)


async def test_a_status_of_failed_fails_the_action(receiver: Receiver) -> None:
    receiver.answers = [(202, {"status": "accepted"})]
    receiver.status_answers = [(200, {"status": "failed", "error": "rollout aborted"})]
    driver = HttpDriver(receiver.url + "/actions", status_url=receiver.url + "/status/{key}", poll_interval=0.01, env=ENV)
    try:
        with pytest.raises(DriverError, match="rollout aborted"):
            await driver.perform(apply_action())
    finally:
        await driver.close()


def test_signatures_verify_only_with_the_right_secret_body_and_a_fresh_timestamp() -> None:
    body = json.dumps({"a": 1}).encode()
    now = int(time.time())
    signature = sign(SECRET, now, body)
    assert signature.startswith("v1=")
    assert verify(SECRET, str(now), body, signature)
    assert not verify("other", str(now), body, signature)
    assert not verify(SECRET, str(now), body + b" ", signature)
    assert not verify(SECRET, str(now - 3600), body, sign(SECRET, now - 3600, body))
    assert not verify(SECRET, None, body, signature)


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"url": "ftp://deploy/actions"}, ENV, r"executor\.http\.url: 'ftp://deploy/actions' is not an http\(s\) URL"),
        ({"url": None}, ENV, r"executor\.http\.url: not set"),
        (
            {"url": "https://deploy/actions"},
            {},
            r"executor\.http\.secret_env: environment variable OPSPILOT_DRIVER_SECRET is not set",
        ),
        ({"url": "https://deploy/actions", "secret_env": "DEPLOY_SECRET"}, ENV, r"environment variable DEPLOY_SECRET is not set"),
        (
            {"url": "https://deploy/actions", "status_url": "https://deploy/status/{id}"},
            ENV,
            r"executor\.http\.status_url: unknown placeholder \{id\}; known: \{key\}",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key(kwargs: dict, env: dict, message: str) -> None:
    url = kwargs.pop("url")
    with pytest.raises(ConfigError, match=message):
        HttpDriver(url, env=env, **kwargs)
