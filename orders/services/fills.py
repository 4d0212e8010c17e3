"""Fills: the one place a fill Parsec reports becomes a Fill row, with the fee it distributes."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from orders import event_log, fee_axis
from orders.models import Fill, Order
from parsec.client import Fill as ParsecFill

logger = logging.getLogger(__name__)


def order_fills_record(*, by_parsec_id: dict[str, Order], fills: Iterable[ParsecFill], now: datetime) -> int:
    """Record the fills Parsec listed that are new, for the orders given; returns how many were recorded.

    The only place Fill rows are inserted. An order's fills are recorded with their fee distribution in
    one savepoint, and its filled amount never lags them.
    """
    relevant = [fill for fill in fills if fill.order_id in by_parsec_id]
    if not relevant:
        return 0
    existing = set(
        Fill.objects.filter(fill_id__in=[fill.fill_id for fill in relevant]).values_list("fill_id", flat=True)
    )
    new_by_order: dict[uuid.UUID, list[ParsecFill]] = defaultdict(list)
    for fill in sorted(relevant, key=lambda fill: (fill.created_at, fill.fill_id)):
        if fill.fill_id not in existing:
            new_by_order[by_parsec_id[fill.order_id].id].append(fill)
    if not new_by_order:
        return 0
    totals = dict(
        Fill.objects.filter(order_id__in=list(new_by_order))
        .values("order_id")
        .annotate(total=Sum("size"))
        .values_list("order_id", "total")
    )
    recorded = 0
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
        recorded += len(new)
    return recorded


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
