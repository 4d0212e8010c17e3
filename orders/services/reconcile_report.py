"""What one reconciliation pass of a (customer, exchange) did: counted by each stage it runs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReconcileReport:
    orders: int = 0
    parsec_requests: int = 0
    adopted: int = 0
    updated: int = 0
    new_fills: int = 0
    settled: int = 0
    missed: int = 0
    resent: int = 0
    duplicates: list[str] = field(default_factory=list)  # Parsec ids of live duplicates to cancel
    details: list[str] = field(default_factory=list)
