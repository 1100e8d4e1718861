from __future__ import annotations

import pytest

from core.intake import Ask, normalize_text
from core.intake import vocabulary as words


@pytest.mark.parametrize(
    ("text", "environment"),
    [
        ("fix drift on prod web servers", "production"),
        ("fix drift on production web", "production"),
        ("fix drift in staging", "staging"),
        ("drift on dev api", "development"),
    ],
)
def test_environment_synonyms(text, environment) -> None:
    assert words.environments(text) == [environment]


@pytest.mark.parametrize("phrase", ["web servers", "web", "web-server", "web-servers", "webservers"])
def test_web_server_synonyms(phrase) -> None:
    assert words.roles(f"fix drift on prod {phrase}") == ["web-server"]


def test_platforms_and_regions_are_found() -> None:
    text = "fix drift on prod web servers in aws us-east-1 and azure eastus and gcp europe-west1"
    assert words.platforms(text) == ["aws", "azure", "gcp"]
    assert words.regions(text) == ["us-east-1", "eastus", "europe-west1"]


def test_words_inside_other_words_do_not_count() -> None:
    assert words.roles("fix the webhook") == []
    assert words.environments("fix the developer docs") == []


def test_mentions_and_white_space_are_dropped_and_length_is_capped() -> None:
    assert normalize_text("<@U0OPSPILOT>   fix\n drift  ") == "fix drift"
    assert len(Ask.from_front("x" * 50_000, "U1").text) == 40_000
