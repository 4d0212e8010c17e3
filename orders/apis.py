"""The partner REST API for orders, exchanges and markets; every order query is scoped to the caller.

Prices, sizes and filled amounts are JSON numbers, as Parsec sends them, written digit for digit from
the stored Decimal (never through a float) and without trailing zeros: 0.65, 100, 12.5.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder_platform.api import ApiError, CreatedCursorPagination, error_body
from builder_platform.inputs import TextField
from orders import exchanges, idempotency, selectors, services
from orders.models import Fill, Order, OrderEvent
from parsec.client import ParsecRejected, ParsecUnavailable, decode_json, encode_json

CUSTOMER_HEADER = "X-Builder-Customer-Id"
# Refusals that a later state can change (a customer not ready or disabled, a partner fee the escrow no
# longer allows, a rate limit): not stored under the Idempotency-Key, so a retry with it can succeed.
# Every other 4xx depends on the request alone and is replayed as stored.
TRANSIENT_REFUSAL_STATUSES = frozenset({409, 429})
# Retry-After of a 409 for an Idempotency-Key in flight: an order's intake takes well under a second.
IN_FLIGHT_RETRY_AFTER_SECONDS = 1


def plain_number(value: Decimal) -> Decimal:
    """100.000000 -> 100, 0.650000 -> 0.65: the same number, written as a person would."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return normalized


class ExactJSONRenderer(JSONRenderer):
    """JSON in which a Decimal is a number with exactly its digits (DRF's encoder would go through float)."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        return encode_json(data).encode()


class DecimalJSONParser(JSONParser):
    """JSON bodies whose numbers with a point become Decimal, never float."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            return decode_json(stream.read())
        except ValueError as error:
            from rest_framework.exceptions import ParseError

            raise ParseError(f"JSON parse error - {error}") from None


@extend_schema_field(OpenApiTypes.NUMBER)
class ExactNumberField(serializers.Field):
    def to_representation(self, value: Decimal) -> Decimal:
        return plain_number(value)


def _unix(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def fee_json(order: Order) -> dict[str, Any] | None:
    """The order's fee axis: state, amount (USDC base units, as a string), rate, deadline, escrow id."""
    authorization = order.fee_authorization
    if authorization is None:
        return None
    return {
        "state": authorization.state,
        "fee_amount": str(authorization.fee_amount),
        "fee_bps": authorization.fee_bps,
        "deadline": _unix(authorization.deadline),
        "escrow_order_id": authorization.escrow_order_id,
    }


def fee_authorization_json(order: Order) -> dict[str, Any] | None:
    """What the customer's wallet must sign, while the order waits for it."""
    authorization = order.fee_authorization
    if authorization is None or order.status != Order.Status.AWAITING_FEE_AUTH:
        return None
    return {
        "typed_data": authorization.typed_data,
        "fee_amount": str(authorization.fee_amount),
        "fee_bps": authorization.fee_bps,
        "deadline": _unix(authorization.deadline),
    }


class FillOutputSerializer(serializers.ModelSerializer):
    price = ExactNumberField()
    size = ExactNumberField()
    fee = ExactNumberField(help_text="The exchange's fee on this fill, in USDC.")

    class Meta:
        model = Fill
        fields = ["fill_id", "price", "size", "fee", "is_taker", "created_at"]


class OrderEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "cause", "detail", "created_at"]


class OrderOutputSerializer(serializers.ModelSerializer):
    """Parsec's Order fields, then ours."""

    price = ExactNumberField()
    size = ExactNumberField()
    filled = ExactNumberField()
    customer_id = serializers.UUIDField()
    fee = serializers.SerializerMethodField(help_text="The fee axis; null for an order without a fee.")
    fee_authorization = serializers.SerializerMethodField(
        help_text="While awaiting_fee_auth: the PullFee typed data to sign (eth_signTypedData_v4)."
    )
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "market_id",
            "outcome",
            "side",
            "price",
            "size",
            "filled",
            "status",
            "created_at",
            "updated_at",
            "exchange",
            "customer_id",
            "parsec_order_id",
            "order_type",
            "expiration",
            "cancel_requested_at",
            "fee",
            "fee_authorization",
            "last_error",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_fee(self, order: Order) -> dict | None:
        return fee_json(order)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_fee_authorization(self, order: Order) -> dict | None:
        return fee_authorization_json(order)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_last_error(self, order: Order) -> dict | None:
        if not order.last_error_code:
            return None
        return {"code": order.last_error_code, "message": order.last_error_message}


class OrderDetailOutputSerializer(OrderOutputSerializer):
    fills = FillOutputSerializer(many=True)
    events = OrderEventOutputSerializer(many=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "fills", "events"]


class FeeAuthorizationInputSerializer(serializers.Serializer):
    signature = TextField(max_length=200, help_text="0x followed by 130 hex digits (r, s, v).")


def _render(data: Any) -> bytes:
    return ExactJSONRenderer().render(data)


def _json_response(content: bytes, status_code: int, extra: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(content, status=status_code, content_type="application/json")
    for name, value in (extra or {}).items():
        response[name] = value
    return response


def _order_not_found() -> ApiError:
    # One answer for a missing id, a malformed one and another partner's order.
    return ApiError(status_code=status.HTTP_404_NOT_FOUND, code="not_found", message="No order with this id.")


def _refusal(error: services.OrderError) -> ApiError:
    fields = {error.field: error.message} if error.field else None
    return ApiError(status_code=error.status, code=error.code, message=error.message, fields=fields)


def _partner_order(request: Request, order_id: str, *, detail: bool = False) -> Order:
    order = selectors.order_get(partner=request.auth.partner, order_id=order_id, detail=detail)
    if order is None:
        raise _order_not_found()
    return order


class _ClaimLost(Exception):
    """The idempotency key was taken over while this request worked: its order must not be kept."""


class OrderListCreateApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        operation_id="orders_list",
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.UUID),
            OpenApiParameter("exchange", str),
            OpenApiParameter("status", enum=Order.Status.values, many=True),
            OpenApiParameter("market_id", str),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int, description="Page size, 1 to 200 (default 50)."),
        ],
        responses=OrderOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filterset = selectors.OrderFilter(
            request.query_params, queryset=selectors.order_list(partner=request.auth.partner)
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        parameters=[
            OpenApiParameter("exchange", str, required=True),
            OpenApiParameter(CUSTOMER_HEADER, OpenApiTypes.UUID, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(idempotency.KEY_HEADER, str, OpenApiParameter.HEADER, required=True),
        ],
        request=OpenApiTypes.OBJECT,
        responses={201: OrderOutputSerializer},
        description=(
            "Parsec's create-order body (market_id, outcome, side, price, size, params). A fee-bearing "
            "order answers awaiting_fee_auth with the typed data to sign; any other is queued. The same "
            "Idempotency-Key with the same request replays the first answer."
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        now = timezone.now()
        partner = request.auth.partner
        key = request.headers.get(idempotency.KEY_HEADER)
        problem = idempotency.idempotency_key_problem(key)
        if problem:
            raise ApiError(status_code=400, code="idempotency_key_invalid", message=problem)
        exchange = request.query_params.get("exchange", "")
        customer_id = request.headers.get(CUSTOMER_HEADER, "").strip()
        raw_body = request.body
        # The body is decoded below, not through request.data: the same rule as every other endpoint
        # (a body must be sent as application/json) has to be applied here by hand.
        if raw_body and request.negotiator.select_parser(request, request.parsers) is None:
            raise UnsupportedMediaType(request.content_type)
        fingerprint = idempotency.request_fingerprint(
            exchange=exchange, customer_id=customer_id, body=raw_body
        )

        claim = idempotency.idempotency_key_claim(partner=partner, key=key, fingerprint=fingerprint, now=now)
        record = claim.record
        if not claim.claimed:
            if record.fingerprint != fingerprint:
                raise ApiError(
                    status_code=422,
                    code="idempotency_key_reused",
                    message="This Idempotency-Key was used for a different request; use a new key.",
                )
            if record.state != record.State.COMPLETED:
                raise ApiError(
                    status_code=409,
                    code="idempotency_key_in_flight",
                    message="A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
                )
            return _json_response(
                bytes(record.response_body or b""),
                record.response_status or 500,
                {**record.response_headers, idempotency.REPLAYED_HEADER: "true"},
            )

        answer: list[bytes] = []

        def complete(order: Order) -> None:
            # Inside the order's own transaction: a replay can never miss an order that exists.
            content = _render(OrderOutputSerializer(order).data)
            if not idempotency.idempotency_key_complete(
                record=record, status=201, body=content, headers={}, order_id=order.id, now=now
            ):
                raise _ClaimLost
            answer.append(content)

        try:
            try:
                body = decode_json(raw_body) if raw_body else None
            except ValueError:
                raise ApiError(
                    status_code=400, code="bad_request", message="The request body is not valid JSON."
                ) from None
            try:
                services.order_create(
                    partner=partner,
                    customer_id=customer_id,
                    exchange=exchange,
                    body=body,
                    now=now,
                    on_created=complete,
                )
            except services.OrderError as error:
                raise _refusal(error) from None
            return _json_response(answer[0], 201)
        except ApiError as error:  # ours, and the fees service's (FeeError is one)
            content = _render(error_body(code=error.error_code, message=error.message, fields=error.fields))
            if error.status_code >= 500 or error.status_code in TRANSIENT_REFUSAL_STATUSES:
                # Not the request's final answer: the same key may be sent again and succeed.
                idempotency.idempotency_key_release(record=record)
            else:
                # Final refusals are answers too: the same request gets the same refusal.
                idempotency.idempotency_key_complete(
                    record=record, status=error.status_code, body=content, headers={}, order_id=None, now=now
                )
            return _json_response(content, error.status_code)
        except _ClaimLost:
            raise ApiError(
                status_code=409,
                code="idempotency_key_in_flight",
                message="Another request took over this Idempotency-Key; retry to read its answer.",
                retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
            ) from None
        except BaseException:
            idempotency.idempotency_key_release(record=record)
            raise


class OrderDetailApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(operation_id="orders_retrieve", responses=OrderDetailOutputSerializer)
    def get(self, request: Request, order_id: str) -> Response:
        return Response(OrderDetailOutputSerializer(_partner_order(request, order_id, detail=True)).data)

    @extend_schema(
        operation_id="orders_cancel",
        request=None,
        responses={202: OrderOutputSerializer},
        description="Cancels an order never sent at once; a live one is cancelled at Parsec shortly after.",
    )
    def delete(self, request: Request, order_id: str) -> Response:
        order = _partner_order(request, order_id)
        try:
            order = services.order_cancel_request(order=order, now=timezone.now())
        except services.OrderError as error:
            raise _refusal(error) from None
        order = _partner_order(request, order_id)
        return Response(OrderOutputSerializer(order).data, status=status.HTTP_202_ACCEPTED)


class OrderFeeAuthorizationApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        operation_id="orders_fee_authorization",
        request=FeeAuthorizationInputSerializer,
        responses={202: OrderOutputSerializer},
        description="The customer's signature of the order's PullFee typed data; the order is then queued.",
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = _partner_order(request, order_id)
        serializer = FeeAuthorizationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.order_fee_authorization_submit(
                order=order, signature=serializer.validated_data["signature"], now=timezone.now()
            )
        except services.OrderError as error:
            raise _refusal(error) from None
        # The fees service's refusals (a bad signature, ...) are ApiErrors: they answer as they are.
        return Response(
            OrderOutputSerializer(_partner_order(request, order_id)).data, status=status.HTTP_202_ACCEPTED
        )


def _parsec_refusal(error: ParsecRejected | ParsecUnavailable) -> ApiError:
    if isinstance(error, ParsecUnavailable):
        return ApiError(
            status_code=503,
            code="service_unavailable",
            message="Parsec cannot be reached right now; retry shortly.",
        )
    return ApiError(status_code=error.status, code=error.code, message=error.message)


class ExchangeListApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(operation_id="exchanges_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            return Response(exchanges.exchanges_list())
        except (ParsecRejected, ParsecUnavailable) as error:
            raise _parsec_refusal(error) from None


class MarketListApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="markets_list",
        parameters=[
            OpenApiParameter("exchange", str),
            OpenApiParameter("search", str),
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        raw_limit = params.get("limit")
        limit = None
        if raw_limit:
            if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
                raise ApiError(
                    status_code=400,
                    code="bad_request",
                    message="limit must be a whole number from 1 to 100",
                    fields={"limit": "Use 1 to 100."},
                )
            limit = int(raw_limit)
        try:
            page = exchanges.markets_page(
                exchange=params.get("exchange") or None,
                search=params.get("search") or None,
                cursor=params.get("cursor") or None,
                limit=limit,
            )
        except (ParsecRejected, ParsecUnavailable) as error:
            raise _parsec_refusal(error) from None
        return Response(page)
