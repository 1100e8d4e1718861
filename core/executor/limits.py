"""``executor.max_failures``: how many failed assets a phase tolerates (Ansible's ``max_fail_percentage``,
Argo's failure limit). A count (``2``) or a percentage of the phase's assets (``"10%"``)."""

from __future__ import annotations

import math
import re

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_failure_limit(value: int | str) -> tuple[str, float]:
    """("count", n) or ("percent", p); raises ValueError with what would work."""
    if isinstance(value, bool):
        raise ValueError('max_failures must be a count such as 2 or a percentage such as "10%"')
    if isinstance(value, int):
        if value < 0:
            raise ValueError("max_failures cannot be negative")
        return "count", float(value)
    text = str(value).strip()
    if text.isdigit():
        return "count", float(text)
    match = _PERCENT.match(text)
    if match is None or float(match.group(1)) > 100:
        raise ValueError(f'max_failures {value!r} is neither a count (2) nor a percentage from 0% to 100% ("10%")')
    return "percent", float(match.group(1))


def allowed_failures(value: int | str, assets: int) -> int:
    """Failures a phase of ``assets`` may have and still pass."""
    kind, number = parse_failure_limit(value)
    if kind == "count":
        return int(number)
    return math.floor(assets * number / 100.0)
