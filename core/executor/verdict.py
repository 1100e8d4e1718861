"""Judging a phase's health, the Argo way: measuring (the probes) and judging (here) are separate.

A verdict is ``pass``, ``fail`` or ``inconclusive``. A check with no data (the probe could not measure, a query
returned nothing or NaN, a target was unreachable) is inconclusive: nobody knows whether the phase is healthy,
so by default the run pauses and a person decides. A check that measured and broke its threshold, or a
``rollback_if`` that holds, fails the phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.domain import Phase
from core.executor.conditions import METRICS, parse_condition, threshold_holds

THRESHOLD_CHECKS = ("error_rate", "latency_p99", "cpu")

Outcome = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def judge(phase: Phase, metrics: dict[str, float]) -> Verdict:
    """The verdict on measured ``metrics``: a failure beats missing data, missing data beats a pass."""
    failed: list[str] = []
    unknown: list[str] = []
    for check in phase.health_checks:
        if check.type == "prometheus":
            continue  # judged by the probe itself: it raises HealthCheckFailed or HealthInconclusive
        if check.type == "http_200":
            if "http_ok" not in metrics:
                unknown.append(f"http_200 on {check.target or '/'} was not measured")
            elif metrics["http_ok"] < 100.0:
                failed.append(f"http_200 on {check.target or '/'} failed for {100 - metrics['http_ok']:g}% of assets")
        elif check.type in THRESHOLD_CHECKS:
            if check.type not in metrics:
                unknown.append(f"{check.type} was not measured")
            elif not check.threshold:
                failed.append(f"{check.type} check has no threshold")
            elif not threshold_holds(check.type, check.threshold, metrics):
                failed.append(f"{check.type} {metrics[check.type]:g}{METRICS[check.type]} breaks {check.threshold}")
        else:
            unknown.append(f"{check.type} checks cannot be evaluated by this probe")
    if phase.rollback_if:
        condition = parse_condition(phase.rollback_if)
        missing = sorted({c.metric for group in condition.any_of for c in group} - set(metrics))
        # A group that was measured and holds fails the phase even when another group lacks data.
        if condition.holds(metrics):
            failed.insert(0, f"rollback_if {condition.explain(metrics)}")
        elif missing:
            unknown.insert(0, f"rollback_if needs {', '.join(missing)}, which was not measured")
    if failed:
        return Verdict("fail", tuple(failed), metrics)
    if unknown:
        return Verdict("inconclusive", tuple(unknown), metrics)
    return Verdict("pass", (), metrics)


def health_problem(phase: Phase, metrics: dict[str, float]) -> str | None:
    """What is wrong with the measured health (a failure or missing data), or None when it passes."""
    verdict = judge(phase, metrics)
    return None if verdict.outcome == "pass" else verdict.reason
