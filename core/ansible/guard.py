"""A guard between OpsPilot and ``ansible-playbook``: the playbook never outlives OpsPilot, and a cancel stops all of it.

ansible-runner starts ``ansible-playbook`` under a pseudo-terminal with SIGHUP ignored, and Ansible's workers each
start a session of their own, so neither the terminal closing nor a kill of the process group reaches every process
of a playbook. :func:`core.ansible.runner.run_playbook` therefore puts this script first on ``PATH`` under the name
``ansible-playbook``. It:

- asks the kernel for SIGTERM when its parent (OpsPilot) dies (``PR_SET_PDEATHSIG``), and becomes the reaper of
  every process below it (``PR_SET_CHILD_SUBREAPER``), so orphaned workers stay findable;
- runs the real ``ansible-playbook`` (``OPSPILOT_ANSIBLE_PLAYBOOK``) with the same arguments and exit code;
- on SIGTERM, SIGHUP or SIGINT (OpsPilot died, the terminal closed, a cancel), sends SIGTERM to every process below
  it, gives them ``GRACE_SECONDS``, then SIGKILL, and exits.

It is copied into the playbook run's private folder and run by the interpreter OpsPilot runs on; it imports only the
standard library. Linux only (``/proc``, ``prctl``); elsewhere it only runs the playbook.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

GRACE_SECONDS = 3.0
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    """Every live process below ``root``."""
    children, found, todo = _children(), [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_all(grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to everything below this process, SIGKILL to what is left after ``grace`` seconds."""
    me = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in descendants(me):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 1.0)
        while time.monotonic() < deadline:
            _reap()
            if not descendants(me):
                return
            time.sleep(0.05)


def _stop(signum: int, _frame: FrameType | None) -> None:
    stop_all()
    os._exit(128 + signum)


def main() -> int:
    real = os.environ.pop("OPSPILOT_ANSIBLE_PLAYBOOK", "")
    parent = int(os.environ.pop("OPSPILOT_PARENT_PID", "0") or 0)
    pidfile = os.environ.pop("OPSPILOT_GUARD_PIDFILE", "")
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _stop)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if parent and os.getppid() != parent:  # OpsPilot died before the guard was armed
        return 129
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write(str(os.getpid()))
    if not real:
        print("opspilot guard: OPSPILOT_ANSIBLE_PLAYBOOK is not set", file=sys.stderr)
        return 2
    child = subprocess.Popen([real, *sys.argv[1:]])
    code = child.wait()
    stop_all(grace=1.0)  # a worker left behind by a playbook that ended
    return code


if __name__ == "__main__":
    sys.exit(main())
