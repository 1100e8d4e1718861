"""Change windows such as ``"sat-sun 00:00-06:00"`` or ``"mon,wed 22:00-02:00"`` (UTC).

Days are a range (``mon-fri``), a list (``mon,wed,fri``), ``daily``, ``weekdays`` or ``weekends``;
times are ``HH:MM``. A window whose end is before its start runs past midnight; the day names the
day the current time falls on, so list both days for an overnight window that should cross them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SHORT = {day[:3].lower(): day for day in WEEKDAYS}
_GROUPS = {"daily": WEEKDAYS, "weekdays": WEEKDAYS[:5], "weekends": WEEKDAYS[5:]}
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*(utc)?\s*$", re.I)
EXAMPLE = "'sat-sun 00:00-06:00' or 'mon,wed 22:00-02:00'"


@dataclass(frozen=True)
class ChangeWindow:
    label: str
    days: tuple[str, ...]
    start_minute: int
    end_minute: int

    def as_input(self) -> dict[str, Any]:
        return {"label": self.label, "days": list(self.days), "start_minute": self.start_minute, "end_minute": self.end_minute}


def parse_window(text: str) -> ChangeWindow:
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"cannot read change window {text!r}; write e.g. {EXAMPLE} (UTC)")
    days = _days(match["days"].lower(), text)
    start, end = _minute(match["start"], text), _minute(match["end"], text)
    if start == end:
        raise ValueError(f"change window {text!r} starts and ends at the same time")
    return ChangeWindow(f"{match['days'].lower()} {match['start']}-{match['end']} UTC", days, start, end)


def _days(spec: str, source: str) -> tuple[str, ...]:
    if spec in _GROUPS:
        return _GROUPS[spec]
    days: list[str] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in _SHORT or (last and last not in _SHORT):
            raise ValueError(f"unknown day in change window {source!r}; use mon, tue, wed, thu, fri, sat, sun")
        start = WEEKDAYS.index(_SHORT[first])
        stop = WEEKDAYS.index(_SHORT[last]) if last else start
        span = (stop - start) % 7
        days += [WEEKDAYS[(start + i) % 7] for i in range(span + 1)]
    return tuple(dict.fromkeys(days))


def _minute(clock: str, source: str) -> int:
    hours, minutes = (int(p) for p in clock.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{clock!r} in change window {source!r} is not a time of day (00:00-23:59)")
    return hours * 60 + minutes
