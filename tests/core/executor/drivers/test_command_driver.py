"""The command driver beyond the contract: argv and env as specified, quoting, process groups, refusals."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, DriverError
from core.executor.drivers import AssetRef, idempotency_key
from core.executor.drivers.command import CommandDriver
from tests.core.executor.drivers.support import ASSET, RUN, Harness, apply_action, eventually, revert_action, step_action

pytestmark = pytest.mark.parametrize("harness", ["command"], indirect=True)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie waiting for init to reap it is gone for our purposes


async def test_placeholders_fill_argv_elements_and_the_env_describes_the_action(harness: Harness, tmp_path: Path) -> None:
    await harness.build().perform(apply_action())
    await harness.build().perform(revert_action())
    apply, revert = harness.ledger()
    assert apply["argv"] == [ASSET.id, "2.0"]
    assert revert["argv"] == [ASSET.id, "1.0"]
    documented = {
        "OPSPILOT_ACTION": "apply",
        "OPSPILOT_ASSET_ID": ASSET.id,
        "OPSPILOT_ADDRESS": "10.0.0.7",
        "OPSPILOT_IMAGE": "ubuntu-22.04",
        "OPSPILOT_FROM_VERSION": "1.0",
        "OPSPILOT_TO_VERSION": "2.0",
        "OPSPILOT_RUN_ID": RUN,
        "OPSPILOT_PHASE": "canary",
        "OPSPILOT_IDEMPOTENCY_KEY": idempotency_key(RUN, 0, ASSET.id, "apply"),
        "OPSPILOT_ATTEMPT": "1",
    }
    # The parent's own OPSPILOT_* variables (e.g. OPSPILOT_CONFIG) pass through; the documented ten are set exactly.
    assert {k: apply["env"].get(k) for k in documented} == documented
    assert revert["env"]["OPSPILOT_ACTION"] == "revert"
    assert revert["env"]["OPSPILOT_IDEMPOTENCY_KEY"] == idempotency_key(RUN, 0, ASSET.id, "revert")


async def test_every_placeholder_is_plain_text_inside_one_element(harness: Harness, tmp_path: Path) -> None:
    echo = tmp_path / "argv.py"
    echo.write_text("import json, sys; print(json.dumps(sys.argv[1:]))\n")
    driver = CommandDriver(
        apply=[
            sys.executable,
            str(echo),
            "--host={address}",
            "{asset}@{image}",
            "{from_version}..{to_version}",
            "{run_id}/{phase}/{attempt}",
            "{key}",
            "[{command}]",
            "{{literal}}",
        ]
    )
    tricky = AssetRef("a b; rm -rf /", address="10.0.0.7", image="img $(id)")
    result = await driver.perform(apply_action(attempt=3, asset=tricky))
    key = idempotency_key(RUN, 0, tricky.id, "apply")
    assert result.output.strip() == (
        f'["--host=10.0.0.7", "a b; rm -rf /@img $(id)", "1.0..2.0", "{RUN}/canary/3", "{key}", "[]", "{{literal}}"]'
    )


async def test_values_in_a_shell_script_are_quoted_but_the_step_command_is_the_script(harness: Harness) -> None:
    driver = CommandDriver(apply=["/bin/sh", "-c", "printf '[%s]' {asset} {image}"], step=["/bin/sh", "-c", "{command}"])
    tricky = AssetRef("a b; rm -rf /", image="$(echo pwned)")
    result = await driver.perform(apply_action(asset=tricky))
    assert result.output == "[a b; rm -rf /][$(echo pwned)]"
    assert (await driver.perform(step_action("echo one; echo two"))).output == "one\ntwo\n"


async def test_a_non_zero_exit_quotes_the_output_in_the_error(harness: Harness) -> None:
    with pytest.raises(DriverError, match=r"exited with 1: boom: disk full"):
        await harness.build("fail").perform(apply_action())


async def test_without_a_json_last_line_previous_and_current_are_unknown(harness: Harness) -> None:
    result = await CommandDriver(apply=["/bin/sh", "-c", "echo done"]).perform(apply_action())
    assert (result.previous, result.current, result.output) == (None, None, "done\n")


@pytest.mark.parametrize("mode", ["hang", "stubborn"])
async def test_a_timeout_kills_the_whole_process_group(harness: Harness, mode: str) -> None:
    with pytest.raises(DriverError, match="timed out"):
        await harness.build(mode, timeout=0.5).perform(apply_action())
    grandchild = int((harness.ledger_path.parent / (harness.ledger_path.name + ".grandchild")).read_text())
    await eventually(lambda: not alive(grandchild), timeout=5)


async def test_a_cancelled_action_takes_its_processes_down(harness: Harness) -> None:
    task = asyncio.create_task(harness.build("hang", timeout=30).perform(apply_action()))
    marker = harness.ledger_path.parent / (harness.ledger_path.name + ".grandchild")
    await eventually(lambda: marker.exists() and marker.read_text() != "")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: not alive(int(marker.read_text())), timeout=5)


async def test_an_action_without_a_template_fails_naming_the_key(harness: Harness) -> None:
    with pytest.raises(DriverError, match=r"executor\.command\.revert is not configured"):
        await CommandDriver(apply=["/bin/true"]).perform(revert_action())


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"apply": ["/bin/echo", "{host}"]}, r"executor\.command\.apply\[1\]: unknown placeholder \{host\}; known: \{asset\}"),
        ({"apply": ["/bin/echo", "{asset!r}"]}, r"executor\.command\.apply\[1\]: unknown placeholder \{asset!r\}"),
        ({"apply": ["/bin/echo", "{asset"]}, r"executor\.command\.apply\[1\]: malformed brace"),
        ({"apply": ["/bin/echo", "asset}"]}, r"executor\.command\.apply\[1\]: malformed brace"),
        ({"revert": []}, r"executor\.command\.revert: the template is empty"),
        ({"step": ["/opt/fix/remediate"]}, r"executor\.command\.step\[0\]: /opt/fix/remediate is not an executable file"),
        (
            {"apply": ["no-such-program-opspilot"]},
            r"executor\.command\.apply\[0\]: no-such-program-opspilot is not found on PATH",
        ),
        ({"apply": ["{command}"]}, r"executor\.command\.apply\[0\]: the program must be fixed text"),
        ({}, r"executor\.command: no templates"),
    ],
)
def test_bad_templates_are_refused_naming_the_key(harness: Harness, templates: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommandDriver(**templates)


def test_a_file_that_is_not_executable_is_refused(harness: Harness, tmp_path: Path) -> None:
    script = tmp_path / "remediate"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match=r"executor\.command\.apply\[0\]: .*remediate is not an executable file"):
        CommandDriver(apply=[str(script)])
    os.chmod(script, 0o755)
    CommandDriver(apply=[str(script)])
