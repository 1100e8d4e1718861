"""What a plan runs, in which order: its phases, or for step plans (SOP, DR drill, adapter) a DAG of steps.

Steps that declare ``depends_on`` run as soon as every dependency has succeeded; steps that are independent run
side by side. The graph is cut into layers (every step's dependencies lie in earlier layers), and each layer is
one execution phase, so the thread, the card and the run document read the same as for asset phases. A plan whose
steps declare no dependencies at all runs them one after the other, in the order written. ``on_failure`` steps run
only while rolling back.
"""

from __future__ import annotations

from core.domain import Phase, Plan, Step
from core.errors import ExecutionError

SUBJECT_STEP = "step"
SUBJECT_ASSET = "asset"


def forward_steps(plan: Plan) -> list[Step]:
    return [s for s in plan.payload.steps if s.when != "on_failure"]


def rollback_steps(plan: Plan) -> list[Step]:
    return [s for s in plan.payload.steps if s.when == "on_failure"]


def step_layers(plan: Plan) -> list[list[Step]]:
    """Layers of forward steps; raises ExecutionError for an unknown dependency or a cycle."""
    steps = forward_steps(plan)
    if not any(s.depends_on for s in steps):
        return [[s] for s in steps]
    names = {s.name for s in steps}
    for step in steps:
        unknown = sorted(set(step.depends_on or []) - names)
        if unknown:
            raise ExecutionError(f"step {step.name} depends on unknown step(s) {', '.join(unknown)}")
    layers: list[list[Step]] = []
    placed: set[str] = set()
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining if set(s.depends_on or []) <= placed]
        if not ready:
            raise ExecutionError("the steps' depends_on form a cycle: " + ", ".join(s.name for s in remaining))
        layers.append(ready)
        placed |= {s.name for s in ready}
        remaining = [s for s in remaining if s.name not in placed]
    return layers


def execution_phases(plan: Plan) -> list[Phase]:
    """The phases to run: the plan's own, or one per layer of steps."""
    if plan.payload.phases:
        return plan.payload.phases
    return [Phase(name=" + ".join(s.name for s in layer), assets=[]) for layer in step_layers(plan)]


def layer_of(plan: Plan, index: int) -> list[Step]:
    """The steps of execution phase ``index`` (empty for asset phases)."""
    if plan.payload.phases:
        return []
    layers = step_layers(plan)
    return layers[index] if index < len(layers) else []


def subjects(plan: Plan) -> list[tuple[int, str, str]]:
    """(phase index, subject, kind) for every per-asset row of a run of ``plan``."""
    if plan.payload.phases:
        return [(i, asset, SUBJECT_ASSET) for i, phase in enumerate(plan.payload.phases) for asset in phase.assets]
    return [(i, step.name, SUBJECT_STEP) for i, layer in enumerate(step_layers(plan)) for step in layer]
