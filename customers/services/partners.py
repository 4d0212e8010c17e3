"""Partners and their API keys: creating a partner, issuing, revoking and touching keys."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

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
