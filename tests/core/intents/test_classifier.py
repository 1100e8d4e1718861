"""The intent model on asks it never saw: the right agent, an honest confidence, the runners-up, and "none"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.intents import NONE, load_corpus
from core.intents.model import IntentModel
from core.intents.reader import build_reader, default_reader
from core.intents.training import SETTINGS

# Written for this test, none of them in the corpus (checked below): what the model must generalise to.
UNSEEN = {
    "drift_agent": [
        "several prod api boxes no longer run the golden version, line them up again",
        "get the staging caches back onto their golden image",
        "are the dev workers still matching golden or did they wander off",
    ],
    "patch_agent": [
        "roll the openssh security fix out to the staging api hosts",
        "the db servers in prod need this month's security patches",
        "ship the fix for CVE-2024-6387 to every prod web box",
    ],
    "compliance_agent": [
        "do the prod databases pass the CIS controls",
        "pull together SOC 2 evidence for the auditors about staging",
        "is every prod host meeting our PCI hardening requirements",
    ],
    "incident_agent": [
        "checkout started throwing 502s around midnight, what happened",
        "why has the storefront been so sluggish since this morning",
        "payments keeps failing requests in production",
    ],
    "dr_agent": [
        "what would break for customers if europe-west1 disappeared",
        "rehearse moving checkout traffic to us-west-2 in case of a regional failure",
        "how many minutes would postgres need to come back if us-east-1 is lost",
    ],
    "cost_agent": [
        "which of our dev machines are burning money while idle",
        "our azure invoice keeps climbing, where can we trim it",
        "suggest ways to spend less on the staging environment",
    ],
    "security_agent": [
        "list any staging hosts that accept ssh from the whole internet",
        "check whether any storage buckets are readable by the public",
        "which prod servers carry known critical vulnerabilities",
    ],
    "image_agent": [
        "produce the next ubuntu-base version and promote it once it passes tests",
        "bake a fresh rhel-base ami with this week's packages",
        "get a newer golden windows-base built for staging",
    ],
    "sop_agent": [
        "put together a step-by-step procedure for renewing the api gateway certificate",
        "we need a written runbook for recovering a crashed redis node",
        "document the checklist engineers follow before a database migration",
    ],
    "adapter_agent": [
        "let opspilot pull incidents out of the pagerduty rest api",
        "create a servicenow cmdb connector so we can import our hosts",
        "generate an integration with the statuspage api",
    ],
}
OUT_OF_SCOPE = [
    "could you order sushi for the team lunch",
    "write me a sonnet about the sea",
    "what is the weather in paris tomorrow",
]


@pytest.fixture(scope="module")
def reader():
    return default_reader()


def test_the_unseen_phrasings_are_not_in_the_corpus() -> None:
    corpus = {text.lower() for text, _ in load_corpus().pairs()}
    for asks in UNSEEN.values():
        assert not corpus & {a.lower() for a in asks}
    assert not corpus & {a.lower() for a in OUT_OF_SCOPE}


@pytest.mark.parametrize("agent, text", [(agent, text) for agent, asks in UNSEEN.items() for text in asks])
def test_unseen_phrasings_are_read_as_their_agent(reader, agent: str, text: str) -> None:
    reading = reader.read(text)

    assert reading.agent == agent, (reading.agent, reading.confidence, reading.alternatives)


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
def test_asks_about_something_opspilot_does_not_do_are_read_as_none(reader, text: str) -> None:
    reading = reader.read(text)

    assert reading.agent == NONE and reading.out_of_scope


def test_a_reading_has_a_probability_per_label_and_the_runners_up_in_order(reader) -> None:
    reading = reader.read("payments outage cost")

    ranked = [reading.confidence, *(a.confidence for a in reading.alternatives)]
    assert ranked == sorted(ranked, reverse=True) and all(0 <= p <= 1 for p in ranked)
    assert len(reading.alternatives) == 3 and reading.agent not in {a.agent for a in reading.alternatives}
    document = reading.to_document()
    assert set(document) == {"agent", "confidence", "alternatives", "entities"}
    assert document["entities"]["services"] == ["payments"]


def test_a_mixed_ask_is_unclear_and_offers_its_likeliest_agents() -> None:
    strict = build_reader(min_confidence=0.95)

    reading = strict.read("payments outage cost")
    likely = [a.agent for a in reading.likely_agents()]

    assert not reading.clear
    assert set(likely[:2]) == {"incident_agent", "cost_agent"}


def test_training_is_deterministic_and_the_model_survives_a_round_trip() -> None:
    pairs = load_corpus().pairs()[::7]
    first, second = IntentModel.train(pairs, SETTINGS), IntentModel.train(pairs, SETTINGS)
    restored = IntentModel.from_document(json.loads(json.dumps(first.to_document())))

    for text in ("fix drift on prod", "where can we save money", "order a pizza"):
        a, b, c = first.predict(text), second.predict(text), restored.predict(text)
        assert a.label == b.label == c.label and abs(a.confidence - c.confidence) < 1e-4


def test_an_extra_corpus_teaches_new_phrasings_at_startup(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPSPILOT_CACHE_DIR", str(tmp_path / "cache"))
    ask = "zorblax the quuxifier on the flimflam"
    assert default_reader().read(ask).agent != "cost_agent"
    extra = tmp_path / "asks.yaml"
    extra.write_text(
        "agent: cost_agent\nasks:\n"
        + "".join(f"  - zorblax the quuxifier {w}\n" for w in ("now", "please", "on the flimflam", "again", "today", "for us"))
        + "---\nagent: none\nasks:\n  - flimflam jamboree\n",
        encoding="utf-8",
    )

    retrained = build_reader([extra])

    assert retrained.read(ask).agent == "cost_agent"
    assert list((tmp_path / "cache").glob("intents-*.json")), "the trained model is cached on disk"
    assert build_reader([extra]).model is retrained.model, "and in memory: the same corpus is trained once"


@pytest.mark.parametrize(
    "content, problem",
    [
        ("agent: chef_agent\nasks: [cook]\n", "unknown agent 'chef_agent'"),
        ("agent: cost_agent\nasks: [yes]\n", "quote asks"),
        ("- just a list\n", "each document is a mapping"),
        ("agent: cost_agent\nasks: {a: b}\n", "must be a list"),
    ],
)
def test_a_malformed_extra_corpus_stops_startup_with_the_file_and_the_problem(tmp_path: Path, content: str, problem: str) -> None:
    extra = tmp_path / "asks.yaml"
    extra.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=problem) as caught:
        build_reader([extra])

    assert str(extra) in str(caught.value)
