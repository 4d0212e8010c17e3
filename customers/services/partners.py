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
from customers.errors import CustomerError, CustomerErrorCode
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
    other write answers 409 partner_suspended (customers.authentication.IsPartner). Its queued
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
def partner_revenue_terms_set(
    *,
    partner: Partner,
    actor: Actor,
    revenue_share_bps: int,
    affiliate_address: str,
    now: datetime | None = None,
) -> Partner:
    """The partner's off-chain revenue share and on-chain affiliate address, as checked by the caller's
    form; a change is money, so it is audited (fee.changed, each changed value before and after)."""
    stored = (
        Partner.objects.select_for_update()
        .values("revenue_share_bps", "affiliate_address")
        .get(pk=partner.pk)
    )
    wanted = {"revenue_share_bps": revenue_share_bps, "affiliate_address": affiliate_address}
    changed = [name for name, value in wanted.items() if stored[name] != value]
    partner.revenue_share_bps, partner.affiliate_address = revenue_share_bps, affiliate_address
    if not changed:
        return partner
    partner.save(update_fields=changed)
    audit_record(
        action=AuditAction.FEE_CHANGED,
        actor=actor,
        target_type="partner",
        target_id=partner.pk,
        partner_id=partner.pk,
        summary=f"Revenue terms of {partner.name} changed: "
        + ", ".join(f"{name} {stored[name] or 'none'} to {wanted[name] or 'none'}" for name in changed)
        + ".",
        before={name: stored[name] for name in changed},
        after={name: wanted[name] for name in changed},
        now=now,
    )
    return partner


def api_key_audit_view(api_key: PartnerApiKey) -> dict[str, object]:
    """A key as the audit trail keeps it: what identifies it, never its hash."""
    return {"id": api_key.pk, "prefix": api_key.prefix, "scope": api_key.scope, "name": api_key.name}


@transaction.atomic
def partner_api_key_create(
    *,
    partner: Partner,
    actor: Actor,
    name: str = "",
    scope: str = PartnerApiKey.Scope.READ_WRITE,
    now: datetime | None = None,
) -> tuple[PartnerApiKey, str]:
    """A new key for the partner and its raw text, which exists only in this return value."""
    raw_key = api_key_generate()
    api_key = PartnerApiKey.objects.create(
        partner=partner,
        name=name,
        scope=PartnerApiKey.Scope(scope),
        prefix=api_key_lookup_prefix(raw_key),
        key_hash=api_key_hash(raw_key),
    )
    audit_record(
        action=AuditAction.API_KEY_CREATED,
        actor=actor,
        target_type="api_key",
        target_id=api_key.pk,
        partner_id=partner.pk,
        summary=f"Created {api_key.scope} API key {api_key} for {partner.name}.",
        after=api_key_audit_view(api_key),
        now=now,
    )
    return api_key, raw_key


@transaction.atomic
def partner_api_key_revoke(
    *, api_key: PartnerApiKey, actor: Actor, now: datetime, keep_a_write_key: bool = False
) -> bool:
    """Revoke a key for good; False when it was already revoked.

    With `keep_a_write_key` (a partner revoking its own keys) the partner's last active read_write
    key is refused with 409 last_write_key: without one it could never create a key again. Staff
    revoke without it (a leaked key goes, whatever is left).
    """
    # The partner's row lock puts revocations of one partner's keys in a line: two concurrent requests
    # revoking the last two write keys would otherwise each see the other's key still active.
    Partner.objects.select_for_update().filter(pk=api_key.partner_id).values_list("pk", flat=True).get()
    current = PartnerApiKey.objects.filter(pk=api_key.pk).first()
    if current is None or current.revoked_at is not None:
        return False
    if keep_a_write_key and current.scope == PartnerApiKey.Scope.READ_WRITE:
        other_write_keys = PartnerApiKey.objects.filter(
            partner_id=current.partner_id, scope=PartnerApiKey.Scope.READ_WRITE, revoked_at__isnull=True
        ).exclude(pk=current.pk)
        if not other_write_keys.exists():
            raise CustomerError(
                "This is your last active read_write key; create another read_write key before "
                "revoking it, so you can still manage your keys.",
                code=CustomerErrorCode.LAST_WRITE_KEY,
                status=409,
            )
    if PartnerApiKey.objects.filter(pk=current.pk, revoked_at__isnull=True).update(revoked_at=now) != 1:
        return False
    api_key.revoked_at = now
    audit_record(
        action=AuditAction.API_KEY_REVOKED,
        actor=actor,
        target_type="api_key",
        target_id=current.pk,
        partner_id=current.partner_id,
        summary=f"Revoked {current.scope} API key {current}.",
        before={**api_key_audit_view(current), "revoked_at": None},
        after={**api_key_audit_view(current), "revoked_at": now.isoformat()},
        now=now,
    )
    return True


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
