"""An Ansible inventory as the fleet: ``ansible-inventory -i INVENTORY --list``, mapped host by host.

Ansible parses the inventory itself, so every form it reads works: YAML, INI, a directory, a
dynamic inventory script or an inventory plugin's config. ``--list`` already merges group vars into
each host's vars (``_meta.hostvars``). For each host:

- ``id`` is the inventory hostname and ``address`` is ``ansible_host`` when set;
- every other field comes from the variable ``mapping`` names for it (``environment`` from ``env``,
  ``role`` from ``role``, …), else from a group named ``<variable>_<value>`` (``role_web`` gives the
  role ``web``; with several, the first by name), else from a default: role ``unknown``, platform
  ``ansible``, region ``unknown``, image ``unknown``, image_version ``unknown``, no tags, no service;
- the environment may also come from membership of a group named after it (``prod``, ``staging``,
  …) and is normalised through ``environments`` (``live`` is production, ``sandbox`` development);
  a host whose environment is none of the known ones, or missing, is left out with a warning;
- ``tags`` may be a list or a comma-separated string. Group names do not become tags (every host
  would carry ``all`` and its field groups); set ``tags`` in a group's vars to tag the group.

Golden versions come from a ``golden_images`` mapping (image -> version), usually in ``all``'s vars.
A host whose image has no golden version is left out with a warning; hosts without an ``image``
variable are listed under image ``unknown``, whose golden version is ``unknown``.

Other host variables are never copied onto the asset: they may hold passwords.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError
from core.inventory.fleet import Asset, Fleet
from core.inventory.sources.base import InventorySource

logger = logging.getLogger(__name__)

DEFAULT_MAPPING: dict[str, str] = {
    "environment": "env",
    "role": "role",
    "platform": "platform",
    "region": "region",
    "tags": "tags",
    "service": "service",
    "image": "image",
    "image_version": "image_version",
}
DEFAULT_ENVIRONMENTS: dict[str, list[str]] = {
    "production": ["prod", "prd", "live"],
    "staging": ["stg", "stage"],
    "development": ["dev", "sandbox"],
}
DEFAULTS = {"role": "unknown", "platform": "ansible", "region": "unknown", "image": "unknown", "image_version": "unknown"}
UNKNOWN_IMAGE = "unknown"
GOLDEN_IMAGES_VAR = "golden_images"
INSTALL_HINT = "pip install 'opspilot[ansible]'"
_MESSAGE_LIMIT = 2000


def find_ansible_inventory() -> str | None:
    """The ``ansible-inventory`` installed next to this Python (a virtualenv not on PATH), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ansible-inventory")


class AnsibleSource(InventorySource):
    def __init__(
        self,
        inventory: str | Path,
        *,
        mapping: Mapping[str, str] | None = None,
        environments: Mapping[str, Sequence[str]] | None = None,
        timeout: float = 60.0,
        executable: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.inventory = Path(inventory)
        self.mapping = {**DEFAULT_MAPPING, **(mapping or {})}
        self.timeout = timeout
        self.executable = executable
        self.env = env  # None: this process's environment, so ansible.cfg and ANSIBLE_* apply
        self._aliases: dict[str, str] = {}
        for environment, names in {**DEFAULT_ENVIRONMENTS, **(environments or {})}.items():
            for name in [environment, *names]:
                self._aliases[name.strip().lower()] = environment
        self._left_out: dict[str, str] = {}
        self._last_warning = ""

    def describe(self) -> str:
        return f"Ansible inventory {self.inventory}"

    def left_out(self) -> Mapping[str, str]:
        return dict(self._left_out)

    async def load(self) -> Fleet:
        listing = await self._list()
        fleet, left_out = self.fleet_from_listing(listing)
        for host, reason in sorted(left_out.items()):
            if self._left_out.get(host) != reason:  # once per host and reason, not on every refresh
                logger.warning("inventory: host %s left out of the fleet: %s", host, reason)
        self._left_out = left_out
        return fleet

    # -- running Ansible ---------------------------------------------------------------------

    async def _list(self) -> dict[str, Any]:
        executable = self.executable or find_ansible_inventory()
        if executable is None:
            raise ConfigError(
                f"inventory.source is ansible but ansible-inventory is not installed; {INSTALL_HINT} (or put Ansible on PATH)"
            )
        if not self.inventory.exists():
            raise ConfigError(f"Ansible inventory not found: {self.inventory} (inventory.ansible.inventory in the config)")
        env = dict(os.environ if self.env is None else self.env)
        # An inventory Ansible cannot parse is an error, not an empty fleet.
        env.setdefault("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
        env.setdefault("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
        env.setdefault("ANSIBLE_NOCOLOR", "True")
        try:
            process = await asyncio.create_subprocess_exec(
                executable,
                "-i",
                str(self.inventory),
                "--list",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # a timeout ends the dynamic inventory script too
            )
        except OSError as exc:
            raise ConfigError(f"cannot run {executable}: {exc}; {INSTALL_HINT}") from exc
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError as exc:
            _kill_group(process)
            await process.wait()
            raise ConfigError(
                f"ansible-inventory -i {self.inventory} did not finish within {self.timeout:g}s "
                "(inventory.ansible.timeout in the config)"
            ) from exc
        message = _clean(stderr)
        if process.returncode != 0:
            raise ConfigError(
                f"Ansible cannot read the inventory {self.inventory} (exit {process.returncode}): "
                f"{message or 'no message from ansible-inventory'}"
            )
        if message:  # Ansible's warnings: logged when they change, not on every refresh
            level = logging.DEBUG if message == self._last_warning else logging.WARNING
            logger.log(level, "ansible-inventory -i %s: %s", self.inventory, message)
        self._last_warning = message
        try:
            listing = json.loads(stdout)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"ansible-inventory -i {self.inventory} --list did not print JSON: {exc}") from exc
        if not isinstance(listing, dict):
            raise ConfigError(f"ansible-inventory -i {self.inventory} --list printed {type(listing).__name__}, not a mapping")
        return listing

    # -- mapping hosts to assets -------------------------------------------------------------

    def fleet_from_listing(self, listing: Mapping[str, Any]) -> tuple[Fleet, dict[str, str]]:
        """The fleet in an ``ansible-inventory --list`` document, and the hosts left out (host -> reason)."""
        meta = listing.get("_meta")
        hostvars: Mapping[str, Any] = (meta.get("hostvars") if isinstance(meta, dict) else None) or {}
        groups_of = _groups_of_hosts(listing)
        hosts = sorted(set(groups_of) | set(hostvars))
        declared = self._golden_images(hosts, hostvars)
        golden = {UNKNOWN_IMAGE: "unknown", **declared}
        assets: list[Asset] = []
        left_out: dict[str, str] = {}
        for host in hosts:
            variables = hostvars.get(host)
            asset = self._asset(host, variables if isinstance(variables, dict) else {}, groups_of.get(host, set()))
            if isinstance(asset, str):
                left_out[host] = asset
            elif asset.image not in golden:
                left_out[host] = (
                    f"image {asset.image!r} has no golden version; add it to {GOLDEN_IMAGES_VAR} in the inventory's all vars"
                )
            else:
                assets.append(asset)
        if not any(a.image == UNKNOWN_IMAGE for a in assets) and UNKNOWN_IMAGE not in declared:
            del golden[UNKNOWN_IMAGE]  # listed only when some host has no image
        return Fleet(golden_images=golden, assets=assets), left_out

    def _golden_images(self, hosts: Sequence[str], hostvars: Mapping[str, Any]) -> dict[str, str]:
        golden: dict[str, str] = {}
        source: dict[str, str] = {}
        for host in hosts:
            variables = hostvars.get(host)
            declared = variables.get(GOLDEN_IMAGES_VAR) if isinstance(variables, dict) else None
            if not isinstance(declared, dict):
                continue
            for name, value in declared.items():
                image, version = str(name), _text(value)
                if image in source and golden[image] != version:
                    raise ConfigError(
                        f"Ansible inventory {self.inventory}: {GOLDEN_IMAGES_VAR} gives image {image!r} version "
                        f"{golden[image]!r} for host {source[image]} but {version!r} for host {host}; set it once, in all's vars"
                    )
                golden[image] = version
                source.setdefault(image, host)
        return golden

    def _asset(self, host: str, variables: Mapping[str, Any], groups: set[str]) -> Asset | str:
        """The asset for one host, or why it is left out."""
        environment = self._environment(variables, groups)
        if environment.startswith("!"):
            return environment[1:]
        fields: dict[str, Any] = {"id": host, "environment": environment}
        for name, default in DEFAULTS.items():
            value = self._value(name, variables, groups)
            fields[name] = _text(value) if value is not None else default
        if (service := self._value("service", variables, groups)) is not None:
            fields["service"] = _text(service)
        if (tags := self._value("tags", variables, groups)) is not None:
            fields["tags"] = _tags(tags)
        if (address := variables.get("ansible_host")) not in (None, ""):
            fields["address"] = _text(address)
        try:
            return Asset.model_validate(fields)
        except ValidationError as exc:
            return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])

    def _value(self, field: str, variables: Mapping[str, Any], groups: set[str]) -> Any:
        variable = self.mapping[field]
        value = variables.get(variable)
        if value not in (None, "", []):
            return value
        prefix = f"{variable}_"
        named = sorted(g[len(prefix) :] for g in groups if g.startswith(prefix) and len(g) > len(prefix))
        return named[0] if named else None

    def _environment(self, variables: Mapping[str, Any], groups: set[str]) -> str:
        """The known environment name, or ``!`` and the reason the host is left out."""
        variable = self.mapping["environment"]
        value = variables.get(variable)
        if value not in (None, ""):
            found = self._aliases.get(_text(value).strip().lower())
            if found is None:
                return f"!unknown environment {_text(value)!r} in {variable}; known: {self._known()}"
            return found
        prefix = f"{variable}_"
        candidates = {g: g[len(prefix) :] if g.startswith(prefix) else g for g in groups}
        matched = {g: self._aliases[name.lower()] for g, name in candidates.items() if name.lower() in self._aliases}
        if len(set(matched.values())) > 1:
            return f"!its groups name several environments ({', '.join(sorted(matched))})"
        if matched:
            return next(iter(matched.values()))
        unknown = sorted(name for g, name in candidates.items() if g.startswith(prefix))
        if unknown:
            return f"!unknown environment {unknown[0]!r} in group {prefix}{unknown[0]}; known: {self._known()}"
        return f"!no environment: set {variable} or put the host in a group such as prod, staging or dev"

    def _known(self) -> str:
        return ", ".join(sorted(self._aliases))


def _groups_of_hosts(listing: Mapping[str, Any]) -> dict[str, set[str]]:
    """Host -> every group it belongs to, directly or through child groups."""
    direct: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for name, group in listing.items():
        if name == "_meta" or not isinstance(group, dict):
            continue
        direct[name] = [str(h) for h in group.get("hosts") or []]
        children[name] = [str(c) for c in group.get("children") or []]

    memo: dict[str, set[str]] = {}

    def members(group: str, seen: frozenset[str]) -> set[str]:
        if group in memo:
            return memo[group]
        found = set(direct.get(group, []))
        for child in children.get(group, []):
            if child not in seen:
                found |= members(child, seen | {child})
        memo[group] = found
        return found

    groups_of: dict[str, set[str]] = {}
    for group in direct:
        for host in members(group, frozenset({group})):
            groups_of.setdefault(host, set()).add(group)
    return groups_of


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def _tags(value: object) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list | tuple) else [value]
    return [t for t in (_text(item).strip() for item in items) if t]


def _clean(stderr: bytes) -> str:
    text = "\n".join(line.rstrip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
