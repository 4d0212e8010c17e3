"""Time limits of an order: its fee deadline, its give-up time and why, the submit backoff (pure policy)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings

from orders.models import Order
from orders.vocabulary import EventCause
from workers.selectors import worker_alive_since


def fee_deadline(order: Order) -> datetime | None:
    """When the order's fee authorization stops being valid; None for an order without a fee."""
    if order.fee_authorization_id is None:
        return None
    return order.fee_authorization.deadline


def order_give_up_at(order: Order) -> datetime:
    """After this moment the order is not sent (again): it fails instead."""
    deadline = fee_deadline(order)
    if deadline is not None:
        # Parsec must still find the deadline in the future when it checks it.
        return deadline - timedelta(seconds=settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS)
    return order.created_at + timedelta(seconds=settings.ORDER_SUBMIT_GIVE_UP_SECONDS)


def give_up_reason(order: Order, *, now: datetime) -> tuple[str, str]:
    """Why a queued order is past its give-up time: the cause recorded in its event, and a sentence.

    `no_worker` when it was never tried and every worker alive now started after it was created: it
    waited because no worker ran (the broker was away, or the workers had died), not because Parsec
    refused it.
    """
    limit = (
        "its fee authorization's deadline"
        if order.fee_authorization_id is not None
        else f"{settings.ORDER_SUBMIT_GIVE_UP_SECONDS} s after it was created (ORDER_SUBMIT_GIVE_UP_SECONDS)"
    )
    waited = int((now - order.created_at).total_seconds())
    if order.submit_attempts == 0:
        running_since = worker_alive_since(now=now)
        if running_since is None or running_since > order.created_at:
            return EventCause.NO_WORKER, (
                f"No worker was running to send the order: it waited {waited} s and the platform gives "
                f"up at {limit}."
            )
        return EventCause.NOT_SENT_IN_TIME, (
            f"The order waited {waited} s behind other work and was never sent; "
            f"the platform gives up at {limit}."
        )
    return (
        EventCause.DEADLINE_PASSED,
        f"Parsec could not be reached in time; the platform gives up at {limit}.",
    )


def submit_backoff_seconds(attempts: int, retry_after: float | None) -> float:
    """Seconds before sending again after Parsec was unavailable: exponential, jittered, at least Retry-After.

    Full jitter between half and all of the doubled delay spreads out a burst of orders that failed
    together, so they do not all come back at the same instant.
    """
    ceiling = min(
        settings.ORDER_SUBMIT_BACKOFF_MAX_SECONDS,
        settings.ORDER_SUBMIT_BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1),
    )
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)
