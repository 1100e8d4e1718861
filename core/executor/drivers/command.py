"""The command driver: runs one local program per action, from an argv template.

No shell is involved unless the template names one. A placeholder such as ``{asset}`` fills part of
one argv element as plain text (``"--host={address}"`` stays one element). In a template that starts a
shell with ``-c`` (``sh``, ``bash``, ``dash``, ``zsh`` or ``ksh``), values put into the script element
are quoted with ``shlex.quote``, so a value like ``a b; rm -rf /`` stays one word; ``{command}`` is
the exception: it is the approved step's shell code and goes in as written.

The child runs in its own session (process group). On timeout the whole group gets SIGTERM, then
SIGKILL after a short grace. On Linux the child also gets SIGTERM when OpsPilot dies (``prctl
PR_SET_PDEATHSIG``); that reaches the child only, not processes it started, and it fires when the
thread that started the child exits (the event loop's thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shlex
import shutil
import signal
import string
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, DriverError
from core.executor.drivers.base import Action, Driver, DriverAction, DriverResult
from core.executor.drivers.output import OutputBuffer, cap_text

if TYPE_CHECKING:
    from core.config import CommandDriverConfig

log = logging.getLogger(__name__)

PLACEHOLDERS = (
    "asset",
    "address",
    "image",
    "from_version",
    "to_version",
    "run_id",
    "phase",
    "key",
    "attempt",
    "command",
)
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
ACTIONS: tuple[Action, ...] = ("apply", "revert", "step")
DEFAULT_TIMEOUT = 600.0
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to the process group
_EXCERPT = 600  # characters of output quoted in an error message

# A template element: literal text and placeholder names, in order.
Part = tuple[str, str | None]


def parse_element(key: str, element: str) -> list[Part]:
    """Split one argv element into (literal, placeholder) parts; ConfigError names ``key`` on anything wrong."""
    try:
        parsed = list(string.Formatter().parse(element))
    except ValueError as exc:
        raise ConfigError(f"{key}: malformed brace in {element!r} ({exc}); write {{{{ and }}}} for literal braces") from exc
    parts: list[Part] = []
    for literal, field, spec, conversion in parsed:
        if field is not None and (field not in PLACEHOLDERS or spec or conversion):
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ConfigError(f"{key}: unknown placeholder {shown}; known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        parts.append((literal, field))
    return parts


class Template:
    """One action's argv template, checked once."""

    def __init__(self, key: str, argv: Sequence[str], path: str | None) -> None:
        if not argv or not argv[0].strip():
            raise ConfigError(
                f'{key}: the template is empty; give the program and its arguments, e.g. ["/opt/fix/remediate", "{{asset}}"]'
            )
        self.key = key
        self.elements = [parse_element(f"{key}[{i}]", element) for i, element in enumerate(argv)]
        if any(field is not None for _, field in self.elements[0]):
            raise ConfigError(f"{key}[0]: the program must be fixed text, not a placeholder ({argv[0]!r})")
        self.program = argv[0]
        self._check_program(path)
        self.shell = os.path.basename(self.program) in SHELLS and len(argv) > 2 and argv[1] == "-c"

    def _check_program(self, path: str | None) -> None:
        if os.sep in self.program:
            if not (os.path.isfile(self.program) and os.access(self.program, os.X_OK)):
                raise ConfigError(f"{self.key}[0]: {self.program} is not an executable file")
        elif shutil.which(self.program, path=path) is None:
            raise ConfigError(f"{self.key}[0]: {self.program} is not found on PATH; give an absolute path")

    def render(self, values: Mapping[str, str]) -> list[str]:
        argv = []
        for index, parts in enumerate(self.elements):
            script = self.shell and index == 2
            argv.append("".join(literal + _fill(field, values, script) for literal, field in parts))
        return argv


def _fill(field: str | None, values: Mapping[str, str], script: bool) -> str:
    if field is None:
        return ""
    if script and field != "command":  # {command} is the approved step's shell code itself
        return shlex.quote(values[field])
    return values[field]


def placeholder_values(action: DriverAction) -> dict[str, str]:
    asset = action.asset
    return {
        "asset": asset.id if asset else "",
        "address": (asset.address or "") if asset else "",
        "image": ((asset.image if asset else None) or (action.change.image if action.change else None) or ""),
        "from_version": action.from_version or "",
        "to_version": action.to_version or "",
        "run_id": action.run_id,
        "phase": action.phase,
        "key": action.key,
        "attempt": str(action.attempt),
        "command": action.command or "",
    }


def child_environment(action: DriverAction, values: Mapping[str, str]) -> dict[str, str]:
    return {
        "OPSPILOT_ACTION": action.action,
        "OPSPILOT_ASSET_ID": values["asset"],
        "OPSPILOT_ADDRESS": values["address"],
        "OPSPILOT_IMAGE": values["image"],
        "OPSPILOT_FROM_VERSION": values["from_version"],
        "OPSPILOT_TO_VERSION": values["to_version"],
        "OPSPILOT_RUN_ID": values["run_id"],
        "OPSPILOT_PHASE": values["phase"],
        "OPSPILOT_IDEMPOTENCY_KEY": values["key"],
        "OPSPILOT_ATTEMPT": values["attempt"],
    }


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when OpsPilot goes; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # OpsPilot died before prctl took effect
            os._exit(1)

    return preexec


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _reported_versions(line: str) -> tuple[str | None, str | None]:
    if not line.startswith("{"):
        return None, None
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    return _text(data.get("previous")), _text(data.get("current"))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class CommandDriver(Driver):
    name = "command"

    def __init__(
        self,
        apply: Sequence[str] | None = None,
        revert: Sequence[str] | None = None,
        step: Sequence[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        kill_grace: float = KILL_GRACE,
        env: Mapping[str, str] | None = None,
        key_prefix: str = "executor.command",
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        path = self.env.get("PATH", os.defpath)
        given = {"apply": apply, "revert": revert, "step": step}
        if all(argv is None for argv in given.values()):
            raise ConfigError(f"{key_prefix}: no templates; set at least one of apply, revert, step to an argv list")
        self.templates: dict[str, Template] = {
            action: Template(f"{key_prefix}.{action}", argv, path) for action, argv in given.items() if argv is not None
        }
        if timeout <= 0:
            raise ConfigError(f"{key_prefix}.timeout: must be more than 0, e.g. 10m")
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.key_prefix = key_prefix

    @classmethod
    def from_config(cls, config: CommandDriverConfig, env: Mapping[str, str] | None = None) -> CommandDriver:
        return cls(config.apply, config.revert, config.step, timeout=config.timeout, env=env)

    async def perform(self, action: DriverAction) -> DriverResult:
        template = self.templates.get(action.action)
        if template is None:
            raise DriverError(f"{self.key_prefix}.{action.action} is not configured, so this driver cannot {action.action}")
        values = placeholder_values(action)
        argv = template.render(values)
        env = {**self.env, **child_environment(action, values)}
        log.info(
            "command driver: %s %s key=%s attempt=%d",
            action.action,
            values["asset"] or values["command"],
            action.key,
            action.attempt,
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise DriverError(f"{template.program} did not start: {exc}") from exc
        stdout, stderr = OutputBuffer(), OutputBuffer()
        readers = [asyncio.create_task(_pump(proc.stdout, stdout)), asyncio.create_task(_pump(proc.stderr, stderr))]
        started = time.monotonic()
        try:
            await asyncio.wait_for(proc.wait(), self.timeout)
        except TimeoutError:
            await self._stop(proc)
            await _finish(readers, self.kill_grace)
            output = _combined(stdout, stderr)
            raise DriverError(
                f"{action.action} timed out after {self.timeout:g}s; the process group was killed", output
            ) from None
        except BaseException:  # cancelled (abort, shutdown): take the children down too
            _signal_group(proc.pid, signal.SIGKILL)
            for reader in readers:
                reader.cancel()
            raise
        # Leftover processes may hold the pipes open; give them a moment, then stop reading.
        await _finish(readers, min(self.kill_grace, max(self.timeout - (time.monotonic() - started), 0.1)))
        output = _combined(stdout, stderr)
        if proc.returncode != 0:
            raise DriverError(f"{os.path.basename(template.program)} {_exit_text(proc.returncode)}: {_excerpt(output)}", output)
        previous, current = _reported_versions(stdout.last_line())
        return DriverResult(previous=previous, current=current, output=output)

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.kill_grace)
        except TimeoutError:
            pass
        finally:
            _signal_group(proc.pid, signal.SIGKILL)  # always: children may ignore TERM or outlive the leader
            if proc.returncode is None:
                await proc.wait()


async def _pump(stream: asyncio.StreamReader | None, buffer: OutputBuffer) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        buffer.feed(chunk)


async def _finish(readers: list[asyncio.Task[None]], wait: float) -> None:
    _, pending = await asyncio.wait(readers, timeout=wait)
    for reader in pending:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def _combined(stdout: OutputBuffer, stderr: OutputBuffer) -> str:
    out, err = stdout.text(), stderr.text()
    if out and err and not out.endswith("\n"):
        out += "\n"
    return cap_text(out + err)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code}"


def _excerpt(output: str) -> str:
    text = output.strip()
    if not text:
        return "(no output)"
    return text if len(text) <= _EXCERPT else "..." + text[-_EXCERPT:]
