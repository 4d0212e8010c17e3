"""Reconciliation: per (customer, exchange), one listing of orders and one of fills, applied in bulk.

Cost grows with active customers, not orders: each pass reads Parsec twice per (customer, exchange)
(more only for a customer with more than a page of recent orders or fills) and makes a fixed number of
queries, plus one write per order that actually changed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Sum

from customers.models import Customer
from orders import event_log, fee_axis, services
from orders.models import Fill, Order, OrderEvent, ReconcileState
from orders.transitions import order_transition
from parsec import conf
from parsec.client import Fill as ParsecFill
from parsec.client import Order as ParsecOrder
from parsec.client import ParsecError

logger = logging.getLogger(__name__)

S = Order.Status
DUPLICATE_CAUSE = "duplicate_at_parsec"
_PARSEC_LIVE = frozenset({"pending", "open", "partially_filled"})
MAX_LISTING_PAGES = 10  # a customer with thousands of recent orders is read in bounded pages
MAX_FILL_MARKETS = 10  # per-market fill listings when the first page of fills was not enough


def reconcile_scope() -> Q:
    """Orders reconciliation visits: at Parsec or in doubt, and final ones whose fills are incomplete."""
    return Q(status__in=list(Order.RECONCILED_STATUSES)) | Q(
        settled_at__isnull=True, status__in=list(Order.FINAL_STATUSES)
    )


def reconcile_pairs() -> QuerySet:
    """Distinct (customer_id, exchange) with something to reconcile; served by a partial index."""
    return (
        Order.objects.filter(reconcile_scope()).values_list("customer_id", "exchange").distinct().order_by()
    )


def reconcile_fan_out(*, now: datetime, stale_after: timedelta) -> list[tuple[uuid.UUID, str]]:
    """The pairs to queue now, oldest-reconciled first, marked as queued (a fixed number of queries).

    A pair already queued is skipped until its run has happened, or until `stale_after` says its message
    was lost (or expired unrun).
    """
    pairs = list(reconcile_pairs())
    if not pairs:
        return []
    customer_ids = {customer_id for customer_id, _ in pairs}
    states = {
        (state.customer_id, state.exchange): state
        for state in ReconcileState.objects.filter(customer_id__in=customer_ids)
    }
    never = datetime.min.replace(tzinfo=now.tzinfo)
    due = []
    for pair in pairs:
        state = states.get(pair)
        waiting = (
            state is not None
            and state.enqueued_at is not None
            and (state.reconciled_at is None or state.reconciled_at < state.enqueued_at)
            and state.enqueued_at > now - stale_after
        )
        if not waiting:
            due.append((state.reconciled_at if state and state.reconciled_at else never, pair))
    due.sort(key=lambda item: item[0])
    chosen = [pair for _, pair in due]
    ReconcileState.objects.bulk_create(
        [
            ReconcileState(customer_id=customer_id, exchange=exchange, enqueued_at=now)
            for customer_id, exchange in chosen
        ],
        update_conflicts=True,
        unique_fields=["customer", "exchange"],
        update_fields=["enqueued_at"],
    )
    return chosen


def reconcile_done(*, customer_id: uuid.UUID | str, exchange: str, now: datetime) -> None:
    """A run happened (whatever it found): the pair may be queued again."""
    ReconcileState.objects.filter(customer_id=customer_id, exchange=exchange).update(reconciled_at=now)


def reconcile_covered(*, customer_id: uuid.UUID | str, exchange: str, since: datetime) -> bool:
    """True when a run started at or after `since`: it read Parsec after anything asked for before then."""
    return ReconcileState.objects.filter(
        customer_id=customer_id, exchange=exchange, reconciled_at__gte=since
    ).exists()


@dataclass
class ReconcileReport:
    orders: int = 0
    parsec_requests: int = 0
    adopted: int = 0
    updated: int = 0
    new_fills: int = 0
    settled: int = 0
    missed: int = 0
    resent: int = 0
    duplicates: list[str] = field(default_factory=list)  # Parsec ids of live duplicates to cancel
    details: list[str] = field(default_factory=list)


def _matches_intent(order: Order, candidate: ParsecOrder, *, skew: timedelta) -> bool:
    sent = order.sent_at or order.created_at
    return (
        candidate.market_id == order.market_id
        and candidate.outcome == order.outcome
        and candidate.side == order.side
        and candidate.price == order.price
        and candidate.size == order.size
        and candidate.created_at >= sent - skew
    )


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
    for order in orders:
        if order.status != S.UNKNOWN:
            continue
        found = _first_match(order, listing.values(), claimed, skew=skew)
        if found is not None:
            if services.order_record_accepted(
                order=order, answer=found, from_statuses=[S.UNKNOWN], cause="adopted_from_listing"
            ):
                claimed.add(found.id)
                order.parsec_order_id = found.id
                order.status = services.parsec_status_of(found)
                order.filled = min(found.filled, order.size)
                report.adopted += 1
            continue
        if order.updated_at >= listed_from:
            # It became unknown (or was counted by another pass) after this listing was asked for: the
            # listing proves nothing about it, and only real evidence may lead to sending it again.
            continue
        report.missed += 1
        _record_miss(order, now=now, report=report)

    # 1b. Orders at Parsec that none of ours claims: a send in doubt that arrived late.
    unclaimed = [item for item in listing.values() if item.id not in claimed]
    if unclaimed:
        _late_arrivals(
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
    for parsec_id, order in by_parsec_id.items():
        answer = listing.get(parsec_id)
        if answer is None or order.status not in Order.LIVE_STATUSES:
            continue
        if services.order_apply_parsec_state(
            order=order, answer=answer, cause="reconciled", now=now, settle=False
        ):
            report.updated += 1
            order.status = services.parsec_status_of(answer)
            order.filled = min(max(answer.filled, order.filled), order.size)
        if (
            order.status in Order.LIVE_STATUSES
            and order.cancel_requested_at is not None
            and now - order.cancel_requested_at > timedelta(seconds=services.CANCEL_RESEND_AFTER_SECONDS)
        ):
            services.order_enqueue_cancel(order_id=order.id)

    # 3. Fills: new rows, and the fee distributed for each.
    _record_fills(by_parsec_id=by_parsec_id, fills=fills, now=now, report=report)

    # 4. Final orders whose fills now add up: close their fee.
    for order in by_parsec_id.values():
        if order.status in Order.FINAL_STATUSES and order.settled_at is None:
            report.settled += services.order_settle_if_complete(order_id=order.id, now=now)


def _late_arrivals(
    *,
    customer: Customer,
    exchange: str,
    orders: list[Order],
    unclaimed: list[ParsecOrder],
    claimed: set[str],
    skew: timedelta,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """Parsec orders none of ours claims that match an intent of ours sent before.

    A create in doubt can be applied after the listings that missed it, once its order was sent again.
    If that order is still waiting to go, it adopts the late one and the second send never leaves. If
    it was placed again, the late one is a duplicate of ours: noted on the order, logged, and cancelled
    at Parsec while it is live (after this transaction).
    """
    # An order of ours with the same intent still on its way may own it: its own answer or pass decides.
    busy = {
        _intent(order)
        for order in Order.objects.filter(
            customer_id=customer.id, exchange=exchange, status__in=[S.SUBMITTING, S.UNKNOWN]
        ).only("market_id", "outcome", "side", "price", "size")
    }
    unclaimed = [item for item in unclaimed if _intent(item) not in busy]
    if not unclaimed:
        return
    waiting = (
        Order.objects.filter(
            customer_id=customer.id, exchange=exchange, status=S.QUEUED, sent_at__isnull=False
        )
        .select_related("fee_authorization")
        .order_by("created_at", "id")
    )
    for order in waiting:
        found = _first_match(order, unclaimed, claimed, skew=skew)
        if found is not None and services.order_record_accepted(
            order=order, answer=found, from_statuses=[S.QUEUED], cause="adopted_late_arrival"
        ):
            claimed.add(found.id)
            report.adopted += 1
    sent_again = [order for order in orders if order.parsec_order_id and order.submit_attempts > 1]
    if not sent_again:
        return
    noted = set(
        OrderEvent.objects.filter(
            order_id__in=[order.id for order in sent_again], cause=DUPLICATE_CAUSE
        ).values_list("detail__parsec_order_id", flat=True)
    )
    for order in sent_again:
        while (duplicate := _first_match(order, unclaimed, claimed, skew=skew)) is not None:
            claimed.add(duplicate.id)
            if duplicate.id not in noted:
                OrderEvent.objects.create(
                    order_id=order.id,
                    from_status=order.status,
                    to_status=order.status,
                    cause=DUPLICATE_CAUSE,
                    detail={"parsec_order_id": duplicate.id, "parsec_status": duplicate.status},
                    created_at=now,
                )
                logger.error(
                    "order %s is at Parsec twice (%s, and %s from a send that arrived late)",
                    order.id,
                    order.parsec_order_id,
                    duplicate.id,
                )
            if duplicate.status in _PARSEC_LIVE:
                report.duplicates.append(duplicate.id)


def _intent(order: Order | ParsecOrder) -> tuple:
    return (order.market_id, order.outcome, order.side, order.price, order.size)


def _first_match(
    order: Order, listed: Iterable[ParsecOrder], claimed: set[str], *, skew: timedelta
) -> ParsecOrder | None:
    """The earliest listed order, not yet claimed, that matches this order's intent."""
    candidates = [
        item for item in listed if item.id not in claimed and _matches_intent(order, item, skew=skew)
    ]
    return min(candidates, key=lambda item: (item.created_at, item.id), default=None)


def _record_fills(
    *, by_parsec_id: dict[str, Order], fills: Iterable[ParsecFill], now: datetime, report: ReconcileReport
) -> None:
    relevant = [fill for fill in fills if fill.order_id in by_parsec_id]
    if not relevant:
        return
    existing = set(
        Fill.objects.filter(fill_id__in=[fill.fill_id for fill in relevant]).values_list("fill_id", flat=True)
    )
    new_by_order: dict[uuid.UUID, list[ParsecFill]] = defaultdict(list)
    for fill in sorted(relevant, key=lambda fill: (fill.created_at, fill.fill_id)):
        if fill.fill_id not in existing:
            new_by_order[by_parsec_id[fill.order_id].id].append(fill)
    if not new_by_order:
        return
    totals = dict(
        Fill.objects.filter(order_id__in=list(new_by_order))
        .values("order_id")
        .annotate(total=Sum("size"))
        .values_list("order_id", "total")
    )
    for order in {by_parsec_id[fill.order_id] for fill in relevant}:
        new = new_by_order.get(order.id)
        if not new:
            continue
        try:
            # One savepoint per order: a fill the fee ledger refuses is not recorded either, so the
            # next pass offers it again instead of leaving the ledger one fill short for ever.
            with transaction.atomic():
                _record_order_fills(
                    order=order, new=new, recorded=totals.get(order.id) or Decimal(0), now=now
                )
        except fee_axis.LedgerConflict as error:
            logger.error("fills of order %s not recorded: %s", order.id, error.message)
            continue
        report.new_fills += len(new)


def _record_order_fills(*, order: Order, new: list[ParsecFill], recorded: Decimal, now: datetime) -> None:
    Fill.objects.bulk_create(
        [
            Fill(
                fill_id=fill.fill_id,
                order=order,
                price=fill.price,
                size=fill.size,
                fee=fill.fee,
                is_taker=fill.is_taker,
                created_at=fill.created_at,
                recorded_at=now,
            )
            for fill in new
        ]
    )
    running = recorded
    for fill in new:
        running += fill.size
        fee_axis.fee_filled(
            fee_authorization=order.fee_authorization,
            fill_id=fill.fill_id,
            filled_total=min(running, order.size),
            size=order.size,
        )
    # Fills can be listed before the order's own filled amount catches up: filled never lags its fills.
    if order.filled < running <= order.size:
        Order.objects.filter(id=order.id, filled__lt=running).update(filled=running, updated_at=now)
        order.filled = running
    event_log.order_fills_recorded(order_id=order.id, fill_ids=[fill.fill_id for fill in new], now=now)


def _record_miss(order: Order, *, now: datetime, report: ReconcileReport) -> None:
    """A listing without this order in doubt; after enough of them over the grace period, act."""
    misses = order.reconcile_misses + 1
    first_miss_at = order.first_miss_at or now
    Order.objects.filter(id=order.id, status=S.UNKNOWN).update(
        reconcile_misses=misses, first_miss_at=first_miss_at, updated_at=now
    )
    order.reconcile_misses, order.first_miss_at = misses, first_miss_at
    grace = timedelta(seconds=settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS)
    if misses < settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND or now - first_miss_at < grace:
        return
    # Parsec has, by now, shown no such order repeatedly: it never arrived.
    if order.cancel_requested_at is not None:
        if order_transition(
            order_id=order.id,
            from_statuses=[S.UNKNOWN],
            to_status=S.CANCELLED,
            cause="cancelled_not_at_parsec",
            now=now,
            detail={"misses": misses},
            condition=Q(parsec_order_id__isnull=True),
            settled_at=now,
        ):
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
        return
    if now >= services.order_give_up_at(order):
        services.order_fail(order_id=order.id, from_statuses=[S.UNKNOWN], cause="not_at_parsec", now=now)
        return
    if services.order_resend(order_id=order.id, cause="resent_not_at_parsec", now=now):
        report.resent += 1
