"""Mass cancel: every live order of a partner, customer, exchange or market asked to cancel, naming who asked.

Parsec has no cancel-all: each order goes through `order_cancel_request` (its conditional transitions,
events and cancel queue), and its cancel at Parsec through the cancel task one order at a time, which
honours Parsec's 429 Retry-After. The database writes of one mass cancel are one transaction, with its
audit row: all of them are recorded, or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from audit.models import AuditAction, AuditEntry
from audit.services import Actor, audit_record
from customers.models import Customer, Partner
from orders.errors import OrderError
from orders.models import Order
from orders.services.cancel import order_cancel_request


@dataclass(frozen=True)
class MassCancelResult:
    cancel_requested: int  # orders cancelled at once (never sent) or whose cancel is on its way to Parsec
    skipped: int  # became final, or kept changing state, while the request was recorded


def cancel_requester(actor: Actor) -> dict[str, Any]:
    """What an order's event says about who asked: the key's prefix, "platform staff", "dead-man switch".

    A staff user's name is kept for the admin (the partner API leaves staff_user out).
    """
    if actor.type == AuditEntry.ActorType.STAFF:
        return {"requested_by": "platform staff", "staff_user": actor.label, "staff_user_id": actor.user_id}
    return {"requested_by": actor.label.removeprefix("system: ")}


def orders_live_matching(
    *,
    partner: Partner | None,
    customer: Customer | None = None,
    exchange: str = "",
    market_id: str = "",
) -> QuerySet[Order]:
    """Orders not final and not yet asked to cancel, within the filters (partner None: every partner)."""
    orders = Order.objects.exclude(status__in=Order.FINAL_STATUSES).filter(cancel_requested_at__isnull=True)
    if partner is not None:
        orders = orders.filter(partner=partner)
    if customer is not None:
        orders = orders.filter(customer=customer)
    if exchange:
        orders = orders.filter(exchange=exchange)
    if market_id:
        orders = orders.filter(market_id=market_id)
    return orders


@transaction.atomic
def orders_cancel_all(
    *,
    partner: Partner | None,
    customer: Customer | None = None,
    exchange: str = "",
    market_id: str = "",
    actor: Actor,
    now: datetime,
) -> MassCancelResult:
    """Ask every matching live order to cancel; a second call finds nothing more (0).

    `partner` is None only for staff cancelling across partners (an exchange, a market). Orders never
    sent are cancelled at once; sent ones are marked and their cancels queued after commit.
    """
    requested_by = cancel_requester(actor)
    matching = orders_live_matching(
        partner=partner, customer=customer, exchange=exchange, market_id=market_id
    )
    requested = skipped = 0
    # Read whole before writing: SQLite must not update rows a cursor of the same connection is reading.
    for order in list(matching.select_related("fee_authorization").order_by("created_at", "id")):
        try:
            order_cancel_request(order=order, now=now, requested_by=requested_by)
        except OrderError:
            skipped += 1  # final meanwhile (filled, say), or contended: the caller may ask again
        else:
            requested += 1
    filters = {
        "partner_id": partner.pk if partner is not None else None,
        "customer_id": str(customer.pk) if customer is not None else None,
        "exchange": exchange or None,
        "market_id": market_id or None,
    }
    scope = ", ".join(f"{name} {value}" for name, value in filters.items() if value is not None) or "all"
    audit_record(
        action=AuditAction.ORDERS_MASS_CANCEL,
        actor=actor,
        target_type="orders",
        target_id="",
        partner_id=partner.pk if partner is not None else None,
        summary=f"Asked {requested} live order(s) to cancel ({scope})",
        after={"filters": filters, "cancel_requested": requested, "skipped": skipped},
        now=now,
    )
    return MassCancelResult(cancel_requested=requested, skipped=skipped)
