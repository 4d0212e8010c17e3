"""The one path that changes a partner's fee: checked against the escrow policy, then synced to Parsec."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import Actor, audit_record
from customers import services as customer_services
from customers.models import Partner
from fees.models import EscrowConfig
from fees.policy import partner_fee_validate
from fees.services.escrow_config import escrow_config_current


def _fee_text(fee_bps: int | None) -> str:
    return "the escrow default" if fee_bps is None else f"{fee_bps} bps"


def partner_fee_set(
    *,
    partner: Partner,
    fee_bps: int | None,
    actor: Actor,
    now: datetime | None = None,
    may_refresh_config: bool = True,
) -> Partner:
    """Set the partner's fee after checking it against the escrow config; the one path a fee changes by.

    Bumps the partner's fee version and queues the sync of its builder users at Parsec (after commit).
    With `may_refresh_config` (outside any transaction) a stale config is fetched again first; without
    it (the admin's save, inside the admin's transaction) the fee is checked against the stored config
    as it is, as the admin form did: every order checks its fee against a fresh config anyway.
    A change is audited (fee.changed, the old and the new fee) in the same transaction.
    """
    now = now or timezone.now()
    config = None
    if fee_bps not in (None, 0):  # a fee that needs the minimum checked needs a config
        if may_refresh_config:
            config = escrow_config_current(now=now, may_refresh=True)  # before the transaction: HTTP
        else:
            config = EscrowConfig.objects.filter(pk=EscrowConfig.SINGLETON_ID).first()
    partner_fee_validate(fee_bps=fee_bps, config=config)
    with transaction.atomic():
        # The old fee as stored, under the row's lock: two changes at once each audit what they replaced.
        old_fee_bps = Partner.objects.select_for_update().values_list("fee_bps", flat=True).get(pk=partner.pk)
        partner.fee_bps = fee_bps
        partner.save(update_fields=["fee_bps"])
        if old_fee_bps != fee_bps:
            customer_services.partner_fee_changed(partner_id=partner.pk)
            audit_record(
                action=AuditAction.FEE_CHANGED,
                actor=actor,
                target_type="partner",
                target_id=partner.pk,
                partner_id=partner.pk,
                summary=f"Fee of {partner.name} changed from {_fee_text(old_fee_bps)} to "
                f"{_fee_text(fee_bps)}.",
                before={"fee_bps": old_fee_bps},
                after={"fee_bps": fee_bps},
                now=now,
            )
    return partner
