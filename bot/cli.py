"""The ``opspilot`` command.

opspilot serve [--host HOST] [--port PORT] [--playground] [--socket-mode] [--role all|front|worker]
opspilot plan "fix drift on prod web servers" [--json]
opspilot db upgrade
opspilot policy check PLAN.json | opspilot policy test
opspilot audit TASK_ID [--json] | opspilot audit verify [--json] | opspilot audit --actor USER [--since 7d] [--json]
opspilot replay RUN_ID [--json] [--assets] [--output]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config, load_config
from core.errors import OpsPilotError
from core.logcontext import setup_logging

if TYPE_CHECKING:
    from core.service import AskOutcome, Role

logger = logging.getLogger("opspilot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opspilot", description="Chat-ops for infrastructure: ask, review, approve, roll out.")
    parser.add_argument("--config", help="YAML config file (default: $OPSPILOT_CONFIG)")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL"),
        help="DEBUG, INFO, WARNING or ERROR (default INFO for serve, WARNING otherwise)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the bot (the local playground when no Slack credentials are set)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    serve.add_argument("--playground", action="store_true", help="use the local playground even when Slack credentials are set")
    serve.add_argument(
        "--socket-mode",
        action="store_true",
        help="the playground delivers over a local Socket Mode WebSocket instead of HTTP (real Slack: set SLACK_APP_TOKEN)",
    )
    serve.add_argument(
        "--role",
        choices=["all", "front", "worker"],
        default="all",
        help="all (default): everything in one process; front: Slack and REST requests only, asks are recorded for "
        "workers; worker: plans asks, runs rollouts, expires approvals, delivers events (HTTP only for /health, "
        "/ready, /metrics)",
    )

    plan = commands.add_parser("plan", help="dry run: print the TaskSpec and plan for an ask; changes nothing")
    plan.add_argument("ask", help='what you would type after /ops, e.g. "fix drift on prod web servers"')
    plan.add_argument(
        "--json", action="store_true", help="print one JSON object {task_spec, plan, message, intent} (and choices when unclear)"
    )
    plan.add_argument("--user", default="cli", help="the user the ask is made as")

    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])

    policy = commands.add_parser("policy", help="run the validation policies")
    policy_actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = policy_actions.add_parser("check", help="validate a plan document; exit 1 when it fails")
    check.add_argument("plan_file", type=Path)
    policy_actions.add_parser("test", help="run the Rego unit tests (test_ rules) in the policy directory")

    audit = commands.add_parser(
        "audit",
        help="replay a task's audit trail; `audit verify` checks the hash chain; --actor lists what someone did",
    )
    audit.add_argument("task_id", nargs="?", help="a task id, or the word `verify` to check the whole audit chain")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--actor", help="list the entries written by this actor (a Slack user id, or system)")
    audit.add_argument("--since", help="with --actor: only entries newer than this, e.g. 30m, 4h, 7d")

    replay = commands.add_parser("replay", help="a run's timeline and stats (run, phase, asset and step events)")
    replay.add_argument("run_id", help="the run id, or a unique prefix of 8 or more characters")
    replay.add_argument("--json", action="store_true", help="print the whole replay as JSON (the export)")
    replay.add_argument("--assets", action="store_true", help="one line per asset event even for large runs")
    replay.add_argument(
        "--output", action="store_true", help="also the whole stored output of each asset and step, in phase order (capped)"
    )
    events = commands.add_parser("events", help="the outbox: deliveries that gave up, and sending them again")
    event_actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    letters = event_actions.add_parser("dead-letters", help="deliveries dead-lettered after their last attempt")
    letters.add_argument("--json", action="store_true", help="one JSON array of dead letters")
    letters.add_argument("--limit", type=int, default=200, help="at most this many, newest first (default 200)")
    again = event_actions.add_parser("redeliver", help="send a dead-lettered delivery again (due now)")
    again.add_argument("id", help="a delivery id from `events dead-letters`, or an event id (all its dead deliveries)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = args.log_level or ("INFO" if args.command == "serve" else "WARNING")
    try:
        setup_logging(os.environ.get("LOG_FORMAT"), level)
    except OpsPilotError as exc:
        print(f"opspilot: {exc}", file=sys.stderr)
        return 2
    for noisy in ("apscheduler", "alembic", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
        return asyncio.run(_dispatch(args, config))
    except OpsPilotError as exc:
        print(f"opspilot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    if args.command == "serve":
        return await _serve(config, args.host, args.port, args.playground, args.role, args.socket_mode)
    if args.command == "plan":
        return await _plan(config, args.ask, args.json, args.user)
    if args.command == "db":
        from core.store import Database

        database = Database(config.database_url)
        await database.upgrade()
        await database.dispose()
        print(f"database at the latest schema: {database.url.split('@')[-1]}")
        return 0
    if args.command == "policy":
        from core.validation import commands

        if args.policy_command == "check":
            code, output = await commands.policy_check(args.plan_file, config)
        else:
            code, output = await commands.policy_test(config)
        print(output)
        return code
    if args.command == "audit":
        return await _audit_command(config, args)
    if args.command == "replay":
        return await _replay(config, args.run_id, args.json, args.assets, args.output)
    if args.command == "events":
        return await _events(config, args)
    raise AssertionError(args.command)


async def _serve(config: Config, host: str, port: int, playground: bool, role: Role = "all", socket_mode: bool = False) -> int:
    from bot.server import choose_mode, start

    mode = choose_mode(config, playground)
    stopping = asyncio.Event()
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stopping.set()

    for signum in signals:  # before starting: a signal during startup stops the bot right after it
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        running = await start(config, host=host, port=port, mode=mode, role=role, socket_mode=socket_mode)
    except BaseException:
        for signum in signals:
            loop.remove_signal_handler(signum)
        raise
    if mode == "playground":
        print(
            f"OpsPilot playground: open {running.url}/ in your browser (no Slack workspace needed). Ctrl-C stops it.", flush=True
        )
        if socket_mode:
            print("The playground delivers to the bot over Socket Mode (a local WebSocket), not HTTP.", flush=True)
    else:
        what = {"all": "serving Slack", "front": "serving Slack (front only)", "worker": "working (no Slack routes)"}[role]
        print(f"OpsPilot is {what} in {mode} mode; health at {running.url}/health", flush=True)
    try:
        await stopping.wait()
        logger.info(
            "%s received: stopping; work in flight gets up to %gs (shutdown_grace); a second signal stops at once",
            received[0].name,
            config.shutdown_grace,
        )
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)  # a second signal ends the process the default way
        await running.stop()
    logger.info("OpsPilot stopped cleanly")
    return 0


async def _plan(config: Config, text: str, as_json: bool, user: str) -> int:
    from core.intake import Ask
    from core.service import OpsPilot

    service = await OpsPilot.create(config, migrate=False, read_only=True)
    try:
        outcome = await service.dry_run(Ask.from_front(text, user))
    finally:
        await service.close()
    if as_json:
        print(
            json.dumps(
                {
                    "task_spec": outcome.spec.to_document() if outcome.spec else None,
                    "plan": outcome.plan.to_document() if outcome.plan else None,
                    "message": outcome.message if not outcome.note else f"{outcome.message} ({outcome.note})",
                    "intent": outcome.intent.to_document() if outcome.intent is not None else None,
                    **({"choices": [{"agent": c.agent, "label": c.label} for c in outcome.choices]} if outcome.choices else {}),
                },
                indent=2,
            )
        )
    else:
        print(_plan_text(outcome))
    return 0 if outcome.kind in ("plan", "no_change") else 1


def _plan_text(outcome: AskOutcome) -> str:
    lines = [outcome.message]
    if outcome.choices:
        lines += ["", "Did you mean:"] + [f"  - {c.label} ({c.agent}, {c.confidence:.0%})" for c in outcome.choices]
    if outcome.intent is not None:
        reading = outcome.intent
        others = ", ".join(f"{a.agent} {a.confidence:.0%}" for a in reading.alternatives)
        lines += ["", f"Reading: {reading.agent} ({reading.confidence:.0%}; then {others})"]
        named = {k: v for k, v in reading.entities.to_document().items() if v and k != "time_range"}
        if reading.entities.time_range is not None:
            window = reading.entities.time_range
            named["time_range"] = f"{window.text}: {window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC"
        if named:
            lines.append("  entities:    " + "; ".join(f"{k}={v}" for k, v in named.items()))
    if outcome.spec is not None:
        spec = outcome.spec
        scope = spec.context.scope
        lines += [
            "",
            "TaskSpec",
            f"  task_type:   {spec.task_type}",
            f"  goal:        {spec.goal}",
            f"  environment: {spec.environment}",
            f"  scope:       roles={scope.roles} platforms={scope.platforms} regions={scope.regions}",
            f"  agent:       {spec.agent_name}",
            f"  tools:       {', '.join(spec.tools_required)}",
            f"  risk:        {spec.risk_level} (approval {'required' if spec.hitl_required else 'not required'})",
        ]
    if outcome.plan is not None:
        plan = outcome.plan
        lines += [
            "",
            f"Plan ({plan.type}, {plan.status.state})",
            f"  {plan.payload.summary}",
            f"  affected assets: {len(plan.payload.affected_assets)} · estimated duration: {plan.payload.estimated_duration}",
        ]
        for number, phase in enumerate(plan.payload.phases, start=1):
            wait = f", then wait {phase.wait_time}" if phase.wait_time else ""
            lines.append(f"  {number}. {phase.name}: {', '.join(phase.assets)}{wait}; rollback if {phase.rollback_if}")
        for finding in plan.payload.findings:
            lines.append(f"  - [{finding.severity or 'info'}] {finding.title}")
        for step in plan.payload.steps:
            lines.append(f"  * {step.name}" + (f": {step.command}" if step.command else ""))
        if plan.validation is not None:
            for check in plan.validation.checks:
                verdict = "OFF " if check.disabled else "PASS" if check.passed else "FAIL"
                lines.append(f"  {verdict} {check.name}" + "".join(f"\n       {m}" for m in check.messages))
    if outcome.note:
        lines += ["", f"Note: {outcome.note}"]
    return "\n".join(lines)


async def _audit_command(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from core.timeutil import parse_duration

    if args.task_id is not None and args.actor:
        return _usage("audit: give a TASK_ID, `verify` or --actor, not several")
    if args.since and not args.actor:
        return _usage("audit: --since goes with --actor")
    if args.task_id is None and not args.actor:
        return _usage("audit: give a TASK_ID, `verify`, or --actor USER [--since 7d]")
    if args.task_id is not None and args.task_id != "verify":
        return await _audit(config, args.task_id, args.json)
    try:
        seconds = parse_duration(args.since) if args.since else None
    except ValueError as exc:
        return _usage(f"audit: --since: {exc}")
    try:
        if args.task_id == "verify":
            return await _audit_verify(config, args.json)
        return await _audit_by_actor(config, args.actor, seconds, args.json)
    except SQLAlchemyError as exc:
        print(
            f"opspilot: cannot read the audit log ({type(exc).__name__}); is the schema current (`opspilot db upgrade`)?",
            file=sys.stderr,
        )
        return 2


def _usage(message: str) -> int:
    print(f"opspilot {message}", file=sys.stderr)
    return 2


async def _audit_verify(config: Config, as_json: bool) -> int:
    from core.audit import verify_chain
    from core.store import Database, Store

    database = Database(config.database_url)
    try:
        report = await verify_chain(Store(database), config.audit_key.get_secret_value() if config.audit_key else None)
    finally:
        await database.dispose()
    print(json.dumps(report.to_document(), indent=2) if as_json else report.to_text())
    return 0 if report.intact else 1


async def _audit_by_actor(config: Config, actor: str, since_seconds: float | None, as_json: bool) -> int:
    from core.audit import entries_by_actor
    from core.audit.by_actor import since_ago
    from core.store import Database, Store

    database = Database(config.database_url)
    try:
        since = since_ago(since_seconds) if since_seconds is not None else None
        report = await entries_by_actor(Store(database), actor, since)
    finally:
        await database.dispose()
    print(json.dumps(report.to_document(), indent=2) if as_json else report.to_text())
    return 0


async def _audit(config: Config, task_id: str, as_json: bool) -> int:
    from core.audit import replay
    from core.store import Database, Store

    database = Database(config.database_url)
    try:
        timeline = await replay(Store(database), task_id)
    finally:
        await database.dispose()
    if as_json:
        print(json.dumps(timeline.to_document(), indent=2))
    else:
        print(timeline.to_text())
    return 0 if timeline.consistent else 1


async def _replay(config: Config, run_id: str, as_json: bool, assets: bool, output: bool = False) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from core.errors import NotFound
    from core.replay import replay
    from core.store import Database, Store

    database = Database(config.database_url)
    try:
        result = await replay(Store(database), run_id, outputs=output)
    except NotFound as exc:
        print(f"opspilot: {exc}; the run id is in the card's thread and in `opspilot audit TASK_ID`", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            f"opspilot: cannot read runs from {database.url.split('@')[-1]} ({type(exc).__name__}); "
            "is DATABASE_URL right, and has `opspilot db upgrade` run?",
            file=sys.stderr,
        )
        return 2
    finally:
        await database.dispose()
    print(result.to_json() if as_json else result.to_text(assets=assets))
    return 0


async def _events(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from core.outbox.admin import dead_letter_report, redeliver_dead

    try:
        if args.events_command == "dead-letters":
            code, output = await dead_letter_report(config, as_json=args.json, limit=max(1, args.limit))
        else:
            code, output = await redeliver_dead(config, args.id)
    except SQLAlchemyError as exc:
        print(
            f"opspilot: cannot read the outbox ({type(exc).__name__}); is DATABASE_URL right, and has `opspilot db upgrade` run?",
            file=sys.stderr,
        )
        return 2
    print(output, file=sys.stdout if code == 0 else sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
