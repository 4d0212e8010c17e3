"""The one path that changes a partner's fee: checked against the escrow policy, then synced to Parsec."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers import services as customer_services
from customers.models import Partner
from fees.models import EscrowConfig
from fees.policy import partner_fee_validate
from fees.services.escrow_config import escrow_config_current


def partner_fee_set(
    *, partner: Partner, fee_bps: int | None, now: datetime | None = None, may_refresh_config: bool = True
) -> Partner:
    """Set the partner's fee after checking it against the escrow config; the one path a fee changes by.

    Bumps the partner's fee version and queues the sync of its builder users at Parsec (after commit).
    With `may_refresh_config` (outside any transaction) a stale config is fetched again first; without
    it (the admin's save, inside the admin's transaction) the fee is checked against the stored config
    as it is, as the admin form did: every order checks its fee against a fresh config anyway.
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
        changed = partner.fee_bps != fee_bps
        partner.fee_bps = fee_bps
        partner.save(update_fields=["fee_bps"])
        if changed:
            customer_services.partner_fee_changed(partner_id=partner.pk)
    return partner
