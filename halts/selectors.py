"""Whether trading is stopped for an order's scope: the active halts, cached per process by generation.

Read on every order create and before every send to Parsec. The active halts (a partial index; a
handful of rows at most) are kept in a per-process cache that is trusted only while the deployment's
read generation is the one they were read under, and every halt set or lifted bumps that generation
after its commit (generations.store says why no process can miss it): a halt committed in one process
is refused by the next create in every other process (benchmarks/halt_latency.py measures it). Inside
a transaction (the submission claim's, a test's) the halts are read from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import QuerySet

from builder_platform.failures import DomainError
from customers.errors import partner_suspended_refusal
from customers.models import Customer, Partner
from generations.store import ReadCache
from halts.errors import HaltError, HaltErrorCode
from halts.models import TradingHalt

Scope = TradingHalt.Scope
# The order the scopes are looked at in: the widest stop is the one a refusal names.
_SCOPE_RANK = {Scope.GLOBAL: 0, Scope.EXCHANGE: 1, Scope.PARTNER: 2, Scope.CUSTOMER: 3}
_ACTIVE_HALTS = ReadCache()


def trading_halts_active() -> QuerySet[TradingHalt]:
    return TradingHalt.objects.filter(lifted_at__isnull=True)


def trading_halts_now() -> tuple[TradingHalt, ...]:
    """The active halts as `trading_stop_for` sees them now (cached outside a transaction, read inside).

    For a caller that checks many orders at one moment (the submission batch's claim): one read for
    all of them instead of one per order, passed back as `halts=`.
    """
    return _ACTIVE_HALTS.get("active", _active_halts_read)


def trading_halt_covering(
    *,
    exchange: str = "",
    partner_id: int | None = None,
    customer_id: uuid.UUID | str | None = None,
    halts: Sequence[TradingHalt] | None = None,
) -> TradingHalt | None:
    """The widest active halt covering an order of this partner and customer on this exchange, if any.

    `halts`: the active halts already read (`trading_halts_now`); read here when not given.
    """
    customer_key = str(customer_id) if customer_id is not None else None
    covering = [
        halt
        for halt in (trading_halts_now() if halts is None else halts)
        if halt.scope == Scope.GLOBAL
        or (halt.scope == Scope.EXCHANGE and exchange and halt.exchange == exchange)
        or (halt.scope == Scope.PARTNER and partner_id is not None and halt.partner_id == partner_id)
        or (
            halt.scope == Scope.CUSTOMER
            and customer_key is not None
            and str(halt.customer_id) == customer_key
        )
    ]
    return min(covering, key=lambda halt: _SCOPE_RANK[halt.scope]) if covering else None


def _active_halts_read() -> tuple[TradingHalt, ...]:
    return tuple(trading_halts_active().select_related("partner"))


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
    *,
    exchange: str,
    partner: Partner,
    customer: Customer | None = None,
    halts: Sequence[TradingHalt] | None = None,
) -> DomainError | None:
    """Why an order of this partner (and customer) on this exchange must not go ahead now, or None.

    A halt row of any covering scope, the partner's suspension, or the customer's disabled status.
    `halts`: the active halts already read for several orders (`trading_halts_now`).
    """
    halt = trading_halt_covering(
        exchange=exchange,
        partner_id=partner.pk,
        customer_id=customer.pk if customer is not None else None,
        halts=halts,
    )
    if halt is not None and halt.scope in (Scope.GLOBAL, Scope.EXCHANGE):
        return halt_refusal(halt)
    if partner.status == Partner.Status.SUSPENDED:
        return partner_suspended_refusal()
    if halt is not None:
        return halt_refusal(halt)
    return None
