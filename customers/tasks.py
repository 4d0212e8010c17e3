"""Provisioning at Parsec as Celery tasks (provisioning queue), with their retry policy and the sweep."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from builder_platform.enqueue import enqueue_now
from customers import selectors, services
from customers.models import Customer
from customers.services.fee_sync import FeeSyncBusy
from customers.task_names import CustomerTask
from parsec.client import ParsecError, ParsecInDoubt, ParsecUnavailable

logger = logging.getLogger(__name__)

# Exponential backoff with jitter, 5 s doubling up to 2 min, about 9 minutes in all; after that the
# task gives up and the sweep (which waits longer than that) enqueues the customer again.
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 120
MAX_RETRIES = 8
SWEEP_STALE_AFTER = timedelta(minutes=10)
FEE_SYNC_BUSY_RETRY_SECONDS = 10
SWEEP_BATCH = 500


def retry_countdown(*, retries: int, error: ParsecError) -> float:
    """Seconds before the next attempt: the backoff, or Parsec's Retry-After when that is longer."""
    backoff = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries)
    countdown = random.uniform(backoff / 2, backoff)  # jitter spreads a burst of failures out
    retry_after = getattr(error, "retry_after", None)
    return max(countdown, retry_after or 0.0)


def _run(task: Task, service, customer_id: str) -> None:
    try:
        service(customer_id=customer_id, now=timezone.now())
    except Customer.DoesNotExist:
        logger.info("customer %s no longer exists; nothing to provision", customer_id)
    # Unavailable: nothing happened at Parsec. In doubt: it may have happened, and resending is still
    # safe because builder users are idempotent on external_id and onboarding is idempotent and
    # resumable, so a repeat answers the same user or Safe.
    except (ParsecUnavailable, ParsecInDoubt) as error:
        raise task.retry(
            exc=error, countdown=retry_countdown(retries=task.request.retries, error=error)
        ) from None


@shared_task(name=CustomerTask.PROVISION, bind=True, max_retries=MAX_RETRIES)
def customer_provision_task(self: Task, customer_id: str) -> None:
    _run(self, services.customer_provision, customer_id)


@shared_task(name=CustomerTask.ONBOARD, bind=True, max_retries=MAX_RETRIES)
def wallet_onboard_task(self: Task, customer_id: str) -> None:
    _run(self, services.wallet_onboard, customer_id)


@shared_task(name=CustomerTask.SYNC_PARTNER_FEE, bind=True, max_retries=MAX_RETRIES)
def partner_fee_sync_task(self: Task, partner_id: int) -> int:
    """The partner's fee onto its customers' builder users at Parsec (safe to run twice)."""
    try:
        return services.partner_fee_sync(partner_id=partner_id, now=timezone.now())
    except (ParsecUnavailable, ParsecInDoubt) as error:
        countdown = retry_countdown(retries=self.request.retries, error=error)
        raise self.retry(exc=error, countdown=countdown) from None
    except FeeSyncBusy as busy:
        # Another run is syncing this partner; once it is done, this one finds what is still behind.
        countdown = random.uniform(FEE_SYNC_BUSY_RETRY_SECONDS / 2, FEE_SYNC_BUSY_RETRY_SECONDS)
        raise self.retry(exc=busy, countdown=countdown) from None


@shared_task(name=CustomerTask.PURGE_WALLET_CHALLENGES)
def wallet_challenges_purge_task() -> int:
    return services.wallet_challenges_purge(now=timezone.now())


@shared_task(name=CustomerTask.SWEEP_PROVISIONING)
def customers_provisioning_sweep_task() -> int:
    enqueued = services.customers_provisioning_sweep(
        now=timezone.now(), stale_after=SWEEP_STALE_AFTER, limit=SWEEP_BATCH
    )
    if enqueued:
        logger.info("provisioning sweep re-enqueued %d customers", enqueued)
    # A fee change whose sync was lost or gave up: sync those partners again.
    partner_ids = selectors.customers_with_stale_fee().values_list("partner_id", flat=True).distinct()
    for partner_id in list(partner_ids.order_by()):
        enqueue_now(CustomerTask.SYNC_PARTNER_FEE, partner_id)
    return enqueued
