"""A fleet file that is missing, unreadable or invalid stops OpsPilot at startup, not at the first ask."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from core.config import load_config
from core.errors import ConfigError
from core.service import OpsPilot

GOOD_ASSET = (
    "{id: web-1, environment: staging, role: web-server, platform: aws, region: us-east-1, image: base, image_version: '1.0'}"
)
BROKEN = {
    "missing": (None, "fleet file not found"),
    "not_yaml": ("golden_images: {base: '1.0'\nassets: [", "cannot read fleet file"),
    "not_json": ('{"golden_images": {"base": "1.0"}, "assets": [}', "cannot read fleet file"),
    "bad_asset": (
        f"golden_images: {{base: '1.0'}}\nassets:\n  - {GOOD_ASSET}\n"
        "  - {id: web-2, environment: staging, role: web-server, platform: aws, region: us-east-1, image: base}",
        r"assets\[1\] \(id web-2\)\.image_version: Field required",
    ),
}


def _config_file(tmp_path: Path, case: str) -> Path:
    content, _ = BROKEN[case]
    fleet = tmp_path / ("fleet.json" if case == "not_json" else "fleet.yaml")
    if content is not None:
        fleet.write_text(content)
    config = tmp_path / "opspilot.yaml"
    config.write_text(f"inventory:\n  path: {fleet.name}\n")
    return config


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_service_refuses_to_start_with_a_broken_fleet_file(tmp_path: Path, case: str) -> None:
    database = tmp_path / "opspilot.db"
    config = load_config(_config_file(tmp_path, case), env={"DATABASE_URL": f"sqlite:///{database}"})
    with pytest.raises(ConfigError, match=BROKEN[case][1]) as caught:
        await OpsPilot.create(config)
    assert "fleet" in str(caught.value) and str(config.inventory.path) in str(caught.value)
    assert not database.exists()  # refused before anything was created


async def test_a_valid_fleet_file_starts(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(f"golden_images: {{base: '1.1'}}\nassets:\n  - {GOOD_ASSET}\n")
    (tmp_path / "opspilot.yaml").write_text("inventory:\n  path: fleet.yaml\n")
    config = load_config(tmp_path / "opspilot.yaml", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'opspilot.db'}"})
    service = await OpsPilot.create(config)
    try:
        assert [a.id for a in (await service.inventory.fleet()).assets] == ["web-1"]
    finally:
        await service.close()


def test_serve_exits_2_and_names_the_fleet_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "OPSPILOT_CONFIG", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'opspilot.db'}")
    config = _config_file(tmp_path, "bad_asset")
    code = main(["--config", str(config), "serve", "--port", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "fleet file" in err and "assets[1] (id web-2).image_version" in err and "Traceback" not in err
