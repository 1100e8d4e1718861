"""Run replay: the timeline and stats of one run, read from the run row, its per-asset rows and the audit log.

    replay(store, run_id) → Replay(run, timeline, stats)

The timeline holds run events (from the audit log: created, executing, paused, resumed, completed, rolled_back,
failed, with the actor), phase events (started, and completed / rolled_back / failed, from the run's phase
summaries) and asset and step events (started, then succeeded / failed / rolled_back, from ``run_assets``), in
time order. The rows are read in one query, whatever the size of the run. Runs made before ``run_assets``
existed keep their assets in the run document; they replay from there, with asset events that have no time.

    replay(store, run_id, outputs=True) → the same, plus ``outputs``: each asset's and step's whole stored output
    (a revert's after a ``--- revert ---`` line) in phase order, read in the same single query, at most
    ``OUTPUT_TOTAL_CHARS`` in all (`opspilot replay RUN_ID --output`).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.domain import Run
from core.errors import NotFound
from core.store import AuditEntry, Store
from core.store.run_assets import AssetRow
from core.timeutil import format_duration, utcnow

EventKind = Literal["run", "phase", "asset", "step"]

MIN_PREFIX = 8
EXCERPT_CHARS = 300  # error and output excerpts on timeline events
FAILED_ERROR_CHARS = 2000  # errors in stats.failed_assets (what the executor stores, at most)
ASSET_LINES = 50  # text: more assets than this are summarised per phase unless every line is asked for
OUTPUT_TOTAL_CHARS = 1_000_000  # --output: the stored outputs shown, in all (each is already capped when stored)
_DOCUMENT_STATUS = {"completed": "succeeded"}  # run documents name a done asset "completed"
# For events at the same instant: openings before the work inside them, closings after it.
_RANK = {"open_run": 0, "open_phase": 1, "open_asset": 2, "close_asset": 3, "close_phase": 4, "close_run": 5}
_RUN_OPENINGS = {"created", "executing", "resumed"}
_ID_CHARS = re.compile(r"^[0-9A-Za-z-]+$")


class ReplayEvent(BaseModel):
    at: datetime | None = None
    kind: EventKind
    name: str
    status: str
    phase: str | None = None
    phase_index: int | None = None
    duration_seconds: float | None = None
    attempt: int | None = None
    actor: str | None = None
    reason: str | None = None
    error: str | None = None
    output: str | None = None


class ReplayRun(BaseModel):
    id: str
    plan_id: str
    environment: str
    state: str
    reason: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    phases_completed: int = 0
    total_phases: int = 0
    assets_changed: int = 0
    legacy: bool = Field(default=False, description="replayed from the run document: a run made before run_assets")


class FailedAsset(BaseModel):
    id: str
    kind: Literal["asset", "step"]
    phase: str | None
    phase_index: int
    status: str
    attempt: int | None = None
    error: str | None = None


class ReplayStats(BaseModel):
    total_duration_seconds: float | None = None
    average_asset_duration_seconds: float | None = None
    average_step_duration_seconds: float | None = None
    average_phase_duration_seconds: float | None = None
    phases_completed: int = 0
    total_phases: int = 0
    assets: int = 0
    steps: int = 0
    events_by_kind: dict[str, int] = Field(default_factory=dict)
    event_counts: dict[str, int] = Field(
        default_factory=dict, description="number of events by 'run.<event>' or '<kind>.<status>', e.g. 'asset.succeeded'"
    )
    by_status: dict[str, int] = Field(default_factory=dict, description="assets and steps by their final status")
    failed_assets: list[FailedAsset] = Field(default_factory=list)
    rolled_back_assets: list[str] = Field(default_factory=list)


class AssetOutput(BaseModel):
    name: str
    kind: Literal["asset", "step"]
    phase: str | None
    phase_index: int
    status: str
    attempt: int | None = None
    output: str = ""
    truncated: bool = Field(default=False, description="cut to fit OUTPUT_TOTAL_CHARS (or left out: empty)")


class Replay(BaseModel):
    run: ReplayRun
    timeline: list[ReplayEvent]
    stats: ReplayStats
    outputs: list[AssetOutput] | None = Field(default=None, description="only when asked for (--output)")

    def to_text(self, *, assets: bool = False) -> str:
        text = render_text(self, all_assets=assets)
        return text if self.outputs is None else f"{text}\n{render_outputs(self.outputs)}"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude={"outputs"} if self.outputs is None else None)


# -- lookups --------------------------------------------------------------------------------------


async def resolve_run_id(store: Store, text: str) -> str:
    """The full id of the run ``text`` names: its id, or a unique prefix of at least 8 characters."""
    wanted = text.strip()
    if not wanted or not _ID_CHARS.match(wanted):
        raise NotFound(f"no run with id {wanted!r}")
    found = await store.run_ids_starting_with(wanted, limit=2)
    if wanted in found:
        return wanted
    if len(wanted) < MIN_PREFIX or not found:
        raise NotFound(f"no run with id {wanted}" + (f" (a short id needs at least {MIN_PREFIX} characters)" if found else ""))
    if len(found) > 1:
        raise NotFound(f"{wanted} is the start of more than one run id; give more characters")
    return found[0]


async def replay(store: Store, run_id: str, *, outputs: bool = False, output_chars: int | None = None) -> Replay:
    """The run's timeline and stats; ``run_id`` may be a unique prefix (8+ characters). Raises NotFound.

    ``outputs``: also every stored output, whole (one query either way; without it only excerpts are read)."""
    run = await store.get_run(await resolve_run_id(store, run_id), with_assets=False)
    rows = await store.run_assets.rows(run.id, output_chars=None if outputs else EXCERPT_CHARS)
    audit = [e for e in await store.audit_entries([run.id]) if e.entity_type == "run"]
    result = build_replay(run, rows, audit)
    if outputs:
        result.outputs = collect_outputs(run, rows, OUTPUT_TOTAL_CHARS if output_chars is None else output_chars)
    return result


def collect_outputs(run: Run, rows: list[AssetRow], limit: int) -> list[AssetOutput]:
    """Each row's output in phase order (the rows' order), cut once ``limit`` characters are shown in all."""
    names = {index: phase.name for index, phase in enumerate(run.phases)}
    out: list[AssetOutput] = []
    left = limit
    for row in rows:
        text = row.output or ""
        shown = text[: max(left, 0)]
        left -= len(shown)
        out.append(
            AssetOutput(
                name=row.asset_id,
                kind="step" if row.kind == "step" else "asset",
                phase=names.get(row.phase_index),
                phase_index=row.phase_index,
                status=row.status,
                attempt=row.attempt or None,
                output=shown,
                truncated=len(shown) < len(text),
            )
        )
    return out


# -- building ------------------------------------------------------------------------------------


def build_replay(run: Run, rows: list[AssetRow], audit: list[AuditEntry], now: datetime | None = None) -> Replay:
    keyed: list[tuple[datetime, int, int, ReplayEvent]] = []
    end = run.completed_at
    fallback_end = end or now or utcnow()

    def add(event: ReplayEvent, rank: str, sort_at: datetime | None) -> None:
        keyed.append((sort_at or fallback_end, _RANK[rank], len(keyed), event))

    for entry in audit:
        name = _run_event_name(entry)
        reason = entry.details.get("reason") if isinstance(entry.details, dict) else None
        add(
            ReplayEvent(
                at=entry.at,
                kind="run",
                name=name,
                status=entry.to_state or name,
                actor=entry.actor,
                reason=_excerpt(reason) if isinstance(reason, str) else None,
            ),
            "open_run" if name in _RUN_OPENINGS else "close_run",
            entry.at,
        )

    phase_durations: list[float] = []
    for index, phase in enumerate(run.phases):
        if phase.started_at is not None:
            add(
                ReplayEvent(
                    at=phase.started_at, kind="phase", name=phase.name, status="started", phase=phase.name, phase_index=index
                ),
                "open_phase",
                phase.started_at,
            )
        closed_at = phase.completed_at
        if closed_at is None and phase.status in ("rolled_back", "failed"):
            closed_at = end
        if phase.status in ("completed", "rolled_back", "failed", "skipped"):
            duration = _seconds(phase.started_at, closed_at)
            if duration is not None and phase.status == "completed":
                phase_durations.append(duration)
            add(
                ReplayEvent(
                    at=closed_at,
                    kind="phase",
                    name=phase.name,
                    status=phase.status,
                    phase=phase.name,
                    phase_index=index,
                    duration_seconds=duration,
                ),
                "close_phase",
                closed_at or phase.started_at,
            )

    names = {index: phase.name for index, phase in enumerate(run.phases)}
    durations: dict[str, list[float]] = {"asset": [], "step": []}
    by_status: Counter[str] = Counter()
    counts = {"asset": 0, "step": 0}
    failed: list[FailedAsset] = []
    rolled_back: list[str] = []
    legacy = not rows and any(phase.assets for phase in run.phases)
    subjects = rows if rows else _document_rows(run)
    for row in subjects:
        kind = "step" if row.kind == "step" else "asset"
        counts[kind] += 1
        by_status[row.status] += 1
        phase_name = names.get(row.phase_index)
        if row.started_at is not None:
            add(
                ReplayEvent(
                    at=row.started_at,
                    kind=kind,
                    name=row.asset_id,
                    status="started",
                    phase=phase_name,
                    phase_index=row.phase_index,
                    attempt=row.attempt or None,
                ),
                "open_asset",
                row.started_at,
            )
        if row.status in ("pending", "running"):
            continue
        duration = _seconds(row.started_at, row.ended_at)
        if duration is not None and row.status == "succeeded":
            durations[kind].append(duration)
        add(
            ReplayEvent(
                at=row.ended_at,
                kind=kind,
                name=row.asset_id,
                status=row.status,
                phase=phase_name,
                phase_index=row.phase_index,
                duration_seconds=duration,
                attempt=row.attempt or None,
                error=_excerpt(row.error),
                output=_excerpt(row.output) if kind == "step" else None,
            ),
            "close_asset",
            row.ended_at or _legacy_place(run, row.phase_index),
        )
        if row.status == "failed" or row.error:
            failed.append(
                FailedAsset(
                    id=row.asset_id,
                    kind=kind,
                    phase=phase_name,
                    phase_index=row.phase_index,
                    status=row.status,
                    attempt=row.attempt or None,
                    error=_clip(row.error, FAILED_ERROR_CHARS),
                )
            )
        if row.status == "rolled_back":
            rolled_back.append(row.asset_id)

    keyed.sort(key=lambda item: item[:3])
    timeline = [event for *_, event in keyed]
    total = run.metrics.duration_seconds or _seconds(run.started_at, end or now or utcnow())
    stats = ReplayStats(
        total_duration_seconds=total,
        average_asset_duration_seconds=_mean(durations["asset"]),
        average_step_duration_seconds=_mean(durations["step"]),
        average_phase_duration_seconds=_mean(phase_durations),
        phases_completed=run.progress.phases_completed,
        total_phases=run.progress.total_phases or len(run.phases),
        assets=counts["asset"],
        steps=counts["step"],
        events_by_kind=dict(Counter(e.kind for e in timeline)),
        event_counts=dict(Counter(f"{e.kind}.{e.name if e.kind == 'run' else e.status}" for e in timeline)),
        by_status=dict(by_status),
        failed_assets=failed,
        rolled_back_assets=rolled_back,
    )
    summary = ReplayRun(
        id=run.id,
        plan_id=run.plan_id,
        environment=run.environment,
        state=run.state,
        reason=run.status.reason,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_seconds=total,
        phases_completed=stats.phases_completed,
        total_phases=stats.total_phases,
        assets_changed=run.metrics.assets_changed,
        legacy=legacy,
    )
    return Replay(run=summary, timeline=timeline, stats=stats)


def _run_event_name(entry: AuditEntry) -> str:
    name = entry.event.split(".", 1)[1] if entry.event.startswith("run.") else entry.event
    if name == "executing" and entry.from_state == "paused":
        return "resumed"
    return name


def _document_rows(run: Run) -> list[AssetRow]:
    """Assets of a run made before ``run_assets``: from its document, without times."""
    return [
        AssetRow(
            id=0,
            run_id=run.id,
            phase_index=index,
            asset_id=asset.asset_id,
            kind="asset",
            status=_DOCUMENT_STATUS.get(asset.status, asset.status),
            attempt=0,
            idempotency_key=None,
            previous=asset.previous,
            current=asset.current,
            error=asset.error,
            output=None,
            revert_attempt=0,
            started_at=None,
            ended_at=None,
        )
        for index, phase in enumerate(run.phases)
        for asset in phase.assets
    ]


def _legacy_place(run: Run, index: int) -> datetime | None:
    """Where an asset event without a time goes: at its phase's end (the work inside the phase)."""
    if 0 <= index < len(run.phases):
        phase = run.phases[index]
        return phase.completed_at or phase.started_at or run.completed_at
    return run.completed_at


def _seconds(start: datetime | None, stop: datetime | None) -> float | None:
    if start is None or stop is None:
        return None
    return round(max((stop - start).total_seconds(), 0.0), 3)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    if not text:
        return None
    return _clip(" ".join(text[: limit * 2].split()), limit)


# -- text --------------------------------------------------------------------------------------------


def render_text(replay: Replay, *, all_assets: bool = False) -> str:
    run, stats = replay.run, replay.stats
    lines = [
        f"run {run.id} · plan {run.plan_id} · {run.environment} · {run.state}"
        + (f" · {_duration(run.duration_seconds)}" if run.duration_seconds is not None else ""),
    ]
    if run.reason:
        lines.append(f"  reason: {_excerpt(run.reason, 500)}")
    if run.legacy:
        lines.append("  (a run made before per-asset rows: asset events have no times)")
    start = next((e.at for e in replay.timeline if e.at is not None), None)
    summarise = not all_assets and stats.assets > ASSET_LINES
    pending: dict[int, list[ReplayEvent]] = {}
    lines.append("timeline")
    for event in replay.timeline:
        if summarise and event.kind == "asset":
            pending.setdefault(event.phase_index if event.phase_index is not None else -1, []).append(event)
            continue
        if summarise and event.kind == "phase" and event.status != "started" and event.phase_index in pending:
            lines.append(_summary_line(event.phase_index, event.name, pending.pop(event.phase_index)))
        lines.append(_event_line(event, start))
    for index in sorted(pending):
        lines.append(
            _summary_line(index, next((e.phase for e in pending[index] if e.phase), f"phase {index + 1}"), pending[index])
        )
    if summarise:
        lines.append(f"  ({stats.assets} assets summarised per phase; --assets shows every asset event)")
    lines += _stats_lines(stats)
    return "\n".join(lines)


def render_outputs(outputs: list[AssetOutput]) -> str:
    """``output``, then per asset or step, in phase order: a header line, then its stored output as it was printed."""
    lines = ["output"]
    if not outputs:
        lines.append("  (no assets or steps)")
    cut = 0
    for item in outputs:
        where = item.phase or f"phase {item.phase_index + 1}"
        attempt = f", attempt {item.attempt}" if item.attempt and item.attempt > 1 else ""
        lines.append(f"=== {where} · {item.kind} {item.name} · {item.status}{attempt} ===")
        if item.output:
            lines.append(item.output.rstrip("\n"))
        elif not item.truncated:
            lines.append("(no output)")
        if item.truncated:
            cut += 1
            lines.append("[... cut: the outputs shown are capped in all ...]")
    if cut:
        lines.append(f"({cut} output(s) cut or left out: at most {OUTPUT_TOTAL_CHARS:,} characters are shown in all)")
    return "\n".join(lines)


def _event_line(event: ReplayEvent, start: datetime | None) -> str:
    when = event.at.strftime("%H:%M:%S.%f")[:-3] if event.at is not None else "-" * 12
    offset = f"+{(event.at - start).total_seconds():9.3f}s" if event.at is not None and start is not None else " " * 11
    took = _duration(event.duration_seconds) if event.duration_seconds is not None else ""
    extra = []
    if event.attempt and event.attempt > 1:
        extra.append(f"attempt {event.attempt}")
    if event.actor:
        extra.append(f"by {event.actor}")
    if event.reason:
        extra.append(f"reason: {_excerpt(event.reason, 120)}")
    if event.error:
        extra.append(f"error: {_excerpt(event.error, 120)}")
    return f"  {when} {offset}  {event.kind:<5} {_clip(event.name, 32):<32} {event.status:<12} {took:>9}  {' · '.join(extra)}".rstrip()


def _summary_line(index: int, phase: str | None, events: list[ReplayEvent]) -> str:
    ended = [e for e in events if e.status != "started"]
    statuses = Counter(e.status for e in ended)
    times = [e.duration_seconds for e in ended if e.duration_seconds is not None]
    average = f" · avg {_duration(sum(times) / len(times))}" if times else ""
    counted = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "none finished"
    return f"  {'':12} {'':11}  asset {_clip(phase or f'phase {index + 1}', 32):<32} {len(ended)} assets: {counted}{average}"


def _stats_lines(stats: ReplayStats) -> list[str]:
    lines = ["stats"]
    if stats.total_duration_seconds is not None:
        lines.append(f"  total duration: {_duration(stats.total_duration_seconds)}")
    lines.append(
        f"  phases: {stats.phases_completed}/{stats.total_phases} completed"
        + (
            f" · average {_duration(stats.average_phase_duration_seconds)}"
            if stats.average_phase_duration_seconds is not None
            else ""
        )
    )
    if stats.assets:
        lines.append(
            f"  assets: {stats.assets}"
            + (
                f" · average {_duration(stats.average_asset_duration_seconds)}"
                if stats.average_asset_duration_seconds is not None
                else ""
            )
        )
    if stats.steps:
        lines.append(
            f"  steps: {stats.steps}"
            + (
                f" · average {_duration(stats.average_step_duration_seconds)}"
                if stats.average_step_duration_seconds is not None
                else ""
            )
        )
    if stats.by_status:
        lines.append("  by status: " + ", ".join(f"{s} {n}" for s, n in sorted(stats.by_status.items())))
    lines.append("  events: " + ", ".join(f"{k} {n}" for k, n in sorted(stats.event_counts.items())))
    if stats.rolled_back_assets:
        shown = ", ".join(stats.rolled_back_assets[:10])
        more = f" and {len(stats.rolled_back_assets) - 10} more" if len(stats.rolled_back_assets) > 10 else ""
        lines.append(f"  rolled back: {shown}{more}")
    if stats.failed_assets:
        lines.append(f"  failed ({len(stats.failed_assets)}):")
        for item in stats.failed_assets[:20]:
            lines.append(
                f"    {item.id} ({item.phase or f'phase {item.phase_index + 1}'}, {item.status}): {_excerpt(item.error, 200) or 'no error recorded'}"
            )
        if len(stats.failed_assets) > 20:
            lines.append(f"    …and {len(stats.failed_assets) - 20} more (--json lists them all)")
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.3f}s" if seconds < 10 else format_duration(seconds)
