"""Whether trading is stopped for an order's scope: one indexed query on the active halts.

Read on every order create and before every send to Parsec, straight from the database rather than
from a per-process cache: a halt committed in one process is then refused by the next create in every
other process, with no cache to invalidate and no message that could be lost (benchmarks/halt_latency.py
measures it). The query reads only active halts (a partial index; a handful of rows at most).
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from builder_platform.failures import DomainError
from customers.errors import partner_suspended_refusal
from customers.models import Customer, Partner
from halts.errors import HaltError, HaltErrorCode
from halts.models import TradingHalt

Scope = TradingHalt.Scope
# The order the scopes are looked at in: the widest stop is the one a refusal names.
_SCOPE_RANK = {Scope.GLOBAL: 0, Scope.EXCHANGE: 1, Scope.PARTNER: 2, Scope.CUSTOMER: 3}


def trading_halts_active() -> QuerySet[TradingHalt]:
    return TradingHalt.objects.filter(lifted_at__isnull=True)


def trading_halt_covering(
    *, exchange: str = "", partner_id: int | None = None, customer_id: uuid.UUID | str | None = None
) -> TradingHalt | None:
    """The widest active halt covering an order of this partner and customer on this exchange, if any."""
    scope = Q(scope=Scope.GLOBAL)
    if exchange:
        scope |= Q(scope=Scope.EXCHANGE, exchange=exchange)
    if partner_id is not None:
        scope |= Q(scope=Scope.PARTNER, partner_id=partner_id)
    if customer_id is not None:
        scope |= Q(scope=Scope.CUSTOMER, customer_id=customer_id)
    halts = list(trading_halts_active().filter(scope).select_related("partner"))
    return min(halts, key=lambda halt: _SCOPE_RANK[halt.scope]) if halts else None


def halt_refusal(halt: TradingHalt) -> DomainError:
    """The refusal an order in a halted scope gets: its scope's code, and the halt's reason."""
    since = f"since {halt.set_at:%Y-%m-%d %H:%M:%S} UTC"
    if halt.scope == Scope.GLOBAL:
        return HaltError(
            f"Trading is halted on the platform ({since}): {halt.reason} New orders are refused until "
            "the halt is lifted; reads and cancels keep working.",
            code=HaltErrorCode.TRADING_HALTED,
            status=503,
        )
    if halt.scope == Scope.EXCHANGE:
        return HaltError(
            f"Trading on {halt.exchange} is halted ({since}): {halt.reason} New orders on this exchange "
            "are refused until the halt is lifted; other exchanges are not affected.",
            code=HaltErrorCode.EXCHANGE_HALTED,
            status=503,
        )
    if halt.scope == Scope.PARTNER:
        return partner_suspended_refusal(reason=halt.reason, since=since)
    return customer_halted_refusal(reason=halt.reason, since=since)


def customer_halted_refusal(*, reason: str, since: str) -> HaltError:
    return HaltError(
        f"Trading by this customer is halted by the platform ({since}): {reason} Its new orders are "
        "refused until the halt is lifted; its other orders can still be read and cancelled.",
        code=HaltErrorCode.CUSTOMER_DISABLED,
        status=409,
    )


def trading_stop_for(
    *, exchange: str, partner: Partner, customer: Customer | None = None
) -> DomainError | None:
    """Why an order of this partner (and customer) on this exchange must not go ahead now, or None.

    A halt row of any covering scope, the partner's suspension, or the customer's disabled status.
    """
    halt = trading_halt_covering(
        exchange=exchange, partner_id=partner.pk, customer_id=customer.pk if customer is not None else None
    )
    if halt is not None and halt.scope in (Scope.GLOBAL, Scope.EXCHANGE):
        return halt_refusal(halt)
    if partner.status == Partner.Status.SUSPENDED:
        return partner_suspended_refusal()
    if halt is not None:
        return halt_refusal(halt)
    return None
