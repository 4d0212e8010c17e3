"""Swagger UI and Redoc render the partner API in headless Chromium with nothing fetched from outside."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def offline_page(chromium, live_server):
    """A page whose every request to a host other than this machine fails the test (and is refused)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    outside: list[str] = []
    local: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            local.append(url)
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.outside_requests = outside
    page.local_requests = local
    yield page
    context.close()


def test_swagger_ui_renders_every_operation_from_our_own_files(offline_page, live_server, screenshot):
    page = offline_page

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary")
    page.wait_for_function("document.querySelectorAll('.opblock').length >= 13")

    assert page.locator(".opblock").count() >= 13
    assert page.get_by_text("Place an order for a customer").count() >= 1
    assert page.get_by_text("/api/v1/orders/{order_id}/fee-authorization").count() >= 1
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in page.local_requests)
    screenshot(page, "api-docs-swagger")
    assert page.outside_requests == []


def test_redoc_renders_the_operations_and_their_schemas_from_our_own_files(
    offline_page, live_server, screenshot
):
    page = offline_page

    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("[data-section-id]")
    page.get_by_role("menuitem").filter(has_text="Place an order for a customer").first.wait_for()

    assert page.locator("h2", has_text="Place an order for a customer").count() == 1
    assert page.get_by_text("X-Builder-Customer-Id").count() >= 1
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in page.local_requests)
    screenshot(page, "api-docs-redoc")
    assert page.outside_requests == []
