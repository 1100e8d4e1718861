"""One contract, every driver: simulate, command (real processes) and http (a loopback receiver)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from core.errors import DriverError, ExecutionError
from core.executor.drivers import OUTPUT_CAP, idempotency_key
from tests.core.executor.drivers.support import ASSET, RUN, Harness, apply_action, step_action

REAL = pytest.mark.parametrize("harness", ["command", "http"], indirect=True)


async def test_apply_succeeds_and_reports_previous_and_current(harness: Harness) -> None:
    result = await harness.build().perform(apply_action())
    assert (result.previous, result.current) == ("1.0", "2.0")
    assert harness.seen_keys() == [(idempotency_key(RUN, 0, ASSET.id, "apply"), 1)]


async def test_a_repeat_after_a_crash_carries_the_same_key_with_the_next_attempt(harness: Harness) -> None:
    await harness.build().perform(apply_action(attempt=1))
    await harness.build().perform(apply_action(attempt=2))  # a fresh driver: another process after a takeover
    key = idempotency_key(RUN, 0, ASSET.id, "apply")
    assert harness.seen_keys() == [(key, 1), (key, 2)]


async def test_a_failure_is_a_driver_error_carrying_the_output(harness: Harness) -> None:
    with pytest.raises(DriverError) as caught:
        await harness.build("fail").perform(apply_action())
    assert isinstance(caught.value, ExecutionError)
    assert harness.failure_text in caught.value.output


async def test_a_step_runs_and_says_what_happened(harness: Harness) -> None:
    result = await harness.build().perform(step_action("echo hello"))
    expected = {"simulate": "simulated: echo hello", "command": "hello\n", "http": "deployed"}[harness.kind]
    assert result.output == expected


@REAL
async def test_a_hang_is_cut_off_at_the_timeout(harness: Harness) -> None:
    driver = harness.build("hang", timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(DriverError, match=r"timed out after 0\.5s"):
        await driver.perform(apply_action())
    assert loop.time() - started < 5


@REAL
async def test_huge_non_utf8_output_is_kept_capped_and_valid(harness: Harness) -> None:
    result = await harness.build("huge").perform(apply_action())
    encoded = result.output.encode("utf-8")  # would raise on lone surrogates
    assert len(encoded) <= OUTPUT_CAP
    assert "\x00" not in result.output
    assert "\ufffd" in result.output, "invalid bytes are replaced, not dropped silently"
    assert "bytes omitted" in result.output
    assert result.output.rstrip().endswith("line of text"), "the tail is kept"


def test_the_idempotency_key_is_the_same_in_another_process() -> None:
    here = idempotency_key("run-9", 2, "web-001", "revert")
    there = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.executor.drivers import idempotency_key as k; print(k('run-9', 2, 'web-001', 'revert'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == there
    assert (
        len(
            {
                here,
                idempotency_key("run-9", 2, "web-001", "apply"),
                idempotency_key("run-9", 3, "web-001", "revert"),
                idempotency_key("run-8", 2, "web-001", "revert"),
                idempotency_key("run-9", 2, "web-002", "revert"),
            }
        )
        == 5
    )
