"""Partners and their API keys: creating a partner, issuing, revoking and touching keys."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from audit.models import AuditAction
from audit.services import Actor, audit_record
from customers.addresses import InvalidAddress, checksum_address
from customers.api_keys import api_key_generate, api_key_hash, api_key_lookup_prefix
from customers.models import Partner, PartnerApiKey

# --- Partners and API keys ----------------------------------------------------------------------


@transaction.atomic
def partner_create(
    *,
    name: str,
    fee_bps: int | None = None,
    affiliate_address: str = "",
    revenue_share_bps: int = 0,
    is_builtin: bool = False,
) -> Partner:
    """A new partner; raises django's ValidationError on a taken name or a value out of range."""
    if affiliate_address:
        # A bad address is left as given: full_clean() names the field and says what is wrong.
        with contextlib.suppress(InvalidAddress):
            affiliate_address = checksum_address(affiliate_address)
    partner = Partner(
        name=name.strip(),
        fee_bps=fee_bps,
        affiliate_address=affiliate_address,
        revenue_share_bps=revenue_share_bps,
        is_builtin=is_builtin,
    )
    partner.full_clean()
    partner.save()
    return partner


@transaction.atomic
def partner_status_set(
    *, partner: Partner, status: str, reason: str = "", actor: Actor, now: datetime
) -> bool:
    """Suspend or reactivate a partner (a conditional update with its audit row); False if it already was.

    A suspended partner's keys still authenticate: it reads everything and cancels its orders, and every
    other write answers 409 partner_suspended (customers.authentication.PartnerNotSuspended). Its queued
    orders are held, not sent (halts.selectors.trading_stop_for), until it is reactivated.
    """
    if status not in Partner.Status.values:
        raise ValueError(f"a partner's status is one of {Partner.Status.values}, not {status!r}")
    changed = Partner.objects.filter(pk=partner.pk).exclude(status=status).update(status=status)
    if not changed:
        return False
    before = partner.status
    partner.status = status
    suspended = status == Partner.Status.SUSPENDED
    audit_record(
        action=AuditAction.PARTNER_SUSPENDED if suspended else AuditAction.PARTNER_REACTIVATED,
        actor=actor,
        target_type="partner",
        target_id=partner.pk,
        partner_id=partner.pk,
        summary=f"{'Suspended' if suspended else 'Reactivated'} partner {partner.name}"
        + (f": {reason.strip()}" if reason.strip() else ""),
        before={"status": before},
        after={"status": status},
        now=now,
    )
    return True


@transaction.atomic
def partner_api_key_create(*, partner: Partner, name: str = "") -> tuple[PartnerApiKey, str]:
    """A new key for the partner and its raw text, which exists only in this return value."""
    raw_key = api_key_generate()
    api_key = PartnerApiKey.objects.create(
        partner=partner, name=name, prefix=api_key_lookup_prefix(raw_key), key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


@transaction.atomic
def partner_api_key_revoke(*, api_key: PartnerApiKey, now: datetime) -> bool:
    """Revoke a key for good; False when it was already revoked."""
    revoked = PartnerApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        api_key.revoked_at = now
    return revoked == 1


def partner_api_key_touch(*, api_key: PartnerApiKey, now: datetime) -> bool:
    """Record that the key was used, at most once per API_KEY_TOUCH_INTERVAL_SECONDS.

    Called on every request, so it writes only when the loaded value is stale (and opens a
    transaction only then), with a conditional UPDATE so concurrent requests write it once.
    """
    cutoff = now - timedelta(seconds=settings.API_KEY_TOUCH_INTERVAL_SECONDS)
    if api_key.last_used_at is not None and api_key.last_used_at > cutoff:
        return False
    with transaction.atomic():
        touched = (
            PartnerApiKey.objects.filter(pk=api_key.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff))
            .update(last_used_at=now)
        )
    if touched:
        api_key.last_used_at = now
    return touched == 1
