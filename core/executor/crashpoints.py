"""Named crash points for the crash-matrix tests: a real process SIGKILLs itself at a point of the path.

``OPSPILOT_CRASH_AT=after_driver`` kills the process the first time it passes that point;
``OPSPILOT_CRASH_AT=after_driver:3`` the third time. Unset (always, outside those tests), a point costs one dict
lookup. Points: ``before_driver``, ``after_driver``, ``after_save``, ``after_phase``, ``after_run``.
"""

from __future__ import annotations

import os
import signal

POINTS = ("before_driver", "after_driver", "after_save", "after_phase", "after_run")
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get("OPSPILOT_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
