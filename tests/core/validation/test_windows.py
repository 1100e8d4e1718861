from __future__ import annotations

import pytest

from core.config import PoliciesConfig
from core.validation.windows import parse_window


def test_day_ranges_wrap_around_the_week() -> None:
    window = parse_window("fri-mon 22:00-04:30")
    assert window.days == ("Friday", "Saturday", "Sunday", "Monday")
    assert (window.start_minute, window.end_minute) == (22 * 60, 4 * 60 + 30)
    assert window.label == "fri-mon 22:00-04:30 UTC"


def test_day_groups_and_lists() -> None:
    assert parse_window("weekdays 01:00-05:00").days[-1] == "Friday"
    assert parse_window("mon,wed 01:00-05:00").days == ("Monday", "Wednesday")


@pytest.mark.parametrize("text", ["sometimes", "funday 01:00-02:00", "mon 25:00-02:00", "mon 02:00-02:00"])
def test_unreadable_windows_are_refused_when_the_config_loads(text: str) -> None:
    with pytest.raises(ValueError, match="change window"):
        PoliciesConfig(change_windows=[text])
