"""Reads of the affiliate program: per-code and per-referral figures (a fixed number of queries per page),
commissions and payouts of one partner, payout statements, and the admin's figures over all partners."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from customers.models import Partner
from fees.commission_models import Commission, Payout
from fees.models import FeeLedgerEntry
from orders.models import Fill
from referrals.models import Referral, ReferralClickDay, ReferralCode

DISTRIBUTED = (FeeLedgerEntry.Kind.DISTRIBUTED_AFFILIATE, FeeLedgerEntry.Kind.DISTRIBUTED_TREASURY)
NOTIONAL = ExpressionWrapper(
    F("price") * F("size"), output_field=DecimalField(max_digits=40, decimal_places=12)
)


def short_address(address: str) -> str:
    """0x1234…abcd: enough to recognise a wallet, not to look it up."""
    return f"{address[:6]}…{address[-4:]}" if len(address) == 42 else ""


@dataclass(frozen=True)
class Figures:
    volume: Decimal  # USDC notional of the fills (price x size)
    fees: int  # builder fees distributed, USDC base units
    commission: int  # this partner's commission, reversals included, USDC base units


ZERO = Figures(volume=Decimal(0), fees=0, commission=0)


def _figures_by(*, partner: Partner, key: str, values: list) -> dict:
    """value -> Figures, for the customers whose `key` (a customer field path) is in `values` (three
    queries, whatever the number of values)."""
    volume = dict(
        Fill.objects.filter(**{f"order__customer__{key}__in": values})
        .values_list(f"order__customer__{key}")
        .annotate(total=Sum(NOTIONAL))
        .order_by()
    )
    fees = dict(
        FeeLedgerEntry.objects.filter(kind__in=DISTRIBUTED, **{f"customer__{key}__in": values})
        .values_list(f"customer__{key}")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    commission = dict(
        Commission.objects.filter(partner=partner, **{f"customer__{key}__in": values})
        .values_list(f"customer__{key}")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return defaultdict(
        lambda: ZERO,
        {
            value: Figures(
                volume=volume.get(value) or Decimal(0),
                fees=int(fees.get(value) or 0),
                commission=int(commission.get(value) or 0),
            )
            for value in set(volume) | set(fees) | set(commission)
        },
    )


def referral_codes(*, partner: Partner) -> QuerySet[ReferralCode]:
    return ReferralCode.objects.filter(partner=partner)


def referral_code_get(*, partner: Partner, code: str) -> ReferralCode | None:
    return ReferralCode.objects.filter(partner=partner, code=code.lower()).first()


def referral_code_figures(*, partner: Partner, codes: list[ReferralCode]) -> dict[int, dict]:
    """code id -> clicks, sign-ups, attributed (not flagged) customers, volume, fees, commission."""
    ids = [code.pk for code in codes]
    clicks = dict(
        ReferralClickDay.objects.filter(code_id__in=ids, outcome=ReferralClickDay.Outcome.REMEMBERED)
        .values_list("code_id")
        .annotate(total=Sum("clicks"))
        .order_by()
    )
    signups = {
        row["code_id"]: row
        for row in Referral.objects.filter(code_id__in=ids)
        .values("code_id")
        .annotate(signups=Count("id"), attributed=Count("id", filter=Q(flagged_reason="")))
        .order_by()
    }
    figures = _figures_by(partner=partner, key="referral__code_id", values=ids)
    return {
        code_id: {
            "clicks": int(clicks.get(code_id) or 0),
            "signups": signups.get(code_id, {}).get("signups", 0),
            "attributed_customers": signups.get(code_id, {}).get("attributed", 0),
            "figures": figures[code_id],
        }
        for code_id in ids
    }


def referrals(*, partner: Partner) -> QuerySet[Referral]:
    return Referral.objects.filter(partner=partner).select_related("code")


def referral_figures(*, partner: Partner, page: list[Referral]) -> dict:
    """customer id -> Figures for one page of referrals (three queries whatever the page size)."""
    ids = [referral.customer_id for referral in page]
    return _figures_by(partner=partner, key="id", values=ids)


def commissions(*, partner: Partner) -> QuerySet[Commission]:
    return Commission.objects.filter(partner=partner).annotate(order_id=F("fee_authorization__order__id"))


def payouts(*, partner: Partner) -> QuerySet[Payout]:
    return Payout.objects.filter(partner=partner)


def payout_get(*, partner: Partner, payout_id: str) -> Payout | None:
    if not (payout_id.isascii() and payout_id.isdigit() and len(payout_id) <= 18):
        return None
    return Payout.objects.filter(partner=partner, pk=int(payout_id)).first()


def payout_statement_lines(*, payout: Payout) -> list[dict]:
    """One line per commission of the payout, oldest first: its order, fill, exchange, market, filled size,
    the builder fee distributed for the fill, the share and the commission (three queries)."""
    rows = list(
        Commission.objects.filter(payout=payout)
        .order_by("created_at", "id")
        .values(
            "id",
            "kind",
            "fill_id",
            "exchange",
            "share_bps",
            "amount",
            "fee_authorization_id",
            order_id=F("fee_authorization__order__id"),
            market_id=F("fee_authorization__order__market_id"),
        )
    )
    fill_ids = {row["fill_id"] for row in rows}
    sizes = dict(Fill.objects.filter(fill_id__in=fill_ids).values_list("fill_id", "size"))
    distributed: dict[tuple[int, str], int] = defaultdict(int)
    for authorization_id, fill_id, amount in FeeLedgerEntry.objects.filter(
        fill_id__in=fill_ids,
        kind__in=DISTRIBUTED,
        fee_authorization_id__in={row["fee_authorization_id"] for row in rows},
    ).values_list("fee_authorization_id", "fill_id", "amount"):
        distributed[(authorization_id, fill_id)] += amount
    return [
        {
            "commission_id": row["id"],
            "kind": row["kind"],
            "order_id": row["order_id"],
            "fill_id": row["fill_id"],
            "exchange": row["exchange"],
            "market_id": row["market_id"] or "",
            "filled_size": sizes.get(row["fill_id"]),
            "fee_distributed": distributed[(row["fee_authorization_id"], row["fill_id"])],
            "share_bps": row["share_bps"],
            "commission": row["amount"],
        }
        for row in rows
    ]


# --- Admin ---------------------------------------------------------------------------------------------


def commissions_per_partner_month() -> list[dict]:
    """(partner, month) -> commissions booked, reversals included, in base units; newest month first."""
    return list(
        Commission.objects.annotate(month=TruncMonth("created_at"))
        .values("partner_id", "partner__name", "month")
        .annotate(total=Sum("amount"))
        .order_by("-month", "partner__name")
    )


def owed_now() -> list[dict]:
    """Per partner: pending, available and not in a payout, in pending payouts; what is owed now."""
    return list(
        Commission.objects.exclude(state=Commission.State.PAID)
        .values("partner_id", "partner__name")
        .annotate(
            pending=Sum("amount", filter=Q(state=Commission.State.PENDING)),
            available=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=True)),
            in_payout=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=False)),
        )
        .order_by("partner__name")
    )


def month_label(day: date) -> str:
    return f"{day:%Y-%m}"
