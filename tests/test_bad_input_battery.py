"""The bad-input battery: every endpoint under /api/v1/, /app/ and /sim/api/v1/ meets hostile input.

Endpoints are found from the URL resolver, so a new one is covered the day it is routed. Each gets NUL,
lone surrogates, control characters, overlong strings, out-of-range dates and offsets, huge and
non-finite numbers, tampered cursors, wrong content types and oversized bodies, in its path, its query
parameters, the headers the platform reads and its body. Every answer must be a 2xx or a 4xx; a 4xx is
JSON in the error shape (`error` and `code`, which Parsec's shape shares); nothing is a 5xx or
HTML, and a streamed answer must stream to its end.

The cases come from tables (values per kind of input, a valid base request per endpoint, poisoned one
part at a time), and requests go through Django's test client in this process; the endpoints that read
Parsec reach the simulator over HTTP on the live server, as they would in production.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from factories import make_api_key, make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Partner, Wallet
from parsec.sim.catalogue import MARKET_SEEDS

KALSHI_MARKET = next(seed.market_id for seed in MARKET_SEEDS if seed.exchange == "kalshi")
SIGNATURE = "0x" + "11" * 65
PREFIXES = ("api/v1/", "app/", "sim/api/v1/")
METHODS = ("GET", "POST", "PATCH", "DELETE")
# Each surface must keep at least this many requests: a table that quietly shrinks fails the test.
MINIMUM_REQUESTS = 500

# --- Values, by kind of input --------------------------------------------------------------------------

# Text as a URL carries it (already percent-encoded): %ED%A0%80 is a lone surrogate's UTF-8 form.
URL_TEXT = {
    "nul": "a%00b",
    "surrogate": "%ED%A0%80",
    "control": "%1B%5B31m",
    "overlong": "x" * 3000,
    "unicode": quote("日本語🙂"),
    "empty": "",
}
# What every query parameter gets (the whole URL_TEXT table goes into paths).
QUERY_TEXT = {name: URL_TEXT[name] for name in ("nul", "surrogate", "overlong")}
# Header values as a server decodes them (latin-1): NUL, a C1 control character, far too long, empty.
HEADER_TEXT = {"nul": "a\x00b", "c1-control": "a\x85b", "overlong": "k" * 5000, "empty": "", "junk": "nope"}
# The simulator's X-Sim-Fault header is left out on purpose: its faults are 5xx by design.
HEADERS = ("HTTP_X_API_KEY", "HTTP_X_BUILDER_CUSTOMER_ID", "HTTP_IDEMPOTENCY_KEY")

DATES = {
    "max-date": "9999-12-31",
    "past-max-date": "10000-01-01",
    "min-date": "0001-01-01",
    "no-such-day": "2026-02-30",
    "offset-15:59": "2026-01-01T00:00:00%2B15:59",
    "offset+16:00": "2026-01-01T00:00:00%2B16:00",
    "offset-16:00": "2026-01-01T00:00:00-16:00",
    "offset+17:00": "2026-01-01T00:00:00%2B17:00",
    "huge-year": "99999999-01-01",
}
NUMBERS = {
    "huge-exponent": "1e9999999",
    "31-digits": "1" + "0" * 30,
    "400-digits": "9" * 400,
    "past-year-9999": "253402300800",  # as unix seconds
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "negative": "-1",
    "zero": "0",
    "fraction": "1.5",
    "hex": "0x10",
    "fullwidth-digits": quote("\uff11\uff12"),
}


def _b64(text: str) -> str:
    return quote(base64.b64encode(text.encode()).decode())


CURSORS = {
    "garbage-position": _b64("p=garbage"),
    "position-past-year-9999": _b64("p=10000-01-01"),
    "huge-offset": _b64("o=99999999999999999999&p=x"),
    "not-base64": "%21%21%21",
    "nul-inside": _b64("p=\x00"),
}
# Query parameters any endpoint reads, and which table of values each gets besides the text one.
QUERY_PARAMETERS = {
    "exchange": {},
    "search": {},
    "status": {},
    "market_id": {},
    "external_id": {},
    "customer": {},
    "format": {},
    "side": {},
    "outcome": {},
    "cursor": CURSORS,
    "limit": NUMBERS,
    "price": NUMBERS,
    "size": NUMBERS,
    "start": DATES,
    "end": DATES,
    "created_after": DATES,
    "created_before": DATES,
    "start_ts": NUMBERS,
    "end_ts": NUMBERS,
    "amount": NUMBERS,
    "depth": NUMBERS,
}

# Raw JSON tokens put in place of one body field at a time.
JSON_VALUES = {
    "nul": json.dumps("a\x00b"),
    "surrogate": '"\\ud800"',
    "low-surrogate": '"x\\udfff"',
    "control": json.dumps("a\x1bb"),
    "101-chars": json.dumps("x" * 101),
    "5000-chars": json.dumps("x" * 5000),
    "100001-chars": json.dumps("x" * 100_001),
    "huge-exponent": "1e999999",
    "minus-huge-exponent": "-1e999999",
    "tiny-exponent": "1e-999999",
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "400-digits": "9" * 400,
    "minus-400-digits": "-" + "9" * 400,
    "5000-digits": "9" * 5000,
    "long-fraction": "0." + "0" * 400 + "1",
    "number-as-text": '"1e9999999"',
    "nan-as-text": '"NaN"',
    "true": "true",
    "null": "null",
    "array": "[]",
    "object": '{"\\u0000": 1}',
}
# Whole bodies: wrong content types, malformed or non-object JSON.
BODIES = {
    "text-plain": ("text/plain", b'{"a": 1}'),
    "form": ("application/x-www-form-urlencoded", b"a=b"),
    "multipart": ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
    "xml": ("application/xml", b"<a/>"),
    "no-content-type": ("", b'{"a": 1}'),
    "utf-16": ("application/json; charset=utf-16", '{"a": 1}'.encode("utf-16")),
    "invalid-utf-8": ("application/json", b'{"a": "\xff\xfe"}'),
    "truncated": ("application/json", b'{"a": '),
    "array": ("application/json", b"[]"),
    "null": ("application/json", b"null"),
    "string": ("application/json", b'"x"'),
    "huge-number": ("application/json", b"1e999999"),
    "nan": ("application/json", b"NaN"),
    "nul-key": ("application/json", b'{"\\u0000": 1}'),
    "deep": ("application/json", b"[" * 100_000 + b"]" * 100_000),
}


# --- Requests and their checks -------------------------------------------------------------------------


@dataclass
class Battery:
    """Sends requests, counts them, and keeps every answer that breaks the rule."""

    client: Client
    base_headers: dict[str, str]
    sent: int = 0
    failures: list[str] = field(default_factory=list)

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        label: str,
    ) -> None:
        extra = {**self.base_headers, **(headers or {})}
        if "HTTP_IDEMPOTENCY_KEY" not in (headers or {}):
            extra["HTTP_IDEMPOTENCY_KEY"] = uuid.uuid4().hex  # each request is a new one
        response = self.client.generic(method, url, data=body or b"", content_type=content_type, **extra)
        self.sent += 1
        problem = self._problem(response)
        if problem:
            self.failures.append(f"{method} {url[:160]} [{label}]: {problem}")

    def _problem(self, response) -> str | None:
        status = response.status_code
        content_type = response.get("Content-Type", "")
        if status >= 500:
            exc_info = getattr(response, "exc_info", None)
            cause = f" ({exc_info[0].__name__}: {str(exc_info[1])[:120]})" if exc_info else ""
            return f"answered {status}{cause}"
        if "html" in content_type:
            return f"answered {status} as HTML"
        if status < 400:
            if response.streaming:
                try:
                    b"".join(response.streaming_content)
                except Exception as error:  # noqa: BLE001 - a stream that breaks mid-body is the failure looked for
                    return f"answered {status}, then the stream broke ({type(error).__name__})"
            return None
        if "json" not in content_type:
            return f"answered {status} as {content_type or 'no content type'}"
        try:
            body = json.loads(response.content)
        except ValueError:
            return f"answered {status} with a body that is not JSON"
        if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
            return f"answered {status} without an error sentence: {str(body)[:120]}"
        if not isinstance(body.get("code"), str):
            return f"answered {status} without a code: {str(body)[:120]}"
        if "fields" in body and not isinstance(body["fields"], dict):
            return f"answered {status} with fields that are not an object"
        return None


def _routes() -> Iterator[tuple[str, URLPattern]]:
    """Every routed path under the battery's prefixes, as (route, pattern), from the URL resolver."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif route.startswith(PREFIXES):
                yield route, pattern

    yield from walk(get_resolver().url_patterns, "")


def routes_under(prefix: str) -> list[str]:
    return sorted({route for route, _ in _routes() if route.startswith(prefix)})


_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def _path(route: str, values: dict[str, str], override: str | None = None) -> str:
    return "/" + _PARAMETER.sub(lambda match: override if override is not None else values[match[1]], route)


def _query(pairs: dict[str, str]) -> str:
    # Values are already percent-encoded: the tables hold what travels on the wire.
    return "&".join(f"{name}={value}" for name, value in pairs.items())


SENTINEL = "\u0001battery-sentinel"


def _poisoned_json(base: dict[str, Any], path: tuple[str, ...], token: str) -> bytes:
    """`base` as JSON text with the field at `path` replaced by the raw JSON `token`."""
    copy = json.loads(json.dumps(base))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = SENTINEL
    return json.dumps(copy).replace(json.dumps(SENTINEL), token).encode()


def _field_paths(base: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in base.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _field_paths(value, (*prefix, key))


@dataclass(frozen=True)
class Surface:
    """One part of the site: its routes' path values, and per route a base query and base bodies."""

    prefix: str
    path_values: dict[str, str]
    queries: dict[str, dict[str, str]]  # route -> a query that passes
    parameters: dict[str, set[str]]  # route -> the query parameters it reads
    bodies: dict[str, dict[str, dict[str, Any]]]  # route -> method -> a body that passes validation


def run_battery(battery: Battery, surface: Surface) -> None:
    routes = routes_under(surface.prefix)
    assert routes, f"no routes found under /{surface.prefix}"
    oversized = b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    counter = itertools.count()

    for route in routes:
        query = surface.queries.get(route, {})
        url = _path(route, surface.path_values) + ("?" + _query(query) if query else "")
        has_parameter = _PARAMETER.search(route) is not None
        bodies = surface.bodies.get(route) or {"POST": {}}

        # The path: each parameter replaced by hostile text, under every method.
        if has_parameter:
            path_values = {**URL_TEXT, "unknown-uuid": str(uuid.uuid4()), "dot-dot": "..%2F..%2Fadmin"}
            for (name, value), method in itertools.product(path_values.items(), METHODS):
                bad_url = _path(route, surface.path_values, override=value) + (
                    "?" + _query(query) if query else ""
                )
                battery.send(method, bad_url, body=b"{}" if method in ("POST", "PATCH") else None, label=name)

        # Query parameters, one at a time, on top of the route's base query: hostile text in every
        # name; dates, numbers and cursors in those the route reads (in all of them for a route the
        # table does not list yet, such as a new one). Writes get them in the parameters they need.
        reads = surface.parameters.get(route, set(QUERY_PARAMETERS))
        for name, typed_values in QUERY_PARAMETERS.items():
            values = {**QUERY_TEXT, **(typed_values if name in reads else {})}
            for label, value in values.items():
                bad_url = f"{_path(route, surface.path_values)}?{_query({**query, name: value})}"
                battery.send("GET", bad_url, label=f"{name}={label}")
                for method in bodies if name in query else ():
                    battery.send(
                        method, bad_url, body=json.dumps(bodies[method]).encode(), label=f"{name}={label}"
                    )

        # The headers the platform reads.
        for header, (label, value) in itertools.product(HEADERS, HEADER_TEXT.items()):
            for method in ("GET", *bodies):
                battery.send(
                    method,
                    url,
                    body=json.dumps(bodies.get(method, {})).encode() if method != "GET" else None,
                    headers={header: value},
                    label=f"{header}={label}",
                )

        # Bodies: whole bodies of the wrong kind, one that is too large, then each field poisoned.
        for method, base in bodies.items():
            for label, (content_type, raw) in BODIES.items():
                battery.send(method, url, body=raw, content_type=content_type, label=f"body {label}")
            battery.send(method, url, body=oversized, label="body over the upload limit")
            for path in _field_paths(base):
                for label, token in JSON_VALUES.items():
                    unique = _unique(base, next(counter))
                    battery.send(
                        method,
                        url,
                        body=_poisoned_json(unique, path, token),
                        label=f"{'.'.join(path)}={label}",
                    )


def _unique(base: dict[str, Any], number: int) -> dict[str, Any]:
    """Bodies that create something get a fresh external id, so each reaches validation afresh."""
    if "external_id" in base:
        return {**base, "external_id": f"{base['external_id']}-{number}"}
    return base


def _assert_clean(battery: Battery, surface: str) -> None:
    print(f"\nbad-input battery, {surface}: {battery.sent} requests, {len(battery.failures)} failures")
    assert battery.sent >= MINIMUM_REQUESTS
    assert not battery.failures, f"{len(battery.failures)} of {battery.sent} answers broke the rule:\n" + (
        "\n".join(battery.failures[:60])
    )


# --- Fixtures: a partner, a web user and a simulator builder user with something to act on ---------


@pytest.fixture
def patient_parsec(parsec_sim, settings):
    """The simulator fixture's client, with a read timeout no loaded test machine reaches: a slow answer
    would be a 503 here, and the battery is about what inputs do, not about timeouts."""
    from parsec.conf import get_client, reset_client

    settings.PARSEC_READ_TIMEOUT = 30.0
    reset_client()
    return get_client()


@pytest.fixture
def no_task_sending(monkeypatch) -> None:
    """Orders the battery happens to create stay queued: the battery is about answers, not submission."""
    from builder_platform import enqueue

    monkeypatch.setattr(enqueue, "enqueue_now", lambda *args, **kwargs: True)


def _active_customer(partner: Partner, label: str) -> Customer:
    signer = make_eth_account(f"battery signer {label}")
    customer = make_customer(
        partner=partner,
        external_id=f"battery-{label}" if not partner.is_builtin else f"wallet:{signer.address}",
        status=Customer.Status.ACTIVE,
        parsec_customer_id=f"parsec-battery-{label}",
    )
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(
        customer=customer, address=make_eth_account(f"battery payer {label}").address, role=Wallet.Role.PAYER
    )
    return customer


def _an_order(customer: Customer) -> str:
    from django.utils import timezone

    from orders.services import intake

    order = intake.order_create(
        partner=customer.partner,
        customer_id=str(customer.pk),
        exchange="kalshi",
        body={
            "market_id": KALSHI_MARKET,
            "outcome": "Yes",
            "side": "buy",
            "price": Decimal("0.01"),
            "size": Decimal(10),
        },
        now=timezone.now(),
    )
    return str(order.pk)


ORDER_BODY = {
    "market_id": KALSHI_MARKET,
    "outcome": "Yes",
    "side": "buy",
    "price": 0.01,
    "size": 10,
    "params": {"order_type": "gtc"},
}


AFFILIATE_PARAMETERS = {
    "api/v1/referral-codes": {"cursor", "limit"},
    "api/v1/referral-codes/<str:code>": set(),
    "api/v1/referrals": {"cursor", "limit"},
    "api/v1/commissions": {"state", "period", "customer", "cursor", "limit"},
    "api/v1/payouts": {"cursor", "limit"},
    "api/v1/payouts/<str:payout_id>": {"format"},
}
AFFILIATE_BODIES = {
    "api/v1/referral-codes": {"POST": {"code": "battery-new", "label": "a label", "revenue_share_bps": 0}},
    "api/v1/referral-codes/<str:code>": {"PATCH": {"label": "renamed", "active": True}},
}


def _affiliate_objects(partner) -> tuple[str, str]:
    """A referral code and a payout of the partner, for the affiliate routes' path values."""
    from datetime import date

    from django.utils import timezone

    from fees.commission_models import Payout
    from referrals.services import referral_code_create

    code = referral_code_create(partner=partner, code="battery", now=timezone.now())
    payout = Payout.objects.create(
        partner=partner, period=date(2026, 3, 1), amount=1, created_at=timezone.now()
    )
    return code.code, str(payout.pk)


# The event log and webhook endpoints (webhooks app): an event and an endpoint of the battery's partner.
WEBHOOK_PARAMETERS = {
    "api/v1/events": {"type", "object_id", "created_after", "created_before", "cursor", "limit"},
    "api/v1/events/<str:event_id>": set(),
    "api/v1/events/<str:event_id>/resend": set(),
    "api/v1/webhook-endpoints": {"cursor", "limit"},
    "api/v1/webhook-endpoints/<str:endpoint_id>": set(),
    "api/v1/webhook-endpoints/<str:endpoint_id>/rotate-secret": set(),
    "api/v1/webhook-endpoints/<str:endpoint_id>/test": set(),
    "api/v1/webhook-endpoints/<str:endpoint_id>/deliveries": {"event_id", "cursor", "limit"},
}
WEBHOOK_BODIES = {
    "api/v1/webhook-endpoints": {"POST": {"url": "https://hooks.example.com/in", "events": ["*"]}},
    "api/v1/webhook-endpoints/<str:endpoint_id>": {"PATCH": {"description": "battery", "enabled": True}},
}


def _webhook_path_values(partner) -> dict[str, str]:
    from django.utils import timezone

    from audit.services import Actor
    from events.models import Event
    from webhooks import services

    endpoint, _ = services.webhook_endpoint_create(
        actor=Actor.system("test"),
        partner_id=partner.pk,
        url="https://hooks.example.com/battery",
        events=["*"],
        now=timezone.now(),
    )
    event = Event.objects.filter(partner_id=partner.pk).order_by("created_at").first()
    return {"endpoint_id": str(endpoint.pk), "event_id": event.id}


def test_no_bad_input_to_the_partner_api_answers_a_server_error_or_html(patient_parsec, no_task_sending):
    partner = make_partner(name="Battery Partner")
    _, raw_key = make_api_key(partner=partner)
    customer = _active_customer(partner, "partner")
    order_id = _an_order(customer)
    code, payout_id = _affiliate_objects(partner)
    # The key routes' id: another key of the partner, so a revocation never takes the battery's own.
    spare_key, _ = make_api_key(partner=partner)
    signer = make_eth_account("battery signer partner").address
    client = Client(raise_request_exception=False)
    battery = Battery(
        client=client,
        base_headers={"HTTP_X_API_KEY": raw_key, "HTTP_X_BUILDER_CUSTOMER_ID": str(customer.pk)},
    )
    surface = Surface(
        prefix="api/v1/",
        path_values={
            "customer_id": str(customer.pk),
            "order_id": order_id,
            "code": code,
            "payout_id": payout_id,
            "key_id": str(spare_key.pk),
            "exchange": "kalshi",
            "market_id": KALSHI_MARKET,
            **_webhook_path_values(partner),
        },
        parameters={
            **AFFILIATE_PARAMETERS,
            **WEBHOOK_PARAMETERS,
            "api/v1/customers": {"status", "external_id", "cursor", "limit"},
            "api/v1/api-keys": {"cursor", "limit"},
            "api/v1/api-keys/<str:key_id>": set(),
            "api/v1/customers/<str:customer_id>/positions": {"exchange"},
            "api/v1/customers/<str:customer_id>/balance": {"exchange"},
            "api/v1/fills": {
                "customer",
                "exchange",
                "market_id",
                "created_after",
                "created_before",
                "cursor",
                "limit",
            },
            "api/v1/markets/<str:exchange>/<str:market_id>": set(),
            "api/v1/markets/<str:exchange>/<str:market_id>/orderbook": {"outcome", "depth"},
            "api/v1/execution-price": {"exchange", "market_id", "outcome", "side", "amount"},
            "api/v1/customers/<str:customer_id>": set(),
            "api/v1/customers/<str:customer_id>/wallet-challenges": set(),
            "api/v1/customers/<str:customer_id>/wallets": set(),
            "api/v1/exchanges": set(),
            "api/v1/fees/statement": {"start", "end", "format"},
            "api/v1/markets": {"exchange", "search", "cursor", "limit"},
            "api/v1/orders": {
                "customer",
                "exchange",
                "status",
                "market_id",
                "created_after",
                "created_before",
                "cursor",
                "limit",
            },
            "api/v1/orders/<str:order_id>": set(),
            "api/v1/orders/<str:order_id>/fee-authorization": set(),
        },
        queries={
            "api/v1/orders": {"exchange": "kalshi"},
            "api/v1/fees/statement": {"start": "2026-01-01", "end": "2026-01-31"},
            "api/v1/markets": {"exchange": "kalshi"},
            "api/v1/execution-price": {
                "exchange": "kalshi",
                "market_id": KALSHI_MARKET,
                "side": "buy",
                "amount": "5",
            },
        },
        bodies={
            "api/v1/customers": {"POST": {"external_id": "battery", "email": "battery@example.com"}},
            "api/v1/customers/<str:customer_id>": {"PATCH": {"email": "b@example.com", "status": "active"}},
            "api/v1/customers/<str:customer_id>/wallet-challenges": {"POST": {"address": signer}},
            "api/v1/customers/<str:customer_id>/wallets": {
                "POST": {
                    "address": signer,
                    "message": "hello\nworld",
                    "signature": SIGNATURE,
                    "replace_signer": False,
                }
            },
            "api/v1/orders": {"POST": ORDER_BODY},
            "api/v1/orders/<str:order_id>": {"DELETE": {}},
            "api/v1/orders/<str:order_id>/fee-authorization": {"POST": {"signature": SIGNATURE}},
            "api/v1/api-keys": {"POST": {"scope": "read", "name": "battery"}},
            **AFFILIATE_BODIES,
            **WEBHOOK_BODIES,
        },
    )
    run_battery(battery, surface)
    # The statement as CSV streams: a range that cannot be queried must be refused before it starts.
    for label, value in DATES.items():
        battery.send(
            "GET", f"/api/v1/fees/statement?start={value}&end={value}&format=csv", label=f"csv {label}"
        )
    _assert_clean(battery, "partner API")


def test_no_bad_input_to_the_web_json_endpoints_answers_a_server_error_or_html(
    patient_parsec, no_task_sending
):
    from web.session import SESSION_CUSTOMER_KEY

    web_partner = Partner.objects.filter(is_builtin=True).first() or Partner.objects.create(
        name="Web (built-in)", is_builtin=True
    )
    customer = _active_customer(web_partner, "web")
    order_id = _an_order(customer)
    client = Client(raise_request_exception=False)
    session = client.session
    session[SESSION_CUSTOMER_KEY] = str(customer.pk)
    session.save()
    address = make_eth_account("battery signer web").address
    ticket = {
        "exchange": "kalshi",
        "market_id": KALSHI_MARKET,
        "outcome": "Yes",
        "side": "buy",
        "price": "0.01",
        "size": "10",
        "order_type": "gtc",
    }
    surface = Surface(
        prefix="app/",
        path_values={"order_id": order_id},
        parameters={
            "app/account": set(),
            "app/markets": {"exchange"},
            "app/quote": {"exchange", "price", "size"},
            "app/orders": {"limit"},
            "app/orders/<str:order_id>": set(),
            "app/orders/<str:order_id>/cancel": set(),
            "app/orders/<str:order_id>/fee-authorization": set(),
            "app/session/challenge": set(),
            "app/session/verify": set(),
        },
        queries={
            "app/markets": {"exchange": "kalshi"},
            "app/quote": {"exchange": "polymarket", "price": "0.5", "size": "10"},
        },
        bodies={
            "app/session/challenge": {"POST": {"address": address, "chain_id": 137}},
            "app/session/verify": {
                "POST": {"address": address, "message": "hello\nworld", "signature": SIGNATURE}
            },
            "app/orders": {"POST": ticket},
            "app/orders/<str:order_id>/cancel": {"POST": {}},
            "app/orders/<str:order_id>/fee-authorization": {"POST": {"signature": SIGNATURE}},
        },
    )
    battery = Battery(client=client, base_headers={})
    run_battery(battery, surface)
    _assert_clean(battery, "web JSON endpoints")


def test_no_bad_input_to_the_simulator_answers_a_server_error_or_html(patient_parsec, no_task_sending):
    user = patient_parsec.create_builder_user(external_id="battery-sim-user")
    eoa = make_eth_account("battery sim eoa").address
    patient_parsec.onboard(customer_id=user.customer_id, exchange="polymarket", eoa_address=eoa)
    order = patient_parsec.create_order(
        exchange="kalshi",
        customer_id=user.customer_id,
        body={
            "market_id": KALSHI_MARKET,
            "outcome": "Yes",
            "side": "buy",
            "price": Decimal("0.01"),
            "size": Decimal(10),
        },
    )
    client = Client(raise_request_exception=False)
    battery = Battery(
        client=client,
        base_headers={
            "HTTP_X_API_KEY": settings.PARSEC_SIMULATOR_API_KEY,
            "HTTP_X_BUILDER_CUSTOMER_ID": user.customer_id,
        },
    )
    surface = Surface(
        prefix="sim/api/v1/",
        path_values={"customer_id": user.customer_id, "order_id": order.id},
        parameters={
            "sim/api/v1/exchanges": set(),
            "sim/api/v1/markets": {"exchange", "search", "cursor", "limit"},
            "sim/api/v1/builder/users": set(),
            "sim/api/v1/builder/users/<str:customer_id>": set(),
            "sim/api/v1/builder/onboard": set(),
            "sim/api/v1/builder/escrow/config": set(),
            "sim/api/v1/orders": {"exchange", "status", "market_id", "start_ts", "end_ts", "limit"},
            "sim/api/v1/orders/<str:order_id>": {"exchange"},
            "sim/api/v1/fills": {"exchange", "market_id", "limit"},
        },
        queries={
            "sim/api/v1/orders": {"exchange": "kalshi"},
            "sim/api/v1/orders/<str:order_id>": {"exchange": "kalshi"},
            "sim/api/v1/fills": {"exchange": "kalshi"},
        },
        bodies={
            "sim/api/v1/builder/users": {"POST": {"external_id": "battery", "email": "battery@example.com"}},
            "sim/api/v1/builder/users/<str:customer_id>": {"PATCH": {"fee_bps": 10}},
            "sim/api/v1/builder/onboard": {
                "POST": {
                    "customer_id": user.customer_id,
                    "exchange": "polymarket",
                    "mode": "managed",
                    "wallet_type": "safe",
                    "eoa_address": eoa,
                }
            },
            "sim/api/v1/orders": {"POST": ORDER_BODY},
            "sim/api/v1/orders/<str:order_id>": {"DELETE": {}},
        },
    )
    run_battery(battery, surface)
    _assert_clean(battery, "simulator")
