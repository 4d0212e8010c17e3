"""The partner's fee at Parsec: every provisioned builder user carries its partner's current fee."""

from __future__ import annotations

import logging
import uuid

from django.db.models import F

from builder_platform.enqueue import enqueue_on_commit
from customers import selectors
from customers.models import Customer, Partner
from customers.task_names import CustomerTask
from parsec.client import ParsecRejected
from parsec.conf import get_client

logger = logging.getLogger(__name__)


# --- The partner's fee at Parsec ----------------------------------------------------------------------

FEE_SYNC_ROUNDS = 5


def partner_fee_changed(*, partner_id: int) -> None:
    """The partner's fee has just changed (in the caller's transaction): its builder users follow.

    Bumps the partner's fee version, which puts every provisioned customer out of date until its
    builder user at Parsec carries the new fee. A task does that after commit; the provisioning sweep
    catches whatever it leaves undone.
    """
    Partner.objects.filter(pk=partner_id).update(fee_version=F("fee_version") + 1)
    enqueue_on_commit(CustomerTask.SYNC_PARTNER_FEE, partner_id)


def customer_fee_sync(*, customer_id: uuid.UUID | str) -> bool:
    """Give the customer's builder user its partner's current fee at Parsec; True once it has it.

    The fee can change again while the PATCH is on its way, so the version is read again afterwards
    and a newer fee is sent too: the last PATCH that lands carries the current fee. Raises
    ParsecUnavailable / ParsecInDoubt for the task to retry (a PATCH sets a value: resending is safe).
    """
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
        version = row["partner__fee_version"]
        if row["parsec_fee_version"] == version:
            return True
        get_client().update_builder_user(row["parsec_customer_id"], fee_bps=row["partner__fee_bps"])
        if Partner.objects.filter(pk=row["partner_id"], fee_version=version).exists():
            Customer.objects.filter(pk=customer_id).update(parsec_fee_version=version)
            return True
    return False


def partner_fee_sync(*, partner_id: int) -> int:
    """Bring the builder users of this partner's customers to its current fee; how many were synced.

    A builder user Parsec refuses to update (gone, say) is logged as an error and not tried again until
    the fee changes again: a refusal does not pass by itself.
    """
    synced = 0
    stale = selectors.customers_with_stale_fee().filter(partner_id=partner_id).order_by("pk")
    for customer_id in stale.values_list("pk", flat=True).iterator():
        try:
            synced += customer_fee_sync(customer_id=customer_id)
        except ParsecRejected as exc:
            logger.error("Parsec refused the fee of customer %s: %s %s", customer_id, exc.code, exc.message)
            version = Partner.objects.values_list("fee_version", flat=True).get(pk=partner_id)
            Customer.objects.filter(pk=customer_id).update(parsec_fee_version=version)
    return synced
