"""The one path that changes a partner's fee: checked against the escrow policy, then synced to Parsec."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers import services as customer_services
from customers.models import Partner
from fees.models import FeeAuthorization, FeeLedgerEntry
from fees.policy import partner_fee_validate
from fees.services.escrow_config import escrow_config_current

logger = logging.getLogger(__name__)

State = FeeAuthorization.State
Kind = FeeLedgerEntry.Kind


def partner_fee_set(*, partner: Partner, fee_bps: int | None, now: datetime | None = None) -> Partner:
    """Set the partner's fee after checking it against the current escrow config (fetched if stale)."""
    now = now or timezone.now()
    # A fee that needs the minimum checked needs a config: read it before the transaction (HTTP).
    config = escrow_config_current(now=now) if fee_bps not in (None, 0) else None
    partner_fee_validate(fee_bps=fee_bps, config=config)
    with transaction.atomic():
        changed = partner.fee_bps != fee_bps
        partner.fee_bps = fee_bps
        partner.save(update_fields=["fee_bps"])
        if changed:
            customer_services.partner_fee_changed(partner_id=partner.pk)
    return partner
