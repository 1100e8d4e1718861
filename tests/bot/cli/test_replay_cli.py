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
