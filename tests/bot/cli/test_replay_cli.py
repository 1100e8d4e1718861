"""`opspilot replay RUN_ID`: a run's timeline and stats as text, or the whole replay as JSON."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from bot.cli import main
from core.config import Config
from core.intake import Ask
from core.service import OpsPilot


def _finished_run(config: Config) -> tuple[str, list[str]]:
    async def run() -> tuple[str, list[str]]:
        service = await OpsPilot.create(config)
        await service.start()
        try:
            outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
            decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
            await service.executor.wait_idle(20)
            return decision.run.id, [p.name for p in outcome.plan.payload.phases]
        finally:
            await service.close()

    return asyncio.run(run())


@pytest.fixture
def finished_run(config: Config, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    monkeypatch.delenv("OPSPILOT_CONFIG", raising=False)
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    return _finished_run(config)


def test_replay_prints_one_line_per_event_and_the_stats(finished_run, capsys: pytest.CaptureFixture[str]) -> None:
    run_id, phases = finished_run
    assert main(["replay", run_id]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"run {run_id}") and "completed" in lines[0]
    timeline = lines[lines.index("timeline") + 1 : lines.index("stats")]
    assert "run   created" in timeline[0] and "+    0.000s" in timeline[0] and "by U0APPROVER1" in timeline[0]
    assert "run   completed" in timeline[-1]
    for name in phases:
        assert any(f"phase {name}" in line and "completed" in line for line in timeline)
    assert any(re.search(r"s  asset \S+ +succeeded +\d", line) for line in timeline)
    assert "  by status: succeeded " in out and "phases: " in out and "total duration: " in out


def test_replay_json_is_the_whole_replay_and_a_short_id_works(finished_run, capsys: pytest.CaptureFixture[str]) -> None:
    run_id, phases = finished_run
    assert main(["replay", run_id[:8], "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["run"]["id"] == run_id and document["run"]["state"] == "completed"
    kinds = {e["kind"] for e in document["timeline"]}
    assert kinds == {"run", "phase", "asset"}
    assert document["stats"]["event_counts"]["phase.completed"] == len(phases)
    assert document["stats"]["failed_assets"] == []


def test_replay_of_an_unknown_run_exits_1_and_says_where_ids_are(finished_run, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "ffffffff-0000-0000-0000-000000000000"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no run with id ffffffff-0000-0000-0000-000000000000" in captured.err and "card's thread" in captured.err


def _set_output(config: Config, asset: str, text: str) -> None:
    from sqlalchemy import update

    from core.store import Database
    from core.store.tables import run_assets

    async def write() -> None:
        database = Database(config.database_url)
        try:
            async with database.engine.begin() as conn:
                await conn.execute(update(run_assets).where(run_assets.c.asset_id == asset).values(output=text))
        finally:
            await database.dispose()

    asyncio.run(write())


def _headers(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("=== ")]


def test_replay_output_prints_each_assets_whole_output_under_a_header_in_phase_order(
    finished_run, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, phases = finished_run
    assert main(["replay", run_id, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "outputs" not in document  # only with --output
    ends = [e for e in document["timeline"] if e["kind"] == "asset" and e["status"] == "succeeded"]
    first = ends[0]["name"]
    long = "TASK [Render]\n" + "\n".join(f"changed: [{first}] line {i}" for i in range(400))  # far beyond an excerpt
    _set_output(config, first, long)

    assert main(["replay", run_id, "--output"]) == 0
    out = capsys.readouterr().out

    assert "\nstats\n" in out and "\noutput\n" in out  # the replay, then the outputs
    headers = _headers(out)
    assert len(headers) == len(ends)
    order = [h.split(" · ")[0].removeprefix("=== ") for h in headers]
    assert order == sorted(order, key=phases.index)  # phase order
    assert any(f"asset {first} · succeeded" in h for h in headers)
    assert long in out  # whole, not the 300-character excerpt
    assert "simulated apply" in out  # the other assets' outputs


def test_replay_output_json_includes_the_outputs_and_caps_their_total(
    finished_run, config: Config, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, _ = finished_run
    assert main(["replay", run_id, "--json", "--output"]) == 0
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    assert outputs and all(o["output"].startswith("simulated apply") and not o["truncated"] for o in outputs)
    assert [o["phase_index"] for o in outputs] == sorted(o["phase_index"] for o in outputs)

    import core.replay

    first = outputs[0]["name"]
    _set_output(config, first, "x" * 500)
    monkeypatch.setattr(core.replay, "OUTPUT_TOTAL_CHARS", 120)
    assert main(["replay", run_id, "--json", "--output"]) == 0
    capped = json.loads(capsys.readouterr().out)["outputs"]
    assert capped[0]["output"] == "x" * 120 and capped[0]["truncated"]
    assert all(o["output"] == "" and o["truncated"] for o in capped[1:])
    assert main(["replay", run_id, "--output"]) == 0
    out = capsys.readouterr().out
    assert "[... cut: the outputs shown are capped in all ...]" in out and f"({len(capped)} output(s) cut" in out
