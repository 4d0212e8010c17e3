"""The event types partners can subscribe to, and the hooks other apps hang on a recorded event.

Apps to the right (webhooks) register a hook in their AppConfig.ready; apps to the left of them record
events without knowing who listens. A hook runs inside the transaction that records the event, so
what it writes (a delivery to send) commits with the event or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from events.models import Event

# type -> what it reports. `data` is the object as the partner API returns it.
EVENT_TYPES: dict[str, str] = {
    "customer.active": "A customer became active: provisioned at Parsec with a signer and a payer, or "
    "enabled again. data: the Customer.",
    "customer.wallet_linked": "A customer proved a new signer wallet. data: the Customer.",
    "order.created": "An order was accepted at intake. data: the Order.",
    "order.updated": "An order's status changed. data: the Order, with previous_status and status.",
    "order.fill": "A new fill of an order. data: the Fill, with order_id and the Order after it.",
    "fee_authorization.signed": "The customer's PullFee signature was verified. data: the Fee.",
    "fee.settled": "A final order's fee was settled: the filled part distributed, the rest refunded. "
    "data: the Fee.",
    "fee.refunded": "A final order with no fill had its whole fee refunded. data: the Fee.",
    # The affiliate program's: recorded by fees.commissions.commission_book and
    # affiliates.services.payout_mark_paid, in their transactions.
    "commission.booked": "A commission was booked for a partner (affiliate program). data: the Commission.",
    "payout.paid": "A payout was paid to a partner (affiliate program). data: the Payout.",
    "webhook_endpoint.disabled": "A webhook endpoint was disabled after failing every attempt for "
    "WEBHOOK_DISABLE_AFTER_HOURS. data: the WebhookEndpoint.",
    "ping": "A test event (POST /webhook-endpoints/{id}/test). data: {message}.",
}
WILDCARD = "*"

_recorded_hooks: list[Callable[[Event], None]] = []


def on_event_recorded(hook: Callable[[Event], None]) -> None:
    """Call `hook(event)` inside the transaction of every event recorded with `deliver=True`."""
    if hook not in _recorded_hooks:
        _recorded_hooks.append(hook)


def recorded_hooks() -> tuple[Callable[[Event], None], ...]:
    return tuple(_recorded_hooks)
