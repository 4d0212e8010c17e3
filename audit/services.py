"""Writing the audit trail: `audit_record`, called inside the transaction of the change it records."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from builder_platform.client_addresses import client_ip as request_client_ip


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user, a partner's API key, or the platform itself (a sweep, a dead-man switch)."""

    type: str
    label: str
    user_id: int | None = None
    key_prefix: str = ""
    ip: str | None = None

    @classmethod
    def staff(cls, user: Any, *, ip: str | None = None) -> Actor:
        return cls(
            type=AuditEntry.ActorType.STAFF, label=f"staff {user.get_username()}", user_id=user.pk, ip=ip
        )

    @classmethod
    def partner_key(cls, api_key: Any, *, ip: str | None = None) -> Actor:
        # Only the public prefix: the key itself is never stored in clear anywhere.
        return cls(
            type=AuditEntry.ActorType.PARTNER_KEY,
            label=f"key bp_{api_key.prefix}…",
            key_prefix=api_key.prefix,
            ip=ip,
        )

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(type=AuditEntry.ActorType.SYSTEM, label=f"system: {label}")


def client_ip(request: Any) -> str | None:
    """The caller's address as an audit row keeps it (see builder_platform.client_addresses), or None."""
    address = request_client_ip(request.META)
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def audit_actor(request: Any) -> Actor:
    """The actor behind a request: the partner key of an API call, else the signed-in staff user."""
    ip = client_ip(request)
    api_key = getattr(request, "auth", None)
    if api_key is not None and hasattr(api_key, "prefix") and hasattr(api_key, "partner_id"):
        return Actor.partner_key(api_key, ip=ip)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "is_staff", False):
        return Actor.staff(user, ip=ip)
    return Actor(type=AuditEntry.ActorType.SYSTEM, label="system: anonymous request", ip=ip)


def _entry(
    *,
    action: AuditAction | str,
    actor: Actor,
    target_type: str,
    target_id: str | int,
    summary: str,
    partner_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime | None,
) -> AuditEntry:
    return AuditEntry(
        created_at=now or timezone.now(),
        action=AuditAction(action),
        actor_type=actor.type,
        actor_user_id=actor.user_id,
        actor_key_prefix=actor.key_prefix,
        actor_label=actor.label[:150],
        partner_id=partner_id,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary[:300],
        before=before,
        after=after,
        ip=actor.ip,
    )


@transaction.atomic
def audit_record(
    *,
    action: AuditAction | str,
    actor: Actor,
    target_type: str,
    target_id: str | int = "",
    summary: str,
    partner_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Write one audit row. Call it inside the change's own transaction: both commit, or neither."""
    entry = _entry(
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        summary=summary,
        partner_id=partner_id,
        before=before,
        after=after,
        now=now,
    )
    entry.save()
    return entry


@transaction.atomic
def audit_record_many(
    *, action: AuditAction | str, actor: Actor, rows: list[dict[str, Any]], now: datetime | None = None
) -> list[AuditEntry]:
    """One row per item of a set-based change (a payout run), in one INSERT; each row's dict gives
    target_type, target_id, summary and optionally partner_id, before and after."""
    entries = [
        _entry(
            action=action,
            actor=actor,
            target_type=row["target_type"],
            target_id=row["target_id"],
            summary=row["summary"],
            partner_id=row.get("partner_id"),
            before=row.get("before"),
            after=row.get("after"),
            now=now,
        )
        for row in rows
    ]
    return AuditEntry.objects.bulk_create(entries, batch_size=1000)
