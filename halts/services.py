"""Setting and lifting trading halts, each with its audit row in the same transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from audit.models import AuditAction
from audit.services import Actor, audit_record
from customers.models import Customer, Partner
from halts.errors import HaltError, HaltErrorCode
from halts.models import TradingHalt
from parsec.contract import EXCHANGES

Scope = TradingHalt.Scope
REASON_MAX_LENGTH = TradingHalt._meta.get_field("reason").max_length


def _halt_json(halt: TradingHalt) -> dict[str, object]:
    return {
        "scope": halt.scope,
        "exchange": halt.exchange,
        "partner_id": halt.partner_id,
        "customer_id": str(halt.customer_id) if halt.customer_id else None,
        "reason": halt.reason,
        "set_at": halt.set_at.isoformat(),
        "lifted_at": halt.lifted_at.isoformat() if halt.lifted_at else None,
    }


def trading_halt_problem(
    *, scope: str, exchange: str, partner: Partner | None, customer: Customer | None
) -> str | None:
    named = {"exchange": bool(exchange), "partner": partner is not None, "customer": customer is not None}
    if scope not in Scope.values:
        return f"scope must be one of {', '.join(Scope.values)}."
    wanted = {Scope.GLOBAL: None, Scope.EXCHANGE: "exchange", Scope.PARTNER: "partner"}.get(scope, "customer")
    extra = [name for name, given in named.items() if given and name != wanted]
    if extra:
        return f"A {scope} halt names no {extra[0]}."
    if wanted is not None and not named[wanted]:
        return f"A {scope} halt needs the {wanted} it stops."
    if exchange and exchange not in EXCHANGES:
        return f"exchange must be one of {', '.join(EXCHANGES)}."
    return None


@transaction.atomic
def trading_halt_set(
    *,
    scope: str,
    exchange: str = "",
    partner: Partner | None = None,
    customer: Customer | None = None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> TradingHalt:
    """Stop new orders in this scope from the moment this commits, in every process.

    Orders already queued but not yet sent are held (submission looks at the halts before each send);
    cancels and reads go on. Raises HaltError: 400 invalid_halt, 409 halt_already_active.
    """
    reason = reason.strip()
    problem = trading_halt_problem(scope=scope, exchange=exchange, partner=partner, customer=customer)
    if problem is None and not reason:
        problem = "Say why trading is halted: the reason is shown to every partner whose order is refused."
    if problem is None and len(reason) > REASON_MAX_LENGTH:
        problem = f"The reason must be at most {REASON_MAX_LENGTH} characters long."
    if problem is not None:
        raise HaltError(problem, code=HaltErrorCode.INVALID_HALT)
    halt = TradingHalt(
        scope=scope,
        exchange=exchange,
        partner=partner,
        customer=customer,
        reason=reason,
        set_at=now,
        set_by_id=actor.user_id,
        set_by_label=actor.label[:150],
    )
    try:
        with transaction.atomic():
            halt.save()
    except IntegrityError:
        raise HaltError(
            f"Trading of {halt.target_text()} is already halted; lift that halt first to set another.",
            code=HaltErrorCode.HALT_ALREADY_ACTIVE,
            status=409,
        ) from None
    audit_record(
        action=AuditAction.HALT_SET,
        actor=actor,
        target_type="trading_halt",
        target_id=halt.pk,
        partner_id=partner.pk if partner is not None else (customer.partner_id if customer else None),
        summary=f"Halted {halt.target_text()}: {reason}",
        after=_halt_json(halt),
        now=now,
    )
    return halt


@transaction.atomic
def trading_halt_lift(*, halt: TradingHalt, actor: Actor, now: datetime) -> bool:
    """End an active halt (a conditional update); False when it was lifted already."""
    lifted = TradingHalt.objects.filter(pk=halt.pk, lifted_at__isnull=True).update(
        lifted_at=max(now, halt.set_at), lifted_by_id=actor.user_id, lifted_by_label=actor.label[:150]
    )
    if not lifted:
        return False
    halt.refresh_from_db()
    audit_record(
        action=AuditAction.HALT_LIFTED,
        actor=actor,
        target_type="trading_halt",
        target_id=halt.pk,
        partner_id=halt.partner_id or (halt.customer.partner_id if halt.customer_id else None),
        summary=f"Lifted the halt of {halt.target_text()}",
        before={**_halt_json(halt), "lifted_at": None},
        after=_halt_json(halt),
        now=now,
    )
    return True
