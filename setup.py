"""Bundles the top-level ``schemas/`` and ``policies/`` into the built package as ``core/_bundled/``.

Those folders stay at the top of the repository as the one source of truth; wheels (and so every
install from one) carry a copy made at build time, which ``core/paths.py`` prefers when present. An
editable install (``pip install -e .``) copies nothing: ``core/paths.py`` then finds the checkout's folders.
Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("schemas", "policies")  # kept in step with core/paths.py


class BuildPyWithBundledData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "core" / "_bundled"
        for name in BUNDLED:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"cannot bundle {source}: the folder is missing from the source tree")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithBundledData})
