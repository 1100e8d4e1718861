"""Reference data behind ports: CVE feed, controls, facts, logs/events, infra graph, billing, images,
SOP templates and API descriptions. Tools read them by kind from ``ToolContext.sources``."""

from __future__ import annotations

from pathlib import Path

from core.sources.base import DataSource, check_document
from core.sources.files import FileSource
from core.sources.memory import StaticSource
from core.sources.schemas import FILE_NAMES, SCHEMAS

__all__ = ["FILE_NAMES", "SCHEMAS", "DataSource", "FileSource", "StaticSource", "check_document", "file_sources"]


def file_sources(data_dir: str | Path) -> dict[str, DataSource]:
    """One FileSource per kind, named ``<kind>.yaml`` in ``data_dir``; missing files fail on first use."""
    directory = Path(data_dir)
    return {kind: FileSource(kind, directory / name) for kind, name in FILE_NAMES.items()}
