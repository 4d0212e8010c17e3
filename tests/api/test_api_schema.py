"""The OpenAPI schema at /api/schema/ is valid, covers every partner URL, and real answers conform to it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate
from orders_support import KALSHI_MARKET, order_body, polymarket_market
from rest_framework.test import APIClient
from schema_support import assert_conforms, served_schema

from fees.models import FeeLedgerEntry
from orders.models import Order

ERROR_REF = "#/components/schemas/Error"
METHODS = ("get", "post", "put", "patch", "delete")


def _walk_enums(node: Any, where: str, found: list[tuple[str, list]]) -> None:
    if isinstance(node, dict):
        if "enum" in node:
            found.append((where, node["enum"]))
        for key, value in node.items():
            _walk_enums(value, f"{where}/{key}", found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk_enums(value, f"{where}/{index}", found)


def _api_routes(patterns, prefix: str = "") -> list[tuple[str, Any]]:
    """(OpenAPI path, view) of every URL pattern, however deeply included."""
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.append((route, pattern.callback))
    return routes


def _openapi_path(route: str) -> str:
    import re

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_the_schema_is_valid_openapi_3_and_every_operation_is_documented(db):
    schema = served_schema(APIClient())

    validate(schema)  # raises on anything OpenAPI 3 does not allow
    assert schema["openapi"].startswith("3.1")
    operation_ids = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation.get("summary"), f"{name} has no summary"
            assert operation.get("description"), f"{name} has no description"
            assert operation.get("tags"), f"{name} has no tag"
            responses = operation["responses"]
            assert "401" in responses, f"{name} does not declare its 401"
            errors = {status: answer for status, answer in responses.items() if not status.startswith("2")}
            assert errors.keys() >= {"401"}
            for status, answer in errors.items():
                assert answer["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (
                    f"{name} {status} is not the Error shape"
                )
                assert answer["description"], f"{name} {status} has no description"
    assert len(operation_ids) == len(set(operation_ids))

    enums: list[tuple[str, list]] = []
    _walk_enums(schema, "", enums)
    assert enums, "the schema declares no enum at all"
    assert all(values for _, values in enums), [where for where, values in enums if not values]

    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "code", "request_id"}
    assert set(error["properties"]) == {"error", "code", "fields", "request_id"}


def test_every_partner_url_and_method_is_in_the_schema(db):
    schema = served_schema(APIClient())
    routes = [
        (path, view) for path, view in _api_routes(get_resolver().url_patterns) if path.startswith("api/v1/")
    ]

    assert len(routes) >= 10
    for route, view in routes:
        path = _openapi_path(route)
        assert path in schema["paths"], f"{path} is served but missing from the schema"
        view_class = view.view_class
        served = {method for method in METHODS if hasattr(view_class, method)}
        assert served == set(schema["paths"][path]), (
            f"{path}: served {served}, declared {set(schema['paths'][path])}"
        )


def test_the_order_create_body_and_headers_are_typed_exactly(db):
    schema = served_schema(APIClient())
    create = schema["paths"]["/api/v1/orders"]["post"]
    components = schema["components"]["schemas"]

    parameters = {(item["in"], item["name"]): item for item in create["parameters"]}
    assert parameters["header", "X-Builder-Customer-Id"]["required"] is True
    assert parameters["header", "X-Builder-Customer-Id"]["schema"]["type"] == "string"
    assert parameters["header", "Idempotency-Key"]["required"] is True
    assert parameters["query", "exchange"]["required"] is True
    body = components["OrderCreateRequest"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderCreateRequest"
    }
    assert create["requestBody"]["required"] is True
    assert set(body["required"]) == {"market_id", "outcome", "side", "price", "size"}
    assert body["additionalProperties"] is False
    assert body["properties"]["price"]["type"] == "number"
    price = body["properties"]["price"]
    assert (price["exclusiveMinimum"], price["exclusiveMaximum"]) == (0, 1)
    assert components["OrderSide"]["enum"] == ["buy", "sell"]
    params = components["OrderParams"]
    assert params["additionalProperties"] is False
    assert components["OrderType"]["enum"] == ["gtc", "ioc", "fok", "gtd"]
    assert params["properties"]["expiration"]["pattern"] == "^[0-9]+$"

    for path in ("/api/v1/orders", "/api/v1/customers"):
        listing = schema["paths"][path]["get"]
        names = {item["name"]: item for item in listing["parameters"]}
        assert names["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
        assert "cursor" in names
        page_ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = components[page_ref.rsplit("/", 1)[1]]
        assert set(page["required"]) == {"results", "next", "previous", "next_cursor"}

    market = components["Market"]["properties"]
    assert market["tick_size"]["type"] == ["number", "null"]
    assert market["min_order_size"]["type"] == ["number", "null"]
    assert market["outcome_prices"]["additionalProperties"]["type"] == ["number", "null"]
    assert components["MarketPage"]["properties"]["markets"]["deprecated"] is True
    statement = schema["paths"]["/api/v1/fees/statement"]["get"]["responses"]["200"]["content"]
    assert set(statement) == {"application/json", "text/csv"}
    totals = components["FeeTotals"]["properties"]
    assert "revenue share" in totals["partner_share"]["description"]


def test_real_answers_of_every_main_operation_conform_to_the_schema(sim_trader):
    schema = served_schema(APIClient())
    client = sim_trader.client

    def check(method: str, path: str, response, status: int) -> Any:
        assert response.status_code == status, getattr(response, "content", response)
        return assert_conforms(schema, method, path, response)

    # Customers: create, list, detail, a wallet challenge.
    created = check(
        "POST",
        "/api/v1/customers",
        client.post(
            "/api/v1/customers", {"external_id": "schema-user", "email": "s@example.com"}, format="json"
        ),
        201,
    )
    check(
        "POST",
        "/api/v1/customers",
        client.post("/api/v1/customers", {"external_id": "schema-user"}, format="json"),
        200,
    )
    check("GET", "/api/v1/customers", client.get("/api/v1/customers", {"limit": 1}), 200)
    check("GET", "/api/v1/customers/x", client.get(f"/api/v1/customers/{sim_trader.customer.id}"), 200)
    check("GET", "/api/v1/customers/x", client.get(f"/api/v1/customers/{created['id']}"), 200)
    challenge_path = f"/api/v1/customers/{created['id']}/wallet-challenges"
    check(
        "POST",
        challenge_path,
        client.post(challenge_path, {"address": sim_trader.signer.address}, format="json"),
        201,
    )

    # Orders: a fee-less Kalshi order, a Polymarket one with its fee authorization, list, detail, cancel.
    kalshi = check("POST", "/api/v1/orders", sim_trader.post_order(order_body(KALSHI_MARKET)), 201)
    polymarket = check(
        "POST",
        "/api/v1/orders",
        sim_trader.post_order(order_body(polymarket_market(), price=Decimal("0.55")), exchange="polymarket"),
        201,
    )
    assert polymarket["status"] == "awaiting_fee_auth"
    typed_data = polymarket["fee_authorization"]["typed_data"]
    fee_path = f"/api/v1/orders/{polymarket['id']}/fee-authorization"
    authorized = check(
        "POST",
        fee_path,
        client.post(fee_path, {"signature": sim_trader.sign(typed_data)}, format="json"),
        202,
    )
    assert authorized["fee"]["state"] == "signed"
    check("GET", "/api/v1/orders", client.get("/api/v1/orders", {"limit": 2}), 200)
    check("GET", "/api/v1/orders/x", client.get(f"/api/v1/orders/{polymarket['id']}"), 200)
    check("DELETE", "/api/v1/orders/x", client.delete(f"/api/v1/orders/{kalshi['id']}"), 202)

    # Markets, exchanges, the fee statement with every kind booked, as JSON and CSV.
    page = check(
        "GET", "/api/v1/markets", client.get("/api/v1/markets", {"exchange": "kalshi", "limit": 2}), 200
    )
    assert page["results"] == page["markets"]
    assert page["next_cursor"]
    assert page["next"]
    assert page["previous"] is None
    check(
        "GET",
        "/api/v1/markets",
        client.get("/api/v1/markets", {"cursor": page["next_cursor"], "limit": 2}),
        200,
    )
    check("GET", "/api/v1/exchanges", client.get("/api/v1/exchanges"), 200)
    authorization = Order.objects.get(pk=polymarket["id"]).fee_authorization
    today = datetime.now(tz=UTC)
    for kind in FeeLedgerEntry.Kind.values:
        FeeLedgerEntry.objects.create(
            fee_authorization=authorization,
            kind=kind,
            fill_id="fill-1" if kind in FeeLedgerEntry.PER_FILL else "",
            amount=1000,
            partner_id=authorization.partner_id,
            customer_id=authorization.customer_id,
            exchange="polymarket",
            created_at=today,
        )
    day = today.date().isoformat()
    statement = check(
        "GET", "/api/v1/fees/statement", client.get("/api/v1/fees/statement", {"start": day, "end": day}), 200
    )
    assert statement["customers"][0]["totals"]["partner_share"] == {"amount": 1000, "usdc": "0.001000"}
    check(
        "GET",
        "/api/v1/fees/statement",
        client.get("/api/v1/fees/statement", {"start": day, "end": day, "format": "csv"}),
        200,
    )

    # Errors, in the one shape, with the statuses each operation declares.
    check("GET", "/api/v1/orders", APIClient().get("/api/v1/orders"), 401)
    check("GET", "/api/v1/orders", client.get("/api/v1/orders", {"limit": 0}), 400)
    check("GET", "/api/v1/orders/x", client.get(f"/api/v1/orders/{uuid.uuid4()}"), 404)
    check("DELETE", "/api/v1/orders/x", client.delete(f"/api/v1/orders/{kalshi['id']}"), 409)
    check("POST", fee_path, client.post(fee_path, {"signature": "0x12"}, format="json"), 409)
    check("GET", "/api/v1/markets", client.get("/api/v1/markets", {"exchange": "nasdaq"}), 404)
    check("GET", "/api/v1/fees/statement", client.get("/api/v1/fees/statement"), 400)
    check("GET", "/api/v1/customers/x", client.get(f"/api/v1/customers/{uuid.uuid4()}"), 404)
    key = "schema-reused-key"
    check("POST", "/api/v1/orders", sim_trader.post_order(order_body(price=Decimal("0.03")), key=key), 201)
    check("POST", "/api/v1/orders", sim_trader.post_order(order_body(price=Decimal("0.04")), key=key), 422)
    check("POST", "/api/v1/orders", sim_trader.post_order(order_body(params={"order_type": "fok"})), 501)
    check("POST", "/api/v1/orders", sim_trader.post_order(order_body(), customer_id=str(uuid.uuid4())), 404)
    check("POST", "/api/v1/orders", sim_trader.post_order({**order_body(), "fee_auth": {}}), 400)


def test_the_docs_pages_name_only_files_this_server_serves(db):
    import re

    from django.test import Client

    client = Client()
    for path in ("/api/docs/", "/api/redoc/"):
        page = client.get(path)
        assert page.status_code == 200
        assert "default-src 'self'" in page["Content-Security-Policy"]
        html = page.content.decode()
        assert "://" not in html, f"{path} links outside"
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert assets, f"{path} loads no static file of ours"
        for asset in assets:
            # Through the middleware, as gunicorn serves it in `make run` (whitenoise).
            assert client.get(asset).status_code == 200, asset
