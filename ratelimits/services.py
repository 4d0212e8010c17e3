"""Changing a partner's own API limit, each change with its audit row (rate_limit.changed)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from audit.models import AuditAction
from audit.services import Actor, audit_record
from ratelimits.models import PartnerRateLimit


def _terms(limit: PartnerRateLimit | None) -> dict[str, int] | None:
    return None if limit is None else {"rate_per_second": limit.rate_per_second, "burst": limit.burst}


@transaction.atomic
def partner_rate_limit_set(
    *, partner_id: int, rate_per_second: int, burst: int, actor: Actor, now: datetime | None = None
) -> PartnerRateLimit:
    """The partner's own limit (created or changed); audited when it changes."""
    before = PartnerRateLimit.objects.select_for_update().filter(partner_id=partner_id).first()
    before_terms = _terms(before)
    limit, _ = PartnerRateLimit.objects.update_or_create(
        partner_id=partner_id, defaults={"rate_per_second": rate_per_second, "burst": burst}
    )
    if _terms(limit) != before_terms:
        audit_record(
            action=AuditAction.RATE_LIMIT_CHANGED,
            actor=actor,
            target_type="partner",
            target_id=partner_id,
            partner_id=partner_id,
            summary=f"API rate limit set to {rate_per_second}/s, burst {burst}"
            + ("" if before_terms else " (was the default)"),
            before=before_terms,
            after=_terms(limit),
            now=now,
        )
    return limit


@transaction.atomic
def partner_rate_limit_remove(*, limit: PartnerRateLimit, actor: Actor, now: datetime | None = None) -> None:
    """Back to PARTNER_API_RATE / PARTNER_API_BURST for this partner; audited."""
    deleted, _ = PartnerRateLimit.objects.filter(pk=limit.pk).delete()
    if deleted:
        audit_record(
            action=AuditAction.RATE_LIMIT_CHANGED,
            actor=actor,
            target_type="partner",
            target_id=limit.partner_id,
            partner_id=limit.partner_id,
            summary="API rate limit back to the default",
            before=_terms(limit),
            after=None,
            now=now,
        )
