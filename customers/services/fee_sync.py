"""The partner's fee at Parsec: every provisioned builder user carries its partner's current fee."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from builder_platform.enqueue import enqueue_on_commit
from customers import selectors
from customers.models import Customer, Partner
from customers.task_names import CustomerTask
from parsec.client import ParsecRejected
from parsec.conf import get_client

logger = logging.getLogger(__name__)


FEE_SYNC_ROUNDS = 5
# How long a run holds a partner's fee sync without renewing it (it renews before every PATCH, whose
# timeouts are far shorter): a run that died lets the next one in after this.
FEE_SYNC_LEASE = timedelta(minutes=2)


class FeeSyncBusy(Exception):
    """Another run is syncing this partner's fee right now; the task tries again shortly."""


def partner_fee_changed(*, partner_id: int) -> None:
    """The partner's fee has just changed (in the caller's transaction): its builder users follow.

    Bumps the partner's fee version, which puts every provisioned customer out of date until its
    builder user at Parsec carries the new fee. A task does that after commit; the provisioning sweep
    catches whatever it leaves undone.
    """
    Partner.objects.filter(pk=partner_id).update(fee_version=F("fee_version") + 1)
    enqueue_on_commit(CustomerTask.SYNC_PARTNER_FEE, partner_id)


@contextlib.contextmanager
def _partner_fee_lease(*, partner_id: int, now: datetime) -> Iterator[Callable[[], None]]:
    """Hold the partner's fee sync, so two runs never have PATCHes on their way at once.

    Two runs that overlapped could land their PATCHes out of order: the older fee last, after the
    newer run had recorded the newer version. The lease is a conditional UPDATE (no transaction is
    held across the HTTP calls); yields the function that renews it, and raises FeeSyncBusy when
    another run holds it.
    """
    token = uuid.uuid4()
    taken = Partner.objects.filter(
        Q(fee_sync_lease_until__isnull=True) | Q(fee_sync_lease_until__lte=now), pk=partner_id
    ).update(fee_sync_lease_until=now + FEE_SYNC_LEASE, fee_sync_lease_token=token)
    if taken != 1:
        raise FeeSyncBusy(f"partner {partner_id}'s fee is being synced by another run")

    def renew() -> None:
        # The wall clock, not `now`: the lease must outlast the HTTP calls still to come.
        renewed = Partner.objects.filter(pk=partner_id, fee_sync_lease_token=token).update(
            fee_sync_lease_until=timezone.now() + FEE_SYNC_LEASE
        )
        if renewed != 1:
            raise FeeSyncBusy(f"partner {partner_id}'s fee sync lease lapsed and was taken over")

    try:
        yield renew
    finally:
        Partner.objects.filter(pk=partner_id, fee_sync_lease_token=token).update(
            fee_sync_lease_until=None, fee_sync_lease_token=None
        )


def _fee_text(fee_bps: int | None) -> str:
    return "the escrow default" if fee_bps is None else f"{fee_bps} bps"


def _customer_fee_sync(*, customer_id: uuid.UUID | str, now: datetime, renew: Callable[[], None]) -> bool:
    """customer_fee_sync, under the partner's lease (renewed before each PATCH)."""
    for _ in range(FEE_SYNC_ROUNDS):
        row = (
            Customer.objects.filter(pk=customer_id)
            .values(
                "parsec_customer_id",
                "parsec_fee_version",
                "partner_id",
                "partner__fee_bps",
                "partner__fee_version",
            )
            .first()
        )
        if row is None or not row["parsec_customer_id"]:
            return False
        version, fee_bps = row["partner__fee_version"], row["partner__fee_bps"]
        if row["parsec_fee_version"] == version:
            return True
        renew()
        try:
            answer = get_client().update_builder_user(row["parsec_customer_id"], fee_bps=fee_bps)
        except ParsecRejected as exc:
            logger.error("Parsec refused the fee of customer %s: %s %s", customer_id, exc.code, exc.message)
            # Parsec still carries the fee it had: the customer stays behind, with the refusal recorded,
            # and is not tried again until the partner's fee changes again.
            Customer.objects.filter(pk=customer_id).update(
                fee_sync_refused_version=version,
                fee_sync_error=f"Parsec refused {_fee_text(fee_bps)} ({exc.code}): {exc.message}"[:2000],
            )
            return False
        current = Partner.objects.filter(pk=row["partner_id"], fee_version=version).exists()
        fields = {"parsec_fee_bps": answer.fee_bps, "parsec_fee_read_at": now}
        if current:
            fields.update(parsec_fee_version=version, fee_sync_refused_version=None, fee_sync_error="")
        Customer.objects.filter(pk=customer_id).update(**fields)
        if current:
            return True
    return False


def customer_fee_sync(*, customer_id: uuid.UUID | str, now: datetime) -> bool:
    """Give the customer's builder user its partner's current fee at Parsec; True once it has it.

    The fee can change again while the PATCH is on its way, so the version is read again afterwards
    and a newer fee is sent too: the last PATCH that lands carries the current fee, and what Parsec
    answered it carries is recorded. A refusal is recorded on the customer, which stays behind. Raises
    ParsecUnavailable / ParsecInDoubt for the task to retry (a PATCH sets a value: resending is safe),
    and FeeSyncBusy while another run syncs the same partner.
    """
    partner_id = Customer.objects.values_list("partner_id", flat=True).filter(pk=customer_id).first()
    if partner_id is None:
        return False
    with _partner_fee_lease(partner_id=partner_id, now=now) as renew:
        return _customer_fee_sync(customer_id=customer_id, now=now, renew=renew)


def partner_fee_sync(*, partner_id: int, now: datetime) -> int:
    """Bring the builder users of this partner's customers to its current fee; how many were synced.

    One run per partner at a time (FeeSyncBusy otherwise). A builder user Parsec refuses to update
    (gone, say) keeps the fee it had, with the refusal on the customer, and is not tried again until
    the fee changes again: a refusal does not pass by itself.
    """
    if not Partner.objects.filter(pk=partner_id).exists():
        return 0
    synced = 0
    with _partner_fee_lease(partner_id=partner_id, now=now) as renew:
        stale = selectors.customers_with_stale_fee().filter(partner_id=partner_id).order_by("pk")
        for customer_id in list(stale.values_list("pk", flat=True)):
            synced += _customer_fee_sync(customer_id=customer_id, now=now, renew=renew)
    return synced
