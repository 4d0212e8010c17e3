"""What one order create costs the database: its queries and its commits, pinned."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from orders_support import make_trader, order_body

from builder_platform.shared_store import shared_redis
from orders.models import IdempotencyKey, Order

# The Idempotency-Key read; then BEGIN, the claim, the order, its order event, the partner event (in a
# savepoint, for its webhook deliveries), the stored answer, COMMIT. The key with its partner and rate
# limit, the customer with its wallets, the active halts and the partner's webhook endpoints come from
# this process's read caches (generations.store), whose generation is read from Redis.
CREATE_QUERIES = 10
# The embedded mode (no Redis) reads the caches' generation from its database row (one query), and keeps
# the partner's rate bucket in the database: a transaction of its own (BEGIN IMMEDIATE, insert-or-ignore,
# read, update, COMMIT) before the order's.
DATABASE_GENERATION_QUERIES = 1
DATABASE_BUCKET_QUERIES = 5


@pytest.mark.django_db(transaction=True)  # real commits, counted as the server makes them
def test_one_create_costs_at_most_its_pinned_queries_and_one_commit(
    tradable_exchanges, enqueued, settings, django_assert_max_num_queries
):
    settings.RATE_LIMITS_ENABLED = True  # the partner throttle runs as in production
    trader = make_trader(name="Acme Trading")
    assert trader.post_order(order_body()).status_code == 201  # warm caches (exchanges, markets)

    bucket_in_database = shared_redis() is None
    expected_queries = CREATE_QUERIES + (
        DATABASE_GENERATION_QUERIES + DATABASE_BUCKET_QUERIES if bucket_in_database else 0
    )
    with django_assert_max_num_queries(expected_queries), CaptureQueriesContext(connection) as captured:
        response = trader.post_order(order_body(), key="counted")

    assert response.status_code == 201
    commits = [query["sql"] for query in captured.captured_queries if query["sql"].upper() == "COMMIT"]
    assert len(commits) == 1 + bucket_in_database, [query["sql"][:80] for query in captured.captured_queries]
    assert (
        IdempotencyKey.objects.get(key="counted").order_id == Order.objects.get(id=response.json()["id"]).id
    )
