"""Time helpers: aware UTC timestamps and the plan duration format ("30s", "5m", "2h")."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"30m"``; raises ValueError on anything else."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use a number and ms, s, m, h or d, e.g. '30m')")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Short human form: ``"1h 5m"``, ``"45s"``, ``"0s"``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    text = " ".join(p for p in parts if p)
    return text or ("<1s" if seconds > 0 else "0s")


def duration_seconds(value: object) -> float:
    """Seconds in a config duration: ``"30s"``, ``"10m"``, ``"4h"``, or a number of seconds (``30``, ``"2.5"``)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as '30s', '10m' or '4h', not true/false")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = parse_duration(value)
    else:
        raise ValueError(f"a duration is a number of seconds or text such as '30s', '10m' or '4h', not {type(value).__name__}")
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


# For pydantic models: accepts what ``duration_seconds`` accepts, holds seconds as a float.
Duration = Annotated[float, BeforeValidator(duration_seconds)]
