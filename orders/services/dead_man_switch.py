"""The dead-man switch: a partner's heartbeats arm it; when they stop, its live orders are cancelled.

As Polymarket's heartbeats and Hyperliquid's scheduled cancel: each heartbeat says "cancel everything
if you hear nothing from me for N seconds" and pushes the deadline to now + N. A heartbeat with 0
disarms. Once the deadline passes the switch fires exactly once (a conditional update claims it),
cancels every live order of the partner and is off until the next heartbeat arms it again. A heartbeat
arriving after the deadline does not rescue the orders: the switch fires first, then re-arms.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from audit.models import AuditAction
from audit.services import Actor, audit_record
from customers.models import Partner
from orders.errors import OrderError
from orders.models import DeadManSwitch
from orders.services.mass_cancel import orders_cancel_all
from orders.vocabulary import OrderErrorCode

FIRED_BY = "dead-man switch"


def heartbeat_bounds_problem(cancel_after_seconds: object) -> str | None:
    low, high = settings.HEARTBEAT_MIN_SECONDS, settings.HEARTBEAT_MAX_SECONDS
    if (
        isinstance(cancel_after_seconds, bool)
        or not isinstance(cancel_after_seconds, int)
        or not (cancel_after_seconds == 0 or low <= cancel_after_seconds <= high)
    ):
        return f"cancel_after_seconds must be a whole number from {low} to {high}, or 0 to disarm the switch."
    return None


@transaction.atomic
def heartbeat_record(
    *, partner: Partner, cancel_after_seconds: int, actor: Actor, now: datetime
) -> DeadManSwitch:
    """A partner's heartbeat: arm or push the switch to now + cancel_after_seconds; 0 disarms it.

    Audited when it arms or disarms (not for every heartbeat that only pushes the deadline).
    """
    problem = heartbeat_bounds_problem(cancel_after_seconds)
    if problem:
        raise OrderError(problem, code=OrderErrorCode.HEARTBEAT_INVALID, field="cancel_after_seconds")
    switch, _ = DeadManSwitch.objects.get_or_create(partner=partner)
    switch = DeadManSwitch.objects.select_for_update().get(pk=switch.pk)
    if switch.armed and switch.deadline <= now:
        _fire(switch=switch, now=now)  # too late: the silence already happened
        switch.refresh_from_db()
    was_armed = switch.armed
    switch.last_heartbeat_at = now
    if cancel_after_seconds == 0:
        switch.armed, switch.deadline, switch.cancel_after_seconds = False, None, 0
    else:
        switch.armed, switch.cancel_after_seconds = True, cancel_after_seconds
        switch.deadline = now + timedelta(seconds=cancel_after_seconds)
    switch.save(update_fields=["armed", "deadline", "cancel_after_seconds", "last_heartbeat_at"])
    if was_armed != switch.armed:
        audit_record(
            action=AuditAction.HEARTBEAT_ARMED if switch.armed else AuditAction.HEARTBEAT_DISARMED,
            actor=actor,
            target_type="dead_man_switch",
            target_id=switch.pk,
            partner_id=partner.pk,
            summary=(
                f"Armed the dead-man switch: cancel all orders after {cancel_after_seconds} s "
                "without a heartbeat"
                if switch.armed
                else "Disarmed the dead-man switch"
            ),
            after={"armed": switch.armed, "cancel_after_seconds": switch.cancel_after_seconds},
            now=now,
        )
    return switch


def dead_man_switches_fire(*, now: datetime) -> int:
    """Beat: fire every armed switch past its deadline, each in its own transaction; how many fired."""
    due = DeadManSwitch.objects.filter(armed=True, deadline__lte=now).values_list("pk", flat=True)
    fired = 0
    for switch_id in list(due):
        with transaction.atomic():
            switch = DeadManSwitch.objects.filter(pk=switch_id).select_related("partner").first()
            if switch is not None and _fire(switch=switch, now=now):
                fired += 1
    return fired


def _fire(*, switch: DeadManSwitch, now: datetime) -> bool:
    """Claim an expired switch (armed and past its deadline → off) and cancel the partner's orders.

    The conditional update makes a switch fire once per expiry, whichever process gets there first;
    a heartbeat that pushed the deadline meanwhile makes it match nothing.
    """
    claimed = DeadManSwitch.objects.filter(pk=switch.pk, armed=True, deadline__lte=now).update(
        armed=False, fired_at=now
    )
    if not claimed:
        return False
    actor = Actor.system(FIRED_BY)
    result = orders_cancel_all(partner=switch.partner, actor=actor, now=now)
    audit_record(
        action=AuditAction.HEARTBEAT_FIRED,
        actor=actor,
        target_type="dead_man_switch",
        target_id=switch.pk,
        partner_id=switch.partner_id,
        summary=f"No heartbeat since {switch.last_heartbeat_at:%Y-%m-%d %H:%M:%S} UTC: asked "
        f"{result.cancel_requested} live order(s) to cancel",
        before={"armed": True, "deadline": switch.deadline.isoformat()},
        after={"armed": False, "cancel_requested": result.cancel_requested},
        now=now,
    )
    return True
