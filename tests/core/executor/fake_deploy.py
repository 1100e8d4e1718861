"""A stand-in deployment tool for the crash tests, called by the ``command`` driver.

``fake_deploy.py LEDGER FLEET SLEEP_MS ACTION RUN_ID ASSET VERSION KEY ATTEMPT`` sets ASSET's ``image_version`` in the
fleet YAML (so the inventory reads what the "world" now holds) and appends one ledger line
``time parent-pid run key asset action attempt previous version``, both under one file lock and with SIGTERM held
back, so the two change together. Then it sleeps SLEEP_MS and prints ``{"previous", "current"}``. Like a careless real
tool, it applies again when called again with a key it has seen: the ledger shows every call.
Standard library only (it runs with ``python -S``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sys
import time


def main(argv: list[str]) -> int:
    ledger, fleet, sleep_ms, action, run_id, asset, version, key, attempt = argv
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # OpsPilot dying sends SIGTERM: finish the write first
    with open(ledger + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(fleet) as source:
            text = source.read()
        match = re.search(r"\{id: " + re.escape(asset) + r",[^\n]*image_version: \"([^\"]*)\"", text)
        if match is None:
            print(f"fake_deploy: unknown asset {asset}", file=sys.stderr)
            return 3
        previous = match.group(1)
        with open(fleet + ".tmp", "w") as out:
            out.write(text[: match.start(1)] + version + text[match.end(1) :])
        with open(ledger, "a") as out:
            out.write(f"{time.time():.3f} {os.getppid()} {run_id} {key} {asset} {action} {attempt} {previous} {version}\n")
        os.replace(fleet + ".tmp", fleet)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    time.sleep(int(sleep_ms) / 1000)
    print(json.dumps({"previous": previous, "current": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
