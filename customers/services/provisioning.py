"""Provisioning at Parsec: the builder user, onboarding the signer (its payer Safe), and the sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from builder_platform.enqueue import enqueue_many_on_commit, enqueue_on_commit
from customers import selectors
from customers.addresses import InvalidAddress, checksum_address
from customers.event_log import customer_event_record
from customers.models import Customer, Partner, Wallet
from customers.services.wallets import wallet_make_current
from customers.task_names import CustomerTask
from parsec.client import ParsecRejected
from parsec.conf import get_client

logger = logging.getLogger(__name__)


# Fee escrow, the reason a customer needs a payer, exists on Polymarket only.
ONBOARDING_EXCHANGE = "polymarket"


# --- Provisioning at Parsec ----------------------------------------------------------------------------
# These two make an HTTP call, so they are not one transaction: they read, call Parsec outside any
# transaction, then record the answer in a short transaction of its own.


def parsec_external_id(customer: Customer) -> str:
    """The id Parsec knows this customer by.

    Parsec's external_id is unique per builder, and ours only per partner, so two partners' "user-1"
    must not meet there: our own customer UUID is stable and unique across partners. A customer whose
    signer was replaced needs a new builder user, hence a new id: the UUID and its generation.
    """
    if customer.parsec_generation:
        return f"{customer.id}.{customer.parsec_generation}"
    return str(customer.id)


@transaction.atomic
def customer_provisioning_error_record(
    *, customer_id: uuid.UUID | str, message: str, now: datetime
) -> Customer:
    """Keep Parsec's refusal on the customer, which stays provisioning until someone acts on it."""
    Customer.objects.filter(pk=customer_id).update(provisioning_error=message[:2000], updated_at=now)
    return Customer.objects.get(pk=customer_id)


def _customer_activate_if_ready(*, customer_id: uuid.UUID | str, now: datetime) -> None:
    ready = (
        Q(parsec_customer_id__isnull=False)
        & selectors.has_current_wallet(Wallet.Role.SIGNER)
        & selectors.has_current_wallet(Wallet.Role.PAYER)
    )
    if Customer.objects.filter(ready, pk=customer_id, status=Customer.Status.PROVISIONING).update(
        status=Customer.Status.ACTIVE, provisioning_error="", updated_at=now
    ):
        customer_event_record(customer_id=customer_id, type="customer.active", now=now)


@transaction.atomic
def customer_parsec_id_record(
    *,
    customer_id: uuid.UUID | str,
    parsec_customer_id: str,
    now: datetime,
    parsec_fee_version: int = 0,
    parsec_generation: int | None = None,
    parsec_fee_bps: int | None = None,
) -> Customer:
    """Store the builder user's id (and the partner fee version it was given); queue onboarding when a
    signer is already linked. A builder user created for an earlier generation (the signer was replaced
    while it was being created) is not recorded."""
    current = Q() if parsec_generation is None else Q(parsec_generation=parsec_generation)
    recorded = Customer.objects.filter(current, pk=customer_id, parsec_customer_id__isnull=True).update(
        parsec_customer_id=parsec_customer_id,
        parsec_fee_version=parsec_fee_version,
        parsec_fee_bps=parsec_fee_bps,
        parsec_fee_read_at=now,  # the answer that gave the id also said the fee it carries
        provisioning_error="",
        updated_at=now,
    )
    customer = Customer.objects.get(pk=customer_id)
    has_signer = customer.wallets.filter(role=Wallet.Role.SIGNER, replaced_at__isnull=True).exists()
    if recorded and has_signer:
        enqueue_on_commit(CustomerTask.ONBOARD, str(customer.pk))
    return customer


def customer_provision(*, customer_id: uuid.UUID | str, now: datetime) -> Customer:
    """Create the customer's builder user at Parsec and keep its id.

    Raises ParsecUnavailable / ParsecInDoubt for the task to retry: POST /builder/users is idempotent
    on external_id, so sending it again after a timeout answers the same user instead of a second one.
    """
    customer = Customer.objects.get(pk=customer_id)
    if customer.status == Customer.Status.DISABLED or customer.parsec_customer_id:
        return customer
    partner_fee_bps, partner_fee_version = Partner.objects.values_list("fee_bps", "fee_version").get(
        pk=customer.partner_id
    )
    try:
        user = get_client().create_builder_user(
            external_id=parsec_external_id(customer), email=customer.email or None
        )
        # Parsec keeps the builder's fee per end-user; the partner's own rate (0: attribution only, no
        # fee_auth) must be set there too, or Parsec expects its default fee. None keeps the default.
        if partner_fee_bps is not None and user.fee_bps != partner_fee_bps:
            user = get_client().update_builder_user(user.customer_id, fee_bps=partner_fee_bps)
    except ParsecRejected as exc:
        logger.warning("Parsec refused the builder user of customer %s: %s", customer.pk, exc.code)
        return customer_provisioning_error_record(
            customer_id=customer.pk,
            message=f"Parsec refused the builder user ({exc.code}): {exc.message}",
            now=now,
        )
    # A fee changed meanwhile leaves an older version recorded: the provisioning sweep syncs it.
    return customer_parsec_id_record(
        customer_id=customer.pk,
        parsec_customer_id=user.customer_id,
        now=now,
        parsec_fee_version=partner_fee_version,
        parsec_generation=customer.parsec_generation,
        parsec_fee_bps=user.fee_bps,
    )


@transaction.atomic
def wallet_payer_record(
    *, customer_id: uuid.UUID | str, signer_address: str, payer_address: str, now: datetime
) -> Customer:
    """Keep the payer Parsec onboarding returned for this signer, and activate the customer."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    still_current = customer.wallets.filter(
        role=Wallet.Role.SIGNER, address=signer_address, replaced_at__isnull=True
    ).exists()
    if not still_current:
        return customer  # the signer changed meanwhile; its own onboarding is queued
    wallet_make_current(customer=customer, role=Wallet.Role.PAYER, address=payer_address, now=now)
    _customer_activate_if_ready(customer_id=customer.pk, now=now)
    customer.refresh_from_db()
    return customer


def wallet_onboard(*, customer_id: uuid.UUID | str, now: datetime) -> Customer:
    """Onboard the customer's signer at Parsec (a managed Safe it owns) and keep the Safe as payer.

    Raises ParsecUnavailable / ParsecInDoubt for the task to retry: onboarding is idempotent and
    resumable at Parsec, so a repeat after a timeout answers the same Safe.
    """
    customer = Customer.objects.get(pk=customer_id)
    if customer.status == Customer.Status.DISABLED or not customer.parsec_customer_id:
        return customer  # provisioning queues onboarding once the builder user exists
    current = {
        wallet.role: wallet for wallet in customer.wallets.filter(replaced_at__isnull=True).order_by("role")
    }
    signer = current.get(Wallet.Role.SIGNER)
    if signer is None:
        return customer
    if Wallet.Role.PAYER in current:
        with transaction.atomic():
            _customer_activate_if_ready(customer_id=customer.pk, now=now)
        customer.refresh_from_db()
        return customer
    try:
        onboarding = get_client().onboard(
            customer_id=customer.parsec_customer_id,
            exchange=ONBOARDING_EXCHANGE,
            eoa_address=signer.address,
            mode="managed",
            wallet_type="safe",
        )
    except ParsecRejected as exc:
        logger.warning("Parsec refused onboarding customer %s: %s", customer.pk, exc.code)
        return customer_provisioning_error_record(
            customer_id=customer.pk, message=f"Parsec refused onboarding ({exc.code}): {exc.message}", now=now
        )
    try:
        payer_address = checksum_address(onboarding.safe_address or "")
    except InvalidAddress:
        return customer_provisioning_error_record(
            customer_id=customer.pk,
            message="Parsec onboarding answered without a valid Safe address.",
            now=now,
        )
    return wallet_payer_record(
        customer_id=customer.pk, signer_address=signer.address, payer_address=payer_address, now=now
    )


@transaction.atomic
def customers_provisioning_sweep(*, now: datetime, stale_after: timedelta, limit: int = 500) -> int:
    """Re-enqueue provisioning that a lost message or an exhausted retry left undone; how many."""
    cutoff = now - stale_after
    waiting = selectors.customers_awaiting_provisioning(requested_before=cutoff, limit=limit)
    enqueued = 0
    for task_name, customer_ids in waiting.items():
        # Claim by bumping provisioning_requested_at, so overlapping sweeps enqueue each customer once.
        claimed = [
            customer_id
            for customer_id in customer_ids
            if Customer.objects.filter(pk=customer_id, provisioning_requested_at__lt=cutoff).update(
                provisioning_requested_at=now
            )
        ]
        enqueue_many_on_commit(task_name, [str(customer_id) for customer_id in claimed])
        enqueued += len(claimed)
    return enqueued
