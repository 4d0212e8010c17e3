"""Reconciliation: per (customer, exchange), one listing of orders and one of fills, applied in bulk.

Cost grows with active customers, not orders: each pass reads Parsec twice per (customer, exchange)
(more only for a customer with more than a page of recent orders or fills) and makes a fixed number of
queries, plus one write per order that actually changed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from customers.models import Customer
from orders.models import Fill, Order
from orders.services.cancel import CANCEL_RESEND_AFTER_SECONDS
from orders.services.fills import order_fills_record
from orders.services.in_doubt import first_match, late_arrivals_record, miss_record
from orders.services.parsec_state import ParsecStateWritten, order_apply_parsec_state, order_record_accepted
from orders.services.queueing import order_enqueue_cancel
from orders.services.reconcile_report import ReconcileReport
from orders.services.reconcile_schedule import reconcile_scope
from orders.services.settlement import order_settle_if_complete
from orders.vocabulary import EventCause
from parsec import conf
from parsec.client import Fill as ParsecFill
from parsec.client import Order as ParsecOrder
from parsec.client import ParsecError

logger = logging.getLogger(__name__)

S = Order.Status
MAX_LISTING_PAGES = 10  # a customer with thousands of recent orders is read in bounded pages
MAX_FILL_MARKETS = 10  # per-market fill listings when the first page of fills was not enough


def _list_orders(
    customer: Customer, exchange: str, start: datetime, report: ReconcileReport
) -> list[ParsecOrder]:
    client = conf.get_client()
    limit = settings.ORDER_RECONCILE_LIST_LIMIT
    listed: dict[str, ParsecOrder] = {}
    end_ts: int | None = None
    for _ in range(MAX_LISTING_PAGES):
        page = client.list_orders(
            exchange=exchange,
            customer_id=customer.parsec_customer_id,
            status="all",
            start_ts=int(start.timestamp()),
            end_ts=end_ts,
            limit=limit,
        )
        report.parsec_requests += 1
        fresh = [item for item in page if item.id not in listed]
        listed.update((item.id, item) for item in page)
        if len(page) < limit or not fresh:
            break
        # Newest first: the next page ends where this one did (inclusive; duplicates are merged).
        end_ts = int(min(item.created_at for item in page).timestamp())
    return list(listed.values())


def _list_fills(
    customer: Customer,
    exchange: str,
    orders: list[Order],
    listing: dict[str, ParsecOrder],
    report: ReconcileReport,
) -> list[ParsecFill]:
    client = conf.get_client()
    limit = settings.ORDER_RECONCILE_LIST_LIMIT
    fills = client.list_fills(exchange=exchange, customer_id=customer.parsec_customer_id, limit=limit)
    report.parsec_requests += 1
    if len(fills) < limit:
        return fills
    # The page was full, so older fills may be missing: for orders whose fills do not add up yet, read
    # their markets' fills separately.
    seen: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        seen[fill.order_id] += fill.size
    recorded = dict(
        Fill.objects.filter(order__in=[order.id for order in orders])
        .values("order__parsec_order_id")
        .annotate(total=Sum("size"))
        .values_list("order__parsec_order_id", "total")
    )
    short_markets: list[str] = []
    for order in orders:
        parsec_id = order.parsec_order_id
        if parsec_id is None:
            continue
        expected = listing[parsec_id].filled if parsec_id in listing else order.filled
        short = max(seen[parsec_id], recorded.get(parsec_id) or Decimal(0)) < expected
        if short and order.market_id not in short_markets:
            short_markets.append(order.market_id)
    known = {fill.fill_id for fill in fills}
    for market_id in short_markets[:MAX_FILL_MARKETS]:
        more = client.list_fills(
            exchange=exchange, customer_id=customer.parsec_customer_id, market_id=market_id, limit=limit
        )
        report.parsec_requests += 1
        fills.extend(fill for fill in more if fill.fill_id not in known)
        known.update(fill.fill_id for fill in more)
    return fills


def reconcile_customer_exchange(
    *, customer_id: uuid.UUID | str, exchange: str, now: datetime
) -> ReconcileReport:
    """Bring this customer's orders on this exchange in line with what Parsec reports.

    Raises ParsecUnavailable when Parsec cannot be read (nothing is changed; the next pass retries).
    """
    report = ReconcileReport()
    customer = Customer.objects.filter(id=customer_id).first()
    if customer is None or not customer.parsec_customer_id:
        return report
    scope = Order.objects.filter(reconcile_scope(), customer_id=customer.id, exchange=exchange)
    orders = list(
        scope.only("id", "status", "parsec_order_id", "sent_at", "created_at", "market_id", "filled")
    )
    if not orders:
        return report
    report.orders = len(orders)
    earliest = min(order.sent_at or order.created_at for order in orders)
    start = earliest - timedelta(seconds=settings.ORDER_RECONCILE_START_MARGIN_SECONDS)

    # Parsec first, outside any transaction.
    listed_from = now  # the callers' clock, read before the listing is asked for
    listing = {item.id: item for item in _list_orders(customer, exchange, start, report)}
    fills = _list_fills(customer, exchange, orders, listing, report)

    with transaction.atomic():
        # One reconciler per customer at a time: fills and ledger entries are recorded once.
        Customer.objects.select_for_update().filter(id=customer.id).values_list("id", flat=True).first()
        _apply(
            customer=customer,
            exchange=exchange,
            listing=listing,
            fills=fills,
            listed_from=listed_from,
            now=now,
            report=report,
        )
    # A duplicate of ours that is still live is cancelled; a failure leaves it for the next pass.
    for parsec_id in report.duplicates:
        report.parsec_requests += 1
        try:
            conf.get_client().cancel_order(
                exchange=exchange, customer_id=customer.parsec_customer_id, order_id=parsec_id
            )
        except ParsecError as error:
            logger.warning("cancel of duplicate %s on %s not done: %s", parsec_id, exchange, error)
    return report


def _apply(
    *,
    customer: Customer,
    exchange: str,
    listing: dict[str, ParsecOrder],
    fills: list[ParsecFill],
    listed_from: datetime,
    now: datetime,
    report: ReconcileReport,
) -> None:
    orders = list(
        Order.objects.filter(reconcile_scope(), customer_id=customer.id, exchange=exchange)
        .select_related("fee_authorization")
        .order_by("created_at", "id")
    )
    if not orders:
        return
    skew = timedelta(seconds=settings.ORDER_RECONCILE_CLOCK_SKEW_SECONDS)
    claimed = set(
        Order.objects.filter(parsec_order_id__in=list(listing)).values_list("parsec_order_id", flat=True)
    )
    # 1. Orders in doubt: adopt the Parsec order matching their intent, or count a miss.
    _resolve_in_doubt(orders, listing, claimed, skew=skew, listed_from=listed_from, now=now, report=report)
    # 1b. Orders at Parsec that none of ours claims: a send in doubt that arrived late.
    unclaimed = [item for item in listing.values() if item.id not in claimed]
    if unclaimed:
        late_arrivals_record(
            customer=customer,
            exchange=exchange,
            orders=orders,
            unclaimed=unclaimed,
            claimed=claimed,
            skew=skew,
            now=now,
            report=report,
        )
    # 2. Orders Parsec knows: status and filled amount.
    by_parsec_id = {order.parsec_order_id: order for order in orders if order.parsec_order_id}
    _follow_parsec(by_parsec_id, listing, now=now, report=report)
    # 3. Fills: new rows, and the fee distributed for each.
    report.new_fills += order_fills_record(by_parsec_id=by_parsec_id, fills=fills, now=now)
    # 4. Final orders whose fills now add up: close their fee.
    for order in by_parsec_id.values():
        if order.status in Order.FINAL_STATUSES and order.settled_at is None:
            report.settled += order_settle_if_complete(order_id=order.id, now=now)


def _take(order: Order, written: ParsecStateWritten) -> None:
    """The order as the service wrote it: the rest of the pass reads these, never a recomputed copy."""
    order.status, order.filled, order.parsec_order_id = (
        written.status,
        written.filled,
        written.parsec_order_id,
    )


def _resolve_in_doubt(
    orders: list[Order],
    listing: dict[str, ParsecOrder],
    claimed: set[str],
    *,
    skew: timedelta,
    listed_from: datetime,
    now: datetime,
    report: ReconcileReport,
) -> None:
    for order in orders:
        if order.status != S.UNKNOWN:
            continue
        found = first_match(order, listing.values(), claimed, skew=skew)
        if found is not None:
            written = order_record_accepted(
                order=order,
                answer=found,
                from_statuses=[S.UNKNOWN],
                cause=EventCause.ADOPTED_FROM_LISTING,
            )
            if written is not None:
                claimed.add(found.id)
                _take(order, written)
                report.adopted += 1
            continue
        if order.updated_at >= listed_from:
            # It became unknown (or was counted by another pass) after this listing was asked for: the
            # listing proves nothing about it, and only real evidence may lead to sending it again.
            continue
        report.missed += 1
        report.resent += miss_record(order, now=now)


def _follow_parsec(
    by_parsec_id: dict[str, Order], listing: dict[str, ParsecOrder], *, now: datetime, report: ReconcileReport
) -> None:
    for parsec_id, order in by_parsec_id.items():
        answer = listing.get(parsec_id)
        if answer is None or order.status not in Order.LIVE_STATUSES:
            continue
        written = order_apply_parsec_state(
            order=order, answer=answer, cause=EventCause.RECONCILED, now=now, settle=False
        )
        if written is not None:
            report.updated += 1
            _take(order, written)
        if (
            order.status in Order.LIVE_STATUSES
            and order.cancel_requested_at is not None
            and now - order.cancel_requested_at > timedelta(seconds=CANCEL_RESEND_AFTER_SECONDS)
        ):
            order_enqueue_cancel(order_id=order.id)
