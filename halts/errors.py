"""The halts app's refusals: a halted scope's code, named after the scope (not "cannot trade yet")."""

from __future__ import annotations

from enum import StrEnum

from builder_platform.failures import DomainError


class HaltErrorCode(StrEnum):
    """The `code` of a refusal because trading is stopped, one per scope, and of a bad halt request.

    A partner's halt answers as its suspension does, customers' `partner_suspended`.
    """

    TRADING_HALTED = "trading_halted"  # 503: a global halt
    EXCHANGE_HALTED = "exchange_halted"  # 503: the order's exchange is halted
    CUSTOMER_DISABLED = "customer_disabled"  # 409: the customer is disabled or halted
    HALT_ALREADY_ACTIVE = "halt_already_active"  # 409: that scope target is halted already
    INVALID_HALT = "invalid_halt"  # 400: a scope without its target, or a target without its scope


class HaltError(DomainError):
    """Trading is stopped for the scope this refusal names, or a halt cannot be set or lifted as asked."""
