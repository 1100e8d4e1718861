"""Where the shipped, non-Python files live (schemas, built-in policies, sample data).

``schemas/`` and ``policies/`` sit at the top of the repository. A wheel carries a copy of them as
``core/_bundled/`` (made by setup.py at build time); an editable install or a plain checkout has no
such copy and uses the repository's folders.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"


def shipped_dir(name: str) -> Path:
    """``core/_bundled/<name>`` in an installed wheel, else ``<checkout>/<name>``."""
    bundled = BUNDLED_DIR / name
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name


SCHEMAS_DIR = shipped_dir("schemas")
POLICIES_DIR = shipped_dir("policies")
SAMPLE_DATA_DIR = PACKAGE_DIR / "inventory" / "sample"
