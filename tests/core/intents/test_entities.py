"""What an ask names, read against the inventory's names: environments (in host names too), services, roles,
regions, platforms, CVE ids, images, hosts, resources, and time ranges resolved against a fixed now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.intents.entities import extract
from core.intents.lexicon import Lexicon
from core.intents.reader import sample_lexicon
from core.inventory.fleet import Asset, Fleet

NOW = datetime(2024, 6, 12, 9, 30, tzinfo=UTC)  # a Wednesday


def read(text: str, lexicon: Lexicon | None = None) -> dict:
    return extract(text, lexicon or sample_lexicon(), NOW).to_document()


@pytest.mark.parametrize(
    "text, environment",
    [
        ("fix drift on prod web servers", "production"),
        ("patch prd", "production"),
        ("scan the live servers", "production"),
        ("patch stg", "staging"),
        ("errors in uat", "staging"),
        ("patch preprod", "staging"),
        ("checkout is broken in pre-prod", "staging"),
        ("fix drift in the sandbox", "development"),
        ("fix drift on dev-web-04", "development"),
        ("web-prod-002 has drifted", "production"),
        ("scan all envs for public buckets", "all"),
        ("compliance everywhere", "all"),
        ("promote ubuntu-base from staging to prod", "production"),
        ("where can we cut cost", None),
        ("go-live checklist for checkout", None),
        ("write a devops runbook", None),
    ],
)
def test_environment_words_abbreviations_and_host_names(text: str, environment: str | None) -> None:
    assert read(text)["environment"] == environment


def test_services_from_the_inventory_and_the_sample_data_scope_the_ask() -> None:
    assert read("why did the payments service go down")["services"] == ["payments"]
    assert read("the payment service is slow")["services"] == ["payments"]
    assert read("502s on the api gateway")["services"] == ["api-gateway"]
    assert read("checkout and storefront errors")["services"] == ["checkout", "storefront"]
    assert read("the ledger service is throwing errors")["services"] == ["ledger"]
    assert "services" not in read("order pizza")


def test_services_and_tags_of_a_fleet_become_its_asset_ids() -> None:
    fleet = Fleet(
        golden_images={"ubuntu-base": "2.4.1"},
        assets=[
            Asset(id="pay-1", environment="production", role="api-server", platform="aws", region="us-east-1",
                  image="ubuntu-base", image_version="2.4.1", service="ledger", tags=("pci",)),
            Asset(id="pay-2", environment="staging", role="api-server", platform="aws", region="us-east-1",
                  image="ubuntu-base", image_version="2.4.1", service="ledger"),
        ],
    )  # fmt: skip
    lexicon = Lexicon.build(fleet, None)

    entities = extract("fix drift on the ledger hosts tagged pci", lexicon, NOW)

    assert entities.services == ("ledger",) and entities.tags == ("pci",)
    assert {(n, a, e) for n, a, e in entities.scope_assets} == {
        ("ledger", "pay-1", "production"),
        ("ledger", "pay-2", "staging"),
        ("pci", "pay-1", "production"),
    }


def test_roles_regions_platforms_cves_images_hosts_and_resources() -> None:
    found = read("patch CVE 2024 3094 on prod db servers in us east 1 on aws")
    assert (found["roles"], found["regions"], found["platforms"], found["cve_ids"]) == (
        ["database"],
        ["us-east-1"],
        ["aws"],
        ["CVE-2024-3094"],
    )
    assert read("plan a dr drill for frankfurt")["regions"] == ["eu-central-1"]
    assert read("bake a new ubuntu golden ami")["images"] == ["ubuntu-base"]
    assert read("promote rhel-base 9.3.3 to prod")["images"] == ["rhel-base"]
    assert read("is api-prod-003 exposed")["hosts"] == ["api-prod-003"]
    assert read("scan for public s3 buckets and open security groups")["resources"][:2] == ["bucket", "security_group"]
    assert "kubernetes" in read("errors on the k8s nodes")["platforms"]
    assert "roles" not in read("integrate the pagerduty api")


@pytest.mark.parametrize(
    "text, since, until",
    [
        ("why did payments go down last night", "2024-06-11T18:00:00Z", "2024-06-12T08:00:00Z"),
        ("errors in the past hour", "2024-06-12T08:30:00Z", "2024-06-12T09:30:00Z"),
        ("errors in the last 15 minutes", "2024-06-12T09:15:00Z", "2024-06-12T09:30:00Z"),
        ("what broke since monday", "2024-06-10T00:00:00Z", "2024-06-12T09:30:00Z"),
        ("checkout errors yesterday", "2024-06-11T00:00:00Z", "2024-06-12T00:00:00Z"),
        ("errors since 3pm", "2024-06-11T15:00:00Z", "2024-06-12T09:30:00Z"),
        ("what happened between 2 and 4am", "2024-06-12T02:00:00Z", "2024-06-12T04:00:00Z"),
        ("outage 2 hours ago", "2024-06-12T07:00:00Z", "2024-06-12T09:30:00Z"),
        ("what happened over the weekend", "2024-06-08T00:00:00Z", "2024-06-10T00:00:00Z"),
        ("slow since this morning", "2024-06-12T00:00:00Z", "2024-06-12T09:30:00Z"),
    ],
)
def test_time_ranges_are_resolved_against_now(text: str, since: str, until: str) -> None:
    window = read(text)["time_range"]

    assert (window["since"], window["until"]) == (since, until)


def test_no_time_named_means_no_time_range() -> None:
    assert "time_range" not in read("why is checkout erroring")
