"""Idempotency-Key on order creation: replays byte for byte, refuses reuse, survives concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from orders_support import make_trader, order_body, wait_until

from orders import idempotency
from orders.models import IdempotencyKey, Order

S = Order.Status


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_answer_byte_for_byte(trader, enqueued):
    first = trader.post_order(order_body(), key="order-1")
    again = trader.post_order(order_body(), key="order-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Order.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_the_same_body_with_keys_reordered_is_the_same_request(trader, enqueued):
    body = order_body()
    first = trader.post_order(body, key="order-1")
    again = trader.post_order(dict(reversed(list(body.items()))), key="order-1")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"body": order_body(size=Decimal("11"))},
        {"exchange": "polymarket"},
        {"customer": "other"},
    ],
)
def test_the_same_key_for_a_different_request_is_refused_with_422(trader, enqueued, change):

    assert trader.post_order(order_body(), key="order-1").status_code == 201
    customer_id = str(trader.customer.id)
    if change.get("customer"):
        other = make_trader()
        customer_id = str(other.customer.id)

    response = trader.post_order(
        change.get("body", order_body()),
        key="order-1",
        exchange=change.get("exchange", "kalshi"),
        customer_id=customer_id,
    )

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "x" * 256, "caf\u00e9", "tab\there", " padded"])
def test_a_missing_or_malformed_key_is_a_400_and_nothing_is_stored(trader, enqueued, key):
    headers = {"HTTP_X_BUILDER_CUSTOMER_ID": str(trader.customer.id)}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    response = trader.client.post("/api/v1/orders?exchange=kalshi", order_body(), format="json", **headers)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert not IdempotencyKey.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_refusal_is_stored_and_replayed_too(trader, enqueued):
    first = trader.post_order(order_body(price=Decimal("2")), key="bad-1")
    again = trader.post_order(order_body(price=Decimal("2")), key="bad-1")

    assert first.status_code == again.status_code == 400
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_server_side_failure_releases_the_key_so_the_request_can_be_retried(trader, enqueued, settings):
    from django.core.cache import cache

    from parsec import conf
    from parsec.client import ParsecUnavailable

    cache.clear()  # /exchanges must be read from Parsec, which is down

    class Down:
        def list_exchanges(self):
            raise ParsecUnavailable(status=503, code="service_unavailable", message="down")

    real = conf.get_client
    conf.get_client = Down
    try:
        failed = trader.post_order(order_body(), key="retry-me")
    finally:
        conf.get_client = real
    assert failed.status_code == 503
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_key_still_in_flight_answers_409(trader, enqueued):
    fingerprint = idempotency.request_fingerprint(
        exchange="kalshi",
        customer_id=str(trader.customer.id),
        body=__import__("parsec.client", fromlist=["encode_json"]).encode_json(order_body()).encode(),
    )
    idempotency.idempotency_key_claim(
        partner=trader.partner, key="busy", fingerprint=fingerprint, now=timezone.now()
    )

    response = trader.post_order(order_body(), key="busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"


@pytest.mark.django_db
def test_a_key_abandoned_in_flight_by_a_dead_request_is_taken_over(trader, enqueued, settings):
    from parsec.client import encode_json

    settings.ORDER_IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS = 60
    body = encode_json(order_body()).encode()
    fingerprint = idempotency.request_fingerprint(
        exchange="kalshi", customer_id=str(trader.customer.id), body=body
    )
    dead = idempotency.idempotency_key_claim(
        partner=trader.partner, key="dead", fingerprint=fingerprint, now=timezone.now() - timedelta(minutes=5)
    )

    response = trader.post_order(order_body(), key="dead")

    assert response.status_code == 201
    # The dead request, waking up, can no longer complete the key it lost.
    assert not idempotency.idempotency_key_complete(
        record=dead.record, status=201, body=b"{}", headers={}, order_id=None, now=timezone.now()
    )


def test_twenty_concurrent_requests_with_one_key_make_one_order_and_one_create_at_parsec(
    sim_trader, celery_worker, django_db_blocker
):
    from parsec.sim.models import SimOrder

    results: list[tuple[int, bytes, str | None]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def post() -> None:
        try:
            barrier.wait(timeout=10)
            response = sim_trader.post_order(order_body(), key="one-key")
            with lock:
                results.append((response.status_code, response.content, response.get("Idempotent-Replayed")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 20
    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    created = [content for status, content, replayed in results if status == 201]
    assert len({content for content in created}) == 1  # every 201 is the same answer
    assert sum(1 for status, _, replayed in results if status == 201 and replayed is None) == 1
    assert Order.objects.count() == 1
    order = Order.objects.get()
    wait_until(lambda: Order.objects.get(pk=order.pk).status == S.OPEN, timeout=15)
    assert SimOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("second_body", "expected_status"), [(order_body(), 201), (order_body(size=Decimal("11")), 422)]
)
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_arriving_while_the_first_transaction_is_open_answers_with_the_first_answer(
    tradable_exchanges, enqueued, monkeypatch, second_body, expected_status
):
    """The claim is inside the order's transaction: the second request's claim meets the first's
    (waiting on the unique index while it is open) and answers what the first stored."""
    from orders.services import intake

    trader = make_trader(name="Acme Trading")
    first_inside, second_committing = threading.Event(), threading.Event()
    real_prepare, real_commit = intake.order_create_prepare, intake.order_create_commit

    def prepare(**kwargs):
        prepared = real_prepare(**kwargs)
        if threading.current_thread().name == "second":
            second_committing.set()  # next: its transaction and its claim, while the first's is open
        return prepared

    def commit_holding_the_transaction_open(**kwargs):
        order = real_commit(**kwargs)
        if threading.current_thread().name == "first":
            first_inside.set()
            assert second_committing.wait(timeout=10)
        return order

    monkeypatch.setattr(intake, "order_create_prepare", prepare)
    monkeypatch.setattr(intake, "order_create_commit", commit_holding_the_transaction_open)
    answers = {}

    def post(name: str, body: dict) -> None:
        try:
            answers[name] = trader.post_order(body, key="same-key")
        finally:
            connection.close()

    first = threading.Thread(target=post, args=("first", order_body()), name="first")
    first.start()
    assert first_inside.wait(timeout=10)  # the first request's order is inserted, not committed
    second = threading.Thread(target=post, args=("second", second_body), name="second")
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)

    assert answers["first"].status_code == 201
    assert answers["second"].status_code == expected_status
    if expected_status == 201:
        assert answers["second"].content == answers["first"].content
        assert answers["second"]["Idempotent-Replayed"] == "true"
    else:
        assert answers["second"].json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get(key="same-key").state == IdempotencyKey.State.COMPLETED
