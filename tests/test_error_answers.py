"""Framework answers under /api/ and /app/ are JSON in the error shape, debug on or off; HTML elsewhere."""

import json
import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) <= {"error", "code", "fields", "request_id"}
    # Support finds the request's log lines by the id the answer carries, in its body and header alike.
    assert body["request_id"] == response["X-Request-Id"]
    assert body["error"].endswith(".")
    return body


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_it_answers_an_unknown_api_path_in_json_that_points_at_the_schema(debug, partner_client):
    response = partner_client.get("/api/v1/positions")  # positions live under /customers/{id}/
    assert response.status_code == 404
    body = error_of(response)
    assert body["code"] == "not_found"
    assert "/api/v1/positions" in body["error"]
    assert "/api/schema/" in body["error"]
    assert b"<html" not in response.content.lower()


def test_it_names_the_right_path_when_a_trailing_slash_was_added(debug, partner_client):
    response = partner_client.post("/api/v1/orders/", {}, format="json")
    assert response.status_code == 404
    body = error_of(response)
    assert body["code"] == "not_found"
    assert "use /api/v1/orders." in body["error"]

    detail = partner_client.get("/api/v1/customers/6b0c4b54-4b1b-4d79-8f3e-0d3c3c9a6a11/")
    assert "use /api/v1/customers/6b0c4b54-4b1b-4d79-8f3e-0d3c3c9a6a11." in error_of(detail)["error"]


def test_it_answers_an_unknown_path_without_a_key_in_json_too(debug, api_client):
    response = api_client.get("/api/v2/anything")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_answers_the_webs_unknown_app_paths_in_json(debug, client):
    response = client.get("/app/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_answers_a_wrong_method_on_an_app_endpoint_in_json_with_allow(debug, client):
    response = client.get("/app/session/challenge")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def test_pages_outside_api_and_app_keep_djangos_html(settings, client):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_refuses_a_body_over_the_upload_limit_with_413_naming_the_limit(debug, settings, partner_client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"external_id": "u-1", "email": "a@example.com", "padding": "x" * 2000})
    for path in ("/api/v1/customers", "/api/v1/orders?exchange=kalshi"):
        response = partner_client.post(path, data=big, content_type="application/json")
        assert response.status_code == 413, path
        body = error_of(response)
        assert body["code"] == "request_too_large"
        assert "1,000 bytes" in body["error"]
        assert f"{len(big):,} bytes" in body["error"]


def test_it_refuses_a_body_over_the_upload_limit_on_the_web_endpoints_too(debug, settings, client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/app/session/challenge", data=json.dumps({"pad": "x" * 2000}), content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_it_refuses_a_foreign_host_with_400_in_json(debug, partner_client, caplog):
    with caplog.at_level(logging.WARNING):
        response = partner_client.get("/api/v1/customers", HTTP_HOST="evil.example")
    assert response.status_code == 400
    body = error_of(response)
    assert body["code"] == "disallowed_host"
    assert "evil.example" not in body["error"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_foreign_host_on_an_html_page_is_logged_as_a_warning_not_an_error(settings, client, caplog):
    settings.DEBUG = False
    with caplog.at_level(logging.WARNING):
        response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    hosts = [record for record in caplog.records if record.name == "django.security.DisallowedHost"]
    assert hosts
    assert {record.levelname for record in hosts} == {"WARNING"}


def test_a_failed_csrf_check_on_the_web_endpoints_answers_json(debug):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/app/session/challenge", data=json.dumps({"address": "0x0"}), content_type="application/json"
    )
    assert response.status_code == 403
    body = error_of(response)
    assert body["code"] == "csrf_failed"
    assert "Reload the page" in body["error"]


def test_a_failed_csrf_check_on_a_form_keeps_djangos_page(settings):
    settings.DEBUG = False
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_crash_under_api_answers_500_in_json_when_debug_is_off(settings, partner_client, monkeypatch):
    from orders import exchanges

    def boom():
        raise RuntimeError("a bug")

    monkeypatch.setattr(exchanges, "exchanges_list", boom)
    settings.DEBUG = False
    partner_client.raise_request_exception = False
    response = partner_client.get("/api/v1/exchanges")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"


# --- One Content-Type rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/customers", "/api/v1/orders?exchange=kalshi"], ids=["customers", "orders"]
)
def test_every_partner_endpoint_refuses_a_body_that_is_not_json_with_415(path, partner_client):
    response = partner_client.post(
        path,
        data=json.dumps({"external_id": "u-1"}),
        content_type="text/plain",
        HTTP_IDEMPOTENCY_KEY="key-415",
        HTTP_X_BUILDER_CUSTOMER_ID="6b0c4b54-4b1b-4d79-8f3e-0d3c3c9a6a11",
    )
    assert response.status_code == 415
    body = error_of(response)
    assert body["code"] == "unsupported_media_type"
    assert "application/json" in body["error"]
    assert "text/plain" in body["error"]


def test_an_order_sent_as_json_with_a_charset_is_accepted_past_the_content_type_check(partner_client):
    response = partner_client.post(
        "/api/v1/orders?exchange=kalshi",
        data=json.dumps({"market_id": "M"}),
        content_type="application/json; charset=utf-8",
        HTTP_IDEMPOTENCY_KEY="key-charset",
    )
    assert response.status_code == 400  # past the 415 check: the body itself is incomplete
    assert response.json()["code"] != "unsupported_media_type"


def test_the_web_endpoints_refuse_a_body_that_is_not_json_with_415(client):
    response = client.post(
        "/app/session/challenge", data=json.dumps({"address": "0x0"}), content_type="text/plain"
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
