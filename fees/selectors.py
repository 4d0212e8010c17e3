"""Fee reads: the current escrow config, partner statements and the admin's daily totals, summed in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import BigIntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from customers.models import Customer, Partner
from fees.models import FeeLedgerEntry

# The current config may need a refresh from Parsec (a write), so it lives with the services; it is
# re-exported here because reading it is what most callers do.
from fees.services import escrow_config_current  # noqa: F401

Kind = FeeLedgerEntry.Kind


@dataclass(frozen=True)
class StatementPeriod:
    """UTC calendar dates, both included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


KINDS = tuple(Kind.values)


def _partner_entries(*, partner: Partner, period: StatementPeriod) -> QuerySet[FeeLedgerEntry]:
    return FeeLedgerEntry.objects.filter(
        partner=partner, created_at__gte=period.since, created_at__lt=period.until
    )


def _sums_per_kind(prefix: str = "") -> dict[str, Coalesce]:
    """One SUM ... FILTER (WHERE kind = ...) column per kind, 0 when there is none."""
    return {
        kind: Coalesce(
            Sum(f"{prefix}amount", filter=Q(**{f"{prefix}kind": kind})), 0, output_field=BigIntegerField()
        )
        for kind in KINDS
    }


def fee_statement_exchange_totals(*, partner: Partner, period: StatementPeriod) -> list[dict[str, Any]]:
    """[{exchange, <kind>: amount, ...}]: one row per exchange, summed in the database (one query)."""
    return list(
        _partner_entries(partner=partner, period=period)
        .values("exchange")
        .annotate(**_sums_per_kind())
        .order_by("exchange")
    )


def fee_statement_customer_totals(*, partner: Partner, period: StatementPeriod) -> QuerySet:
    """[{id, external_id, <kind>: amount, ...}]: one row per customer with entries in the period.

    Grouped by customer in SQL (the join is filtered before the sums, so they cover the period only);
    one query, whatever the number of customers. Iterate it (`.iterator()`) to stream it.
    """
    return (
        Customer.objects.filter(
            partner=partner,
            fee_ledger_entries__partner=partner,
            fee_ledger_entries__created_at__gte=period.since,
            fee_ledger_entries__created_at__lt=period.until,
        )
        .values("id", "external_id")
        .annotate(**_sums_per_kind("fee_ledger_entries__"))
        .order_by("external_id", "id")
    )


def fee_ledger_partner_totals(queryset: QuerySet[FeeLedgerEntry]) -> list[dict[str, Any]]:
    """Per partner and kind, the sum of the given (already filtered) ledger entries: the admin's totals."""
    return list(
        queryset.order_by()
        .values("partner_id", "partner__name", "kind")
        .annotate(amount=Sum("amount"))
        .order_by("partner__name", "partner_id", "kind")
    )


def _daily_totals(period: StatementPeriod, rows: Iterable[dict[str, Any]]) -> dict[date, dict[str, int]]:
    """Every day of the period (none left out) -> authorized, distributed (both parts), refunded."""
    days = {
        period.start + timedelta(days=offset): {"authorized": 0, "distributed": 0, "refunded": 0}
        for offset in range(period.days)
    }
    for row in rows:
        bucket = days.get(row["day"])
        if bucket is not None:
            column = "distributed" if row["kind"].startswith("distributed") else row["kind"]
            bucket[column] += int(row["amount"])
    return days


def fees_per_day(*, start: date, end: date, partner_id: int | None = None) -> list[dict[str, Any]]:
    """Per UTC day from start to end (inclusive): authorized, distributed (both parts) and refunded."""
    period = StatementPeriod(start=start, end=end)
    entries = FeeLedgerEntry.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
    if partner_id is not None:
        entries = entries.filter(partner_id=partner_id)
    rows = (
        entries.filter(
            kind__in=[Kind.AUTHORIZED, Kind.DISTRIBUTED_AFFILIATE, Kind.DISTRIBUTED_TREASURY, Kind.REFUNDED]
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "kind")
        .annotate(amount=Sum("amount"))
        .order_by("day")
    )
    return [{"day": day, **totals} for day, totals in _daily_totals(period, rows).items()]


SPLIT_KINDS = (Kind.AUTHORIZED, Kind.DISTRIBUTED_AFFILIATE, Kind.DISTRIBUTED_TREASURY, Kind.REFUNDED)


def fees_by_authorization_day(*, start: date, end: date) -> list[dict[str, Any]]:
    """Per UTC day the fees were authorized (start to end, inclusive): what became of them by now.

    {day, authorized, distributed, refunded, held} in USDC base units, where distributed (affiliate +
    treasury), refunded and held (still in escrow) are parts of that day's authorized amount and add up
    to it exactly. Every entry is counted on the day its authorization was pulled into escrow, not on
    the day it was booked, which is what makes the parts of a day sum to its whole. One query.
    """
    period = StatementPeriod(start=start, end=end)
    authorized_at = "fee_authorization__ledger_entries__created_at"
    rows = (
        # One filter() call: both conditions hold for the same joined row, the authorization's
        # "authorized" entry (there is at most one per authorization), whose date the rows group by.
        FeeLedgerEntry.objects.filter(
            **{
                "fee_authorization__ledger_entries__kind": Kind.AUTHORIZED,
                f"{authorized_at}__gte": period.since,
                f"{authorized_at}__lt": period.until,
            }
        )
        .filter(kind__in=SPLIT_KINDS)
        .annotate(day=TruncDate(authorized_at, tzinfo=UTC))
        .values("day", "kind")
        .annotate(amount=Sum("amount"))
        .order_by("day")
    )
    return [
        {"day": day, **totals, "held": totals["authorized"] - totals["distributed"] - totals["refunded"]}
        for day, totals in _daily_totals(period, rows).items()
    ]
