"""The partner's fee statement: totals per exchange and kind, and per customer, as JSON or streamed CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, timedelta

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder_platform.api import query_parameters_check
from builder_platform.openapi import error_responses
from customers.models import Partner
from fees import selectors
from fees.money import USDC_DECIMALS, usdc_text

KINDS = selectors.KINDS
CSV_HEADER = (
    "section",
    "exchange",
    "customer_id",
    "external_id",
    *KINDS,
    *(f"{kind}_usdc" for kind in KINDS),
)


# What each ledger kind means, for the schema and the README: amounts of fees charged to the
# partner's customers, as the ledger (fees.models.FeeLedgerEntry) books them.
KIND_MEANINGS = {
    "authorized": "Fees pulled into Parsec's escrow when Parsec accepted the orders (the whole fee of "
    "each order).",
    "distributed_affiliate": "The affiliate part of the fees distributed for fills (affiliate_fee_bps of "
    "each distribution), paid on-chain to the partner's affiliate address or to the builder's.",
    "distributed_treasury": "The rest of the fees distributed for fills, paid to Parsec's treasury.",
    "refunded": "The unfilled part of the fees, refunded to the payer when an order became final.",
    "partner_share": "What the builder owes the partner off-chain: the partner's revenue share "
    "(revenue_share_bps) of the affiliate part, for a partner without its own affiliate address. "
    "Already inside distributed_affiliate, not on top of it.",
}


@extend_schema_serializer(component_name="FeeAmount")
class FeeAmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=0, help_text="USDC base units (6 decimals), an integer.")
    usdc = serializers.RegexField(
        r"^[0-9]+\.[0-9]{6}$", help_text="The same amount in USDC with all six places: 0.137500."
    )


FeeTotalsSerializer = extend_schema_serializer(component_name="FeeTotals")(
    type(
        "FeeTotalsSerializer",
        (serializers.Serializer,),
        {kind: FeeAmountSerializer(help_text=KIND_MEANINGS[kind]) for kind in KINDS},
    )
)


class FeeStatementPartnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class FeeStatementExchangeSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    totals = FeeTotalsSerializer()


class FeeStatementCustomerSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    external_id = serializers.CharField(help_text="The partner's own id of the customer.")
    totals = FeeTotalsSerializer()


@extend_schema_serializer(component_name="FeeStatement")
class FeeStatementSerializer(serializers.Serializer):
    """Fee ledger totals over the period, per exchange and per customer (customers with entries only)."""

    partner = FeeStatementPartnerSerializer()
    start = serializers.DateField(help_text="First UTC day.")
    end = serializers.DateField(help_text="Last UTC day, included.")
    currency = serializers.ChoiceField(choices=["USDC"])
    decimals = serializers.IntegerField(help_text="Decimals of a USDC base unit: 6.")
    exchanges = FeeStatementExchangeSerializer(many=True)
    customers = FeeStatementCustomerSerializer(many=True)


EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date.max - timedelta(days=1)


class StatementQuerySerializer(serializers.Serializer):
    start = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="First UTC day, YYYY-MM-DD.")
    end = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="Last UTC day (included), YYYY-MM-DD.")
    format = serializers.ChoiceField(
        choices=["json", "csv"],
        default="json",
        required=False,
        help_text="json (default), or csv for the same figures as text/csv.",
    )

    def validate(self, attrs: dict) -> dict:
        # The ledger has nothing before the Unix epoch, and the last day must have a next day (the
        # period ends at the midnight after it): 9999-12-31 has none.
        for name in ("start", "end"):
            if not EARLIEST_DAY <= attrs[name] <= LATEST_DAY:
                raise serializers.ValidationError(
                    {name: f"Use a date from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}."}
                )
        period = selectors.StatementPeriod(start=attrs["start"], end=attrs["end"])
        if period.end < period.start:
            raise serializers.ValidationError({"end": "end must be on or after start."})
        limit = settings.FEE_STATEMENT_MAX_DAYS
        if period.days > limit:
            raise serializers.ValidationError(
                {"end": f"A statement covers at most {limit} days; this range covers {period.days}."}
            )
        attrs["period"] = period
        return attrs


def _money(amount: int) -> dict:
    return {"amount": amount, "usdc": usdc_text(amount)}


def _totals(row: dict) -> dict[str, dict]:
    return {kind: _money(int(row[kind])) for kind in KINDS}


def statement_json(*, partner: Partner, period: selectors.StatementPeriod) -> dict:
    exchanges = selectors.fee_statement_exchange_totals(partner=partner, period=period)
    customers = selectors.fee_statement_customer_totals(partner=partner, period=period)
    return {
        "partner": {"id": partner.pk, "name": partner.name},
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "currency": "USDC",
        "decimals": USDC_DECIMALS,
        "exchanges": [{"exchange": row["exchange"], "totals": _totals(row)} for row in exchanges],
        "customers": [
            {"customer_id": str(row["id"]), "external_id": row["external_id"], "totals": _totals(row)}
            for row in customers
        ],
    }


class _Line:
    """csv.writer's file: each write returns the line, so rows go to the response as they are made."""

    def write(self, value: str) -> str:
        return value


def _csv_amounts(row: dict) -> list:
    amounts = [int(row[kind]) for kind in KINDS]
    return [*amounts, *(usdc_text(amount) for amount in amounts)]


def statement_csv_lines(*, partner: Partner, period: selectors.StatementPeriod) -> Iterator[str]:
    """The header, one line per exchange, then one per customer, with each kind in base units and USDC.

    The exchange totals are read here, before the first line is made: a query that fails must fail
    before the response starts (a 200 cut off mid-body reads as a complete, shorter file).
    """
    exchanges = selectors.fee_statement_exchange_totals(partner=partner, period=period)
    customers = selectors.fee_statement_customer_totals(partner=partner, period=period)
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for row in exchanges:
            yield writer.writerow(["exchange", row["exchange"], "", "", *_csv_amounts(row)])
        # Streamed from a database cursor: a chunk of customers in memory at a time, however many.
        for row in customers.iterator(chunk_size=2000):
            yield writer.writerow(["customer", "", str(row["id"]), row["external_id"], *_csv_amounts(row)])

    return lines()


class FeeStatementApi(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # `format` is this endpoint's own parameter (json or csv); DRF would otherwise read it as a
        # renderer name and answer 404 for csv. Errors are always JSON, in the platform's shape.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        operation_id="fees_statement",
        tags=["fees"],
        summary="Fee statement",
        parameters=[StatementQuerySerializer],
        responses={
            (200, "application/json"): FeeStatementSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With format=csv: a header line, then one line per exchange (section "
                "exchange) and one per customer (section customer), each kind in base units and in USDC.",
            ),
            **error_responses({400: "start or end is missing or invalid, or the period is too long."}),
        },
        description=(
            "Fee ledger totals for the calling partner over UTC dates start..end (inclusive, at most "
            f"{settings.FEE_STATEMENT_MAX_DAYS} days): per exchange and kind, and per customer. Amounts "
            "are integers in USDC base units (6 decimals) and decimal USDC strings. format=csv streams "
            "the same figures as CSV (text/csv). The kinds: "
            + " ".join(f"{kind}: {meaning}" for kind, meaning in KIND_MEANINGS.items())
        ),
    )
    def get(self, request: Request):
        query_parameters_check(request.query_params, allowed=StatementQuerySerializer().fields)
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        partner = request.auth.partner
        period = query.validated_data["period"]
        if query.validated_data["format"] == "csv":
            response = StreamingHttpResponse(
                statement_csv_lines(partner=partner, period=period), content_type="text/csv; charset=utf-8"
            )
            filename = f"fee-statement-{period.start.isoformat()}-{period.end.isoformat()}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response(statement_json(partner=partner, period=period))
