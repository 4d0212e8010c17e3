"""The partner API of the affiliate program: referral codes, referrals, commissions, payouts and their
statements. Every query is scoped to the calling partner; another partner's object answers 404."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import django_filters
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from affiliates import selectors
from affiliates.serializers import (
    CommissionSerializer,
    PayoutFormatSerializer,
    PayoutSerializer,
    PayoutStatementSerializer,
    ReferralCodeCreateSerializer,
    ReferralCodeSerializer,
    ReferralCodeUpdateSerializer,
    ReferralSerializer,
)
from affiliates.services import AffiliateError, period_end, period_parse
from builder_platform.api import PAGE_PARAMETERS, ApiError, CreatedCursorPagination, query_parameters_check
from builder_platform.openapi import error_responses
from builder_platform.values import plain_number
from fees.commission_models import Commission, Payout
from fees.money import usdc_text
from referrals import services as referral_services


def _not_found(what: str) -> ApiError:
    return ApiError(
        status_code=status.HTTP_404_NOT_FOUND, code="not_found", message=f"No {what} with this id."
    )


def _refuse_unknown_fields(serializer: serializers.Serializer, data) -> None:
    unknown = sorted(set(data) - set(serializer.fields)) if isinstance(data, dict) else []
    if unknown:
        raise serializers.ValidationError({name: "This field is not accepted here." for name in unknown})


# --- Referral codes ------------------------------------------------------------------------------------


def _code_body(request: Request, codes: list) -> list:
    figures = selectors.referral_code_figures(partner=request.auth.partner, codes=codes)
    return ReferralCodeSerializer(codes, many=True, context={"figures": figures}).data


class ReferralCodeListCreateApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="referral_codes_list",
        tags=["affiliates"],
        summary="List referral codes",
        description="Your referral codes, newest first, each with its clicks, sign-ups, attributed "
        "customers, their volume, the fees they paid and your commission on them.",
        responses={
            200: ReferralCodeSerializer(many=True),
            **error_responses({400: "A bad limit or cursor."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed=PAGE_PARAMETERS)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.referral_codes(partner=request.auth.partner), request, view=self
        )
        return paginator.get_paginated_response(_code_body(request, page))

    @extend_schema(
        operation_id="referral_codes_create",
        tags=["affiliates"],
        summary="Create a referral code",
        request=ReferralCodeCreateSerializer,
        responses={
            201: ReferralCodeSerializer,
            **error_responses(
                {
                    400: "A malformed code, or a share above what you may offer "
                    "(revenue_share_above_maximum).",
                    409: "The code is taken (referral_code_taken).",
                }
            ),
        },
        description="A code for links /r/<code> (or ?ref=<code> on any page of the web frontend). Codes are "
        "unique across the platform and case-insensitive.",
    )
    def post(self, request: Request) -> Response:
        serializer = ReferralCodeCreateSerializer(data=request.data)
        _refuse_unknown_fields(serializer, request.data)
        serializer.is_valid(raise_exception=True)
        code = referral_services.referral_code_create(
            partner=request.auth.partner, now=timezone.now(), **serializer.validated_data
        )
        return Response(_code_body(request, [code])[0], status=status.HTTP_201_CREATED)


class ReferralCodeDetailApi(APIView):
    @extend_schema(
        operation_id="referral_codes_update",
        tags=["affiliates"],
        summary="Update a referral code",
        request=ReferralCodeUpdateSerializer,
        responses={
            200: ReferralCodeSerializer,
            **error_responses(
                {400: "A field is invalid, or none was sent.", 404: "No referral code with this id."}
            ),
        },
        description="Change the label, or switch the code off (active false) or on again. "
        "Its terms never change.",
    )
    def patch(self, request: Request, code: str) -> Response:
        found = selectors.referral_code_get(partner=request.auth.partner, code=code)
        if found is None:
            raise _not_found("referral code")
        serializer = ReferralCodeUpdateSerializer(data=request.data)
        _refuse_unknown_fields(serializer, request.data)
        serializer.is_valid(raise_exception=True)
        referral_services.referral_code_update(referral_code=found, **serializer.validated_data)
        return Response(_code_body(request, [found])[0])


# --- Referrals -----------------------------------------------------------------------------------------


class ReferralListApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="referrals_list",
        tags=["affiliates"],
        summary="List referrals",
        description="The customers your referral codes brought, newest first, with their figures. "
        "Attribution is not ownership: you cannot place orders or change wallets for them.",
        responses={200: ReferralSerializer(many=True), **error_responses({400: "A bad limit or cursor."})},
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed=PAGE_PARAMETERS)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.referrals(partner=request.auth.partner), request, view=self
        )
        figures = selectors.referral_figures(partner=request.auth.partner, page=page)
        return paginator.get_paginated_response(
            ReferralSerializer(page, many=True, context={"figures": figures}).data
        )


# --- Commissions ---------------------------------------------------------------------------------------


class CommissionFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Commission.State.choices)
    customer = django_filters.UUIDFilter(field_name="customer_id")
    period = django_filters.CharFilter(
        method="filter_period", help_text="YYYY-MM: booked in that month (UTC)."
    )

    class Meta:
        model = Commission
        fields = ["state", "customer", "period"]

    def filter_period(self, queryset, name, value):
        try:
            start = period_parse(value)
        except AffiliateError as error:
            raise serializers.ValidationError({"period": error.message}) from None
        first = datetime(start.year, start.month, 1, tzinfo=UTC)
        return queryset.filter(created_at__gte=first, created_at__lt=period_end(start))


class CommissionListApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="commissions_list",
        tags=["affiliates"],
        summary="List commissions",
        description="Your commissions, one per fill of a customer you earn on, and reversals of them, newest "
        "first. pending until the hold ends, then available, then paid with its payout.",
        parameters=[
            OpenApiParameter("state", enum=Commission.State.values, description="Only commissions in it."),
            OpenApiParameter("period", str, description="YYYY-MM: booked in that UTC month."),
            OpenApiParameter("customer", OpenApiTypes.UUID, description="Only this customer's."),
        ],
        responses={
            200: CommissionSerializer(many=True),
            **error_responses({400: "A bad filter, limit or cursor."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(
            request.query_params, allowed={*CommissionFilter.base_filters, *PAGE_PARAMETERS}
        )
        filterset = CommissionFilter(
            request.query_params, queryset=selectors.commissions(partner=request.auth.partner)
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(CommissionSerializer(page, many=True).data)


# --- Payouts -------------------------------------------------------------------------------------------


CSV_HEADER = (
    "commission_id",
    "kind",
    "order_id",
    "fill_id",
    "exchange",
    "market_id",
    "filled_size",
    "fee_distributed",
    "share_bps",
    "commission",
    "commission_usdc",
)


def _plain(value) -> str:
    return "" if value is None else plain_number(value)


def statement_csv(*, payout: Payout, lines: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(
            [
                line["commission_id"],
                line["kind"],
                line["order_id"] or "",
                line["fill_id"],
                line["exchange"],
                line["market_id"],
                _plain(line["filled_size"]),
                line["fee_distributed"],
                line["share_bps"],
                line["commission"],
                usdc_text(line["commission"]),
            ]
        )
    total = sum(line["commission"] for line in lines)
    writer.writerow(["total", "", "", "", "", "", "", "", "", total, usdc_text(total)])
    return buffer.getvalue()


class PayoutListApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="payouts_list",
        tags=["affiliates"],
        summary="List payouts",
        description="Your payouts, newest first: one per month with at least the payout minimum available.",
        responses={200: PayoutSerializer(many=True), **error_responses({400: "A bad limit or cursor."})},
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed=PAGE_PARAMETERS)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.payouts(partner=request.auth.partner), request, view=self
        )
        return paginator.get_paginated_response(PayoutSerializer(page, many=True).data)


class PayoutDetailApi(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # `format` is this endpoint's own parameter (json or csv), not a renderer name.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        operation_id="payouts_retrieve",
        tags=["affiliates"],
        summary="Read a payout and its statement",
        parameters=[PayoutFormatSerializer],
        responses={
            (200, "application/json"): PayoutStatementSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With format=csv: a header, one line per commission, and a total line "
                "equal to the payout's amount.",
            ),
            **error_responses({400: "A bad format.", 404: "No payout with this id."}),
        },
        description="The payout with one line per commission (order, fill, exchange, market, filled size, "
        "fee distributed, share, commission); the lines sum to the payout's amount to the base unit.",
    )
    def get(self, request: Request, payout_id: str):
        query_parameters_check(request.query_params, allowed={"format"})
        query = PayoutFormatSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payout = selectors.payout_get(partner=request.auth.partner, payout_id=payout_id)
        if payout is None:
            raise _not_found("payout")
        lines = selectors.payout_statement_lines(payout=payout)
        if query.validated_data["format"] == "csv":
            response = HttpResponse(
                statement_csv(payout=payout, lines=lines), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="payout-{payout.pk}-{payout.period:%Y-%m}.csv"'
            )
            return response
        return Response(
            PayoutStatementSerializer(
                {
                    "payout": payout,
                    "lines": lines,
                    "total_commission": sum(line["commission"] for line in lines),
                }
            ).data
        )
