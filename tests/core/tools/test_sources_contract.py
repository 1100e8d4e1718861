"""Every DataSource implementation honours the same contract: a validated document of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.paths import SAMPLE_DATA_DIR
from core.sources import FILE_NAMES, DataSource, FileSource, StaticSource


def build(implementation: str, kind: str, document: object, tmp_path: Path) -> DataSource:
    if implementation == "file":
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return FileSource(kind, path)
    return StaticSource(kind, document)


IMPLEMENTATIONS = ["file", "static"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("kind", sorted(FILE_NAMES))
async def test_every_shipped_sample_file_loads_through_every_implementation(
    implementation: str, kind: str, tmp_path: Path
) -> None:
    shipped = yaml.safe_load((SAMPLE_DATA_DIR / FILE_NAMES[kind]).read_text(encoding="utf-8"))

    source = build(implementation, kind, shipped, tmp_path)

    assert await source.document() == shipped


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
async def test_a_document_that_breaks_its_schema_is_a_config_error_naming_the_field(implementation: str, tmp_path: Path) -> None:
    broken = {
        "cves": [{"id": "CVE-2024-0001", "title": "x", "severity": "apocalyptic", "cvss": 5, "package": "p", "affects": []}]
    }

    with pytest.raises(ConfigError, match=r"cves\.0\.severity"):
        await build(implementation, "cves", broken, tmp_path).document()


async def test_a_missing_file_names_the_config_key_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inventory\.data_dir"):
        await FileSource("billing", tmp_path / "billing.yaml").document()
