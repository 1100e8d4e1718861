"""The {assets} placeholder: an anchored alternation, regex metacharacters escaped, safe in a PromQL string."""

from __future__ import annotations

import re

import pytest

from core.executor.conditions import METRICS
from core.executor.health.promql import DEFAULT_QUERIES, assets_regex, escape_regex, expand, meets, parse_threshold


def test_assets_become_an_alternation_that_also_accepts_a_port() -> None:
    regex = assets_regex(["web-prod-001", "web-prod-002", "web-prod-001"])
    assert regex == "(?:web-prod-001|web-prod-002)(?::[0-9]+)?"
    full = re.compile(regex)  # Prometheus anchors label regexes at both ends
    assert full.fullmatch("web-prod-001")
    assert full.fullmatch("web-prod-002:9100")
    assert not full.fullmatch("web-prod-0011")
    assert not full.fullmatch("xweb-prod-001")


@pytest.mark.parametrize("asset", ["db.prod.1", "svc+a", "a*b", "x?", "(g)", "a|b", "[c]", "{d}", "^e$", "back\\slash"])
def test_metacharacters_in_asset_ids_are_escaped(asset: str) -> None:
    assert re.fullmatch(escape_regex(asset), asset)
    assert re.fullmatch(assets_regex([asset]), asset)
    if "." in asset:
        assert not re.fullmatch(assets_regex([asset]), asset.replace(".", "X"))
    if "|" in asset:
        assert not re.fullmatch(assets_regex([asset]), "a")


def test_expansion_escapes_again_for_the_double_quoted_string() -> None:
    query = expand('up{instance=~"{assets}"}', ["db.prod.1", 'we"ird'])
    assert query == 'up{instance=~"(?:db\\\\.prod\\\\.1|we\\"ird)(?::[0-9]+)?"}'


def test_expansion_leaves_label_braces_alone_and_replaces_every_placeholder() -> None:
    query = expand(DEFAULT_QUERIES["error_rate"], ["web-1"])
    assert "{assets}" not in query
    assert query.count('instance=~"(?:web-1)(?::[0-9]+)?"') == 2
    assert 'code=~"5.."' in query


def test_there_is_a_default_query_with_the_placeholder_for_every_metric() -> None:
    assert set(DEFAULT_QUERIES) == set(METRICS)
    assert all("{assets}" in q for q in DEFAULT_QUERIES.values())


def test_no_assets_is_refused() -> None:
    with pytest.raises(ValueError, match="no assets"):
        assets_regex([])


def test_thresholds_of_prometheus_checks() -> None:
    assert parse_threshold("< 5") == ("<", 5.0)
    assert parse_threshold(">= 0.99") == (">=", 0.99)
    assert parse_threshold("<1e-3") == ("<", 0.001)
    assert parse_threshold("< 2%") == ("<", 2.0)
    with pytest.raises(ValueError, match="cannot read threshold"):
        parse_threshold("about five")
    assert meets(1.0, "<", 5.0) and not meets(6.0, "<", 5.0)
    assert not meets(float("nan"), "<", 5.0) and not meets(float("nan"), ">", 5.0)
