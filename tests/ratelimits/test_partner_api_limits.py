"""Each partner's API budget: X-RateLimit-* on every answer, 429 in the error shape with Retry-After once
it is spent, its own figures from the admin override, and no partner spending another's."""

from __future__ import annotations

import pytest
from factories import make_api_key, make_partner
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from ratelimits.buckets import bucket_reset
from ratelimits.limits import partner_bucket_key
from ratelimits.models import PartnerRateLimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.RATE_LIMITS_ENABLED = True
    settings.PARTNER_API_RATE = 1
    settings.PARTNER_API_BURST = 3
    return settings


def client_of(partner) -> APIClient:
    # Redis outlives the test database: a partner id seen in an earlier run must start with a full bucket.
    bucket_reset(key=partner_bucket_key(partner.pk))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    return client


def test_the_burst_passes_with_the_budget_in_headers_then_429_says_when_to_retry(limits):
    client = client_of(make_partner(name="Busy"))
    answers = [client.get("/api/v1/orders") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer["X-RateLimit-Limit"] for answer in answers] == ["3", "3", "3"]
    assert [answer["X-RateLimit-Remaining"] for answer in answers] == ["2", "1", "0"]
    assert all(1 <= int(answer["X-RateLimit-Reset"]) <= 3 for answer in answers)

    refused = client.get("/api/v1/orders", HTTP_X_REQUEST_ID="limit-1")
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limit_exceeded"
    assert body["request_id"] == "limit-1"
    assert "3 requests at once and 1 a second" in body["error"]
    assert refused["Retry-After"] == "1"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Limit"] == "3"


def test_an_error_answer_also_spends_and_reports_the_budget(limits):
    client = client_of(make_partner(name="Clumsy"))
    missing = client.get("/api/v1/orders/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing["X-RateLimit-Remaining"] == "2"


def test_a_partners_override_replaces_the_settings_and_other_partners_keep_their_own_budget(limits):
    limits.PARTNER_API_BURST = 100
    strict = make_partner(name="Strict")
    PartnerRateLimit.objects.create(partner=strict, rate_per_second=1, burst=1)
    strict_client, other_client = client_of(strict), client_of(make_partner(name="Other"))

    assert strict_client.get("/api/v1/orders").status_code == 200
    refused = strict_client.get("/api/v1/orders")
    assert refused.status_code == 429
    assert refused["X-RateLimit-Limit"] == "1"

    other = other_client.get("/api/v1/orders")
    assert other.status_code == 200
    assert (other["X-RateLimit-Limit"], other["X-RateLimit-Remaining"]) == ("100", "99")


def test_requests_without_a_valid_key_are_not_counted_against_anyone(limits, api_client):
    refused = api_client.get("/api/v1/orders")
    assert refused.status_code == 401
    assert "X-RateLimit-Limit" not in refused


def test_limits_switched_off_leave_requests_and_headers_alone(limits):
    limits.RATE_LIMITS_ENABLED = False
    client = client_of(make_partner(name="Free"))
    answers = [client.get("/api/v1/orders") for _ in range(5)]
    assert {answer.status_code for answer in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[-1]


def test_the_budget_a_partner_has_left_is_a_gauge_of_metrics(limits, client):
    limits.METRICS_TOKEN = "rate-gauge-token"
    partner = make_partner(name="Watched")
    partner_client = client_of(partner)
    for _ in range(2):
        assert partner_client.get("/api/v1/orders").status_code == 200

    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer rate-gauge-token").content.decode()
    [gauge] = [
        sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "partner_api_rate_remaining" and sample.labels == {"partner": str(partner.pk)}
    ]
    assert gauge == 1  # a burst of 3, two spent


def test_the_schema_declares_the_budget_headers_on_every_answer_and_retry_after_on_429():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    declared = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                headers = set(answer.get("headers", {}))
                if status == "401":
                    assert not headers & {"X-RateLimit-Remaining"}, f"{method} {path} 401"
                    continue
                assert headers >= {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}, (
                    f"{method} {path} {status}"
                )
                assert ("Retry-After" in headers) == (status == "429"), f"{method} {path} {status}"
                declared += 1
    assert declared > 100
    assert schema["paths"]["/api/v1/orders"]["post"]["responses"]["429"]["headers"]["Retry-After"]["required"]
