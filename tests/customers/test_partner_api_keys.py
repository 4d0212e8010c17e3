"""Partner authentication with X-API-Key: valid, missing, malformed, unknown, revoked, suspended, last use."""

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import make_api_key, make_partner
from rest_framework.test import APIClient

from audit.services import Actor
from customers import services
from customers.api_keys import KEY_PATTERN, api_key_hash
from customers.authentication import PartnerUser, api_key_authenticate
from customers.models import Partner, PartnerApiKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers"


def _get(raw_key: str | None):
    client = APIClient()
    if raw_key is not None:
        client.credentials(HTTP_X_API_KEY=raw_key)
    return client.get(URL)


def test_a_valid_key_authenticates_its_partner(partner, partner_api_key):
    response = _get(partner_api_key)
    assert response.status_code == 200, response.json()
    assert response.json()["results"] == []


def test_the_request_carries_the_partner_as_user_and_the_key_as_auth(partner, partner_api_key):
    api_key = api_key_authenticate(raw_key=partner_api_key, now=timezone.now())
    assert api_key.partner == partner
    user = PartnerUser(partner=api_key.partner)
    assert user.is_authenticated
    assert not user.is_staff


def test_keys_are_bp_followed_by_url_safe_randomness_and_stored_only_as_a_hash(partner):
    api_key, raw_key = services.partner_api_key_create(actor=Actor.system("test set-up"), partner=partner)
    assert KEY_PATTERN.fullmatch(raw_key)
    assert len(raw_key) >= 3 + 32
    assert api_key.prefix == raw_key[3:11]
    assert api_key.key_hash == api_key_hash(raw_key)
    stored = PartnerApiKey.objects.filter(pk=api_key.pk).values()[0]
    assert raw_key not in {str(value) for value in stored.values()}
    assert raw_key not in repr(api_key)
    assert api_key.key_hash not in repr(api_key)


def test_a_missing_key_is_refused_with_401_in_the_error_shape(db):
    response = _get(None)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Send your partner API key in the X-API-Key header.",
        "code": "unauthorized",
        "request_id": response["X-Request-Id"],
    }
    assert "X-API-Key" in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "raw_key", ["secret", "bp_short", "Bearer bp_" + "a" * 43, "bp_" + "!" * 43, "bp_" + "é" * 40]
)
def test_a_malformed_key_is_refused_with_a_sentence_saying_so(db, raw_key):
    response = _get(raw_key)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert "does not hold a platform API key" in body["error"]
    assert raw_key not in body["error"]


def test_an_unknown_key_is_refused(partner, partner_api_key):
    forged = partner_api_key[:11] + ("A" if partner_api_key[11] != "A" else "B") + partner_api_key[12:]
    response = _get(forged)
    assert response.status_code == 401
    assert response.json() == {
        "error": "This API key is not known; check it or create a new one.",
        "code": "unauthorized",
        "request_id": response["X-Request-Id"],
    }


def test_a_revoked_key_is_refused(partner):
    api_key, raw_key = make_api_key(partner=partner)
    assert services.partner_api_key_revoke(actor=Actor.system("test"), api_key=api_key, now=timezone.now())
    response = _get(raw_key)
    assert response.status_code == 401
    assert response.json()["error"] == "This API key has been revoked; use another key."


def test_revoking_twice_reports_the_second_as_a_no_op(partner):
    api_key, _ = make_api_key(partner=partner)
    now = timezone.now()
    assert services.partner_api_key_revoke(actor=Actor.system("test"), api_key=api_key, now=now) is True
    assert (
        services.partner_api_key_revoke(
            actor=Actor.system("test"), api_key=api_key, now=now + timedelta(hours=1)
        )
        is False
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at == now


def test_a_suspended_partners_key_still_reads_but_cannot_write():
    partner = make_partner(status=Partner.Status.SUSPENDED)
    _, raw_key = make_api_key(partner=partner)
    assert _get(raw_key).status_code == 200
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    response = client.post(URL, {"external_id": "user-1"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "partner_suspended"


def test_other_keys_of_the_same_partner_keep_working_after_one_is_revoked(partner):
    revoked, revoked_raw = make_api_key(partner=partner)
    _, kept_raw = make_api_key(partner=partner)
    services.partner_api_key_revoke(actor=Actor.system("test"), api_key=revoked, now=timezone.now())
    assert _get(revoked_raw).status_code == 401
    assert _get(kept_raw).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(partner, settings, django_assert_num_queries):
    settings.API_KEY_TOUCH_INTERVAL_SECONDS = 60
    api_key, raw_key = make_api_key(partner=partner)
    start = timezone.now()

    api_key_authenticate(raw_key=raw_key, now=start)
    assert PartnerApiKey.objects.get(pk=api_key.pk).last_used_at == start

    # Within the minute: only the lookup, no write.
    with django_assert_num_queries(1):
        api_key_authenticate(raw_key=raw_key, now=start + timedelta(seconds=59))
    assert PartnerApiKey.objects.get(pk=api_key.pk).last_used_at == start

    later = start + timedelta(seconds=61)
    api_key_authenticate(raw_key=raw_key, now=later)
    assert PartnerApiKey.objects.get(pk=api_key.pk).last_used_at == later


def test_a_stale_copy_of_the_key_does_not_write_over_a_fresher_touch(partner):
    api_key, _ = make_api_key(partner=partner)
    start = timezone.now()
    stale_copy = PartnerApiKey.objects.get(pk=api_key.pk)
    assert services.partner_api_key_touch(api_key=api_key, now=start) is True
    # Another worker loaded the key before that write; its conditional UPDATE must match nothing.
    assert services.partner_api_key_touch(api_key=stale_copy, now=start + timedelta(seconds=5)) is False
    assert PartnerApiKey.objects.get(pk=api_key.pk).last_used_at == start


def test_the_openapi_schema_describes_the_x_api_key_scheme(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["PartnerApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A partner API key (bp_...), created by an admin and shown once.",
    }
    assert {"PartnerApiKey": []} in schema["paths"]["/api/v1/customers"]["get"]["security"]
