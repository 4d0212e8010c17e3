"""Bad input to the simulator gets Parsec's 4xx error body, never a 500: NUL and lone surrogates in
parameters, ids and fields, out-of-range times, oversized numbers."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

KALSHI_MARKET = "KXFEDDECISION-26JAN-C25"
NUL = "\u0000"
SURROGATE = "\ud800"


def _json_bytes(body) -> bytes:
    # json.dumps escapes a lone surrogate as \\ud800, which is how a client can send one at all.
    return json.dumps(body).encode()


def _order(**changes):
    return {"market_id": KALSHI_MARKET, "outcome": "Yes", "side": "buy", "price": 0.01, "size": 1, **changes}


# (method, path, query, body): every one must answer 4xx in Parsec's error shape.
PROBES = [
    ("GET", "markets", {"search": NUL}, None),
    ("GET", "markets", {"exchanges": "kalshi" + NUL}, None),
    ("GET", "markets", {"exchange": "kalshi", "exchange_market_id": KALSHI_MARKET + NUL}, None),
    ("GET", "markets", {"parsec_id": "kalshi:" + NUL}, None),
    ("GET", "markets", {"cursor": "m" + "9" * 5000}, None),
    ("GET", "markets", {"limit": "9" * 5000}, None),
    ("GET", "orders", {"exchange": "kalshi", "market_id": NUL}, None),
    ("GET", "orders", {"exchange": "kalshi", "status": NUL}, None),
    ("GET", "orders", {"exchange": "kalshi" + NUL}, None),
    ("GET", "orders", {"exchange": "kalshi", "start_ts": "99999999999999"}, None),
    ("GET", "orders", {"exchange": "kalshi", "end_ts": str(2**40)}, None),
    ("GET", "orders", {"exchange": "kalshi", "start_ts": "-1"}, None),
    ("GET", "orders", {"exchange": "kalshi", "limit": "1" + "0" * 5000}, None),
    ("GET", "orders/ord_%00", {"exchange": "kalshi"}, None),
    ("DELETE", "orders/ord_%00", {"exchange": "kalshi"}, None),
    ("GET", "fills", {"exchange": "kalshi", "market_id": NUL}, None),
    ("POST", "orders", {"exchange": "kalshi"}, _order(market_id=KALSHI_MARKET + NUL)),
    ("POST", "orders", {"exchange": "kalshi"}, _order(outcome="Yes" + NUL)),
    ("POST", "orders", {"exchange": "kalshi"}, _order(outcome=SURROGATE)),
    ("POST", "orders", {"exchange": "kalshi"}, _order(outcome="Y" * 101)),
    ("POST", "orders", {"exchange": "kalshi"}, _order(market_id=SURROGATE)),
    ("POST", "orders", {"exchange": "kalshi"}, _order(params={"order_type": NUL})),
    ("POST", "orders", {"exchange": "kalshi"}, _order(size=1e308)),
    ("POST", "builder/users", {}, {"external_id": "user" + NUL}),
    ("POST", "builder/users", {}, {"external_id": SURROGATE}),
    ("POST", "builder/users", {}, {"external_id": "ok", "email": NUL}),
    ("POST", "builder/onboard", {}, {"customer_id": NUL, "exchange": "kalshi", "mode": "managed"}),
    ("GET", "builder/users", {"cursor": NUL}, None),
    ("GET", "builder/users", {"cursor": "o" + "9" * 5000}, None),
    ("GET", "builder/users/%00", {}, None),
    ("PATCH", "builder/users/{customer}", {}, {"qps_limit": 10**400}),
]


@pytest.fixture
def sim(parsec_sim, settings):
    customer = parsec_sim.create_builder_user(external_id=f"probe-{uuid.uuid4().hex}").customer_id
    with httpx.Client(
        base_url=settings.PARSEC_BASE_URL + "/",
        headers={"X-API-Key": settings.PARSEC_API_KEY, "X-Builder-Customer-Id": customer},
        timeout=10,
    ) as client:
        yield client, customer


def test_every_bad_input_probe_gets_parsecs_4xx_error_body(sim):
    client, customer = sim
    answers = []
    for method, path, query, body in PROBES:
        response = client.request(
            method,
            path.replace("{customer}", customer),
            params=query,
            content=None if body is None else _json_bytes(body),
            headers={"Content-Type": "application/json"} if body is not None else {},
        )
        answers.append((method, path[:40], sorted(query)[:2], response.status_code, response.text))

    wrong = [(*answer[:4], answer[4][:160]) for answer in answers if not 400 <= answer[3] < 500]
    assert wrong == [], f"{len(wrong)} of {len(PROBES)} probes were not refused with a 4xx:\n" + "\n".join(
        map(str, wrong)
    )
    for *_, text in answers:
        body = json.loads(text)
        assert set(body) == {"error", "code", "retryable"}, text
        assert body["retryable"] is False
