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
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from builder_platform.api import (
    PAGE_PARAMETERS,
    ApiError,
    CreatedCursorPagination,
    error_body,
    page_body,
    page_size_parse,
    query_parameters_check,
)
from builder_platform.inputs import TextField
from builder_platform.openapi import EXACT_NUMBER, ClosedSerializer, error_responses
from fees.models import FeeAuthorization
from orders import exchanges, idempotency, selectors, services
from orders.models import Fill, Order, OrderEvent
from parsec.client import ParsecRejected, ParsecUnavailable, decode_json, encode_json
from parsec.contract import EXCHANGES, MAX_MARKET_ID_LENGTH, MIN_GTD_LEAD_SECONDS, ORDER_TYPES

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


@extend_schema_field(EXACT_NUMBER)
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


BASE_UNITS = {
    "type": "string",
    "pattern": "^[0-9]+$",
    "description": "USDC base units (6 decimals) as a string of digits: 137500 is 0.1375 USDC.",
    "example": "137500",
}
UNIX_SECONDS = {"type": "integer", "format": "int64", "description": "Unix seconds.", "example": 1767225600}


@extend_schema_field(BASE_UNITS)
class BaseUnitsField(serializers.CharField):
    pass


@extend_schema_field(UNIX_SECONDS)
class UnixSecondsField(serializers.IntegerField):
    pass


# Schema-only serializers: these bodies are built as dicts (fee_json, fee_authorization_json, the
# simulator's typed data), and the schema test checks real answers against what these declare.
@extend_schema_serializer(component_name="OrderFee")
class OrderFeeSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=FeeAuthorization.State.choices,
        help_text="The order's fee axis: requested (waiting for the customer's signature), signed, escrowed "
        "(Parsec pulled the fee when it accepted the order), then settled (filled part distributed, the "
        "rest refunded), refunded (nothing filled) or expired (never pulled).",
    )
    fee_amount = BaseUnitsField(help_text="The fee authorized, in USDC base units.")
    fee_bps = serializers.IntegerField(
        min_value=0, max_value=10000, help_text="The fee rate in basis points."
    )
    deadline = UnixSecondsField(help_text="Unix seconds after which the signature is no longer accepted.")
    escrow_order_id = serializers.RegexField(
        r"^0x[0-9a-f]{64}$", help_text="The escrow's orderId (bytes32, ours, not Parsec's order id)."
    )


class TypedDataFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()


class PullFeeTypesSerializer(serializers.Serializer):
    EIP712Domain = TypedDataFieldSerializer(many=True)
    PullFee = TypedDataFieldSerializer(many=True)


class PullFeeDomainSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="ParsecFeeEscrow")
    version = serializers.CharField(help_text="1")
    chainId = serializers.IntegerField(help_text="137 (Polygon)")
    verifyingContract = serializers.CharField(help_text="The escrow contract's address.")


class PullFeeMessageSerializer(serializers.Serializer):
    orderId = serializers.CharField(help_text="The escrow order id, 0x + 64 hex digits.")
    payer = serializers.CharField(help_text="The address the fee is pulled from.")
    feeAmount = BaseUnitsField()
    deadline = serializers.RegexField(r"^[0-9]+$", help_text="Unix seconds, as a string of digits.")


@extend_schema_serializer(component_name="PullFeeTypedData")
class PullFeeTypedDataSerializer(serializers.Serializer):
    """EIP-712 typed data, ready for eth_signTypedData_v4 as it is."""

    types = PullFeeTypesSerializer()
    primaryType = serializers.ChoiceField(choices=["PullFee"])
    domain = PullFeeDomainSerializer()
    message = PullFeeMessageSerializer()


@extend_schema_serializer(component_name="FeeAuthorizationToSign")
class FeeAuthorizationToSignSerializer(serializers.Serializer):
    typed_data = PullFeeTypedDataSerializer(
        help_text="Sign it as it is with eth_signTypedData_v4 and post the signature to "
        "/orders/{id}/fee-authorization."
    )
    fee_amount = BaseUnitsField()
    fee_bps = serializers.IntegerField(min_value=0, max_value=10000)
    deadline = UnixSecondsField(help_text="Unix seconds: sign and post before this.")


@extend_schema_serializer(component_name="OrderLastError")
class OrderLastErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Parsec's code, or ours (e.g. fee_deadline_passed).")
    message = serializers.CharField()


@extend_schema_serializer(component_name="Fill")
class FillOutputSerializer(serializers.ModelSerializer):
    price = ExactNumberField()
    size = ExactNumberField()
    fee = ExactNumberField(help_text="The exchange's fee on this fill, in USDC.")

    class Meta:
        model = Fill
        fields = ["fill_id", "price", "size", "fee", "is_taker", "created_at"]


@extend_schema_serializer(component_name="OrderEvent")
class OrderEventOutputSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(
        help_text="The status before; empty on the event that created the order."
    )
    to_status = serializers.CharField(help_text="The status after (the same as before for a finding).")
    cause = serializers.CharField(help_text="What caused it, e.g. created, fee_authorization_signed, fill.")
    detail = serializers.JSONField(help_text="Facts about the event (an object, often empty).")

    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "cause", "detail", "created_at"]

    def to_representation(self, instance: OrderEvent) -> dict:
        data = super().to_representation(instance)
        if instance.cause.startswith(services.STAFF_ACTION_CAUSE_PREFIX):
            # Partners see that the platform's staff acted and what came of it, never who: staff
            # identities are for the admin's own records.
            data["detail"] = {"outcome": instance.detail.get("outcome", "")}
        return data


@extend_schema_serializer(component_name="Order")
class OrderOutputSerializer(serializers.ModelSerializer):
    """Parsec's Order fields, then ours."""

    price = ExactNumberField(help_text="The limit price, strictly between 0 and 1.")
    size = ExactNumberField(help_text="Contracts or shares.")
    filled = ExactNumberField(help_text="How much of the size has filled.")
    customer_id = serializers.UUIDField()
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    order_type = serializers.ChoiceField(choices=ORDER_TYPES)
    expiration = serializers.IntegerField(
        allow_null=True, help_text="Unix seconds, for a gtd order; null otherwise."
    )
    status = serializers.ChoiceField(
        choices=Order.Status.choices,
        help_text="The order's lifecycle: awaiting_fee_auth, queued, submitting (ours, before Parsec), "
        "Parsec's pending, open, partially_filled, filled, cancelled, rejected, and ours again: failed "
        "(never sent) and unknown (sent, answer lost; reconciliation finds out).",
    )
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
            "version",
        ]

    @extend_schema_field(OrderFeeSerializer(allow_null=True))
    def get_fee(self, order: Order) -> dict | None:
        return fee_json(order)

    @extend_schema_field(FeeAuthorizationToSignSerializer(allow_null=True))
    def get_fee_authorization(self, order: Order) -> dict | None:
        return fee_authorization_json(order)

    @extend_schema_field(OrderLastErrorSerializer(allow_null=True))
    def get_last_error(self, order: Order) -> dict | None:
        if not order.last_error_code:
            return None
        return {"code": order.last_error_code, "message": order.last_error_message}


@extend_schema_serializer(component_name="OrderDetail")
class OrderDetailOutputSerializer(OrderOutputSerializer):
    fills = FillOutputSerializer(many=True)
    events = OrderEventOutputSerializer(many=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "fills", "events"]


@extend_schema_serializer(component_name="FeeAuthorizationRequest")
class FeeAuthorizationInputSerializer(serializers.Serializer):
    signature = TextField(
        max_length=200,
        help_text="The eth_signTypedData_v4 signature of the order's typed data: 0x followed by 130 hex "
        "digits (r, s, v).",
    )


# The create-order body, for the schema: the view hands the raw JSON to the contract's own checks
# (parsec.contract.validate_create_order), which these fields describe.
@extend_schema_serializer(component_name="OrderParams")
class OrderParamsInputSerializer(ClosedSerializer):
    order_type = serializers.ChoiceField(
        choices=ORDER_TYPES,
        default="gtc",
        required=False,
        help_text="gtc on every exchange; ioc on polymarket and kalshi; fok and gtd on polymarket only "
        "(another combination answers 501).",
    )
    expiration = serializers.RegexField(
        r"^[0-9]+$",
        max_length=19,
        required=False,
        help_text=f"gtd only, and required then: unix seconds as a string of digits, at least "
        f"{MIN_GTD_LEAD_SECONDS} s in the future.",
    )


@extend_schema_field(
    {**EXACT_NUMBER, "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "exclusiveMaximum": True}
)
class PriceField(serializers.Field):
    pass


@extend_schema_field(
    {**EXACT_NUMBER, "minimum": 0, "exclusiveMinimum": True, "maximum": 1e9, "exclusiveMaximum": True}
)
class SizeField(serializers.Field):
    pass


@extend_schema_serializer(
    component_name="OrderCreateRequest",
    examples=[
        OpenApiExample(
            "A Kalshi limit buy",
            value={
                "market_id": "KXFEDDECISION-26JAN-C25",
                "outcome": "Yes",
                "side": "buy",
                "price": 0.45,
                "size": 10,
                "params": {"order_type": "gtc"},
            },
        ),
    ],
)
class OrderCreateInputSerializer(ClosedSerializer):
    """Parsec's create-order body. The builder fields (fee_auth, payer_address, signer_address, affiliate)
    are set by the platform from the customer's wallets and fee authorization: sending one is a 400."""

    market_id = serializers.CharField(
        max_length=MAX_MARKET_ID_LENGTH, help_text="The exchange's own market id, as GET /markets lists it."
    )
    outcome = serializers.CharField(
        max_length=services.OUTCOME_MAX_LENGTH, help_text="One of the market's outcomes, e.g. Yes or No."
    )
    side = serializers.ChoiceField(choices=Order.Side.choices)
    price = PriceField(
        help_text="The limit price, strictly between 0 and 1, at most 6 digits after the point."
    )
    size = SizeField(
        help_text="Contracts or shares, above 0 and below 10^9, at most 6 digits after the point."
    )
    params = OrderParamsInputSerializer(required=False)


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


CUSTOMER_HEADER_PARAMETER = OpenApiParameter(
    CUSTOMER_HEADER,
    # A string with the UUID's pattern rather than format uuid: generated clients turn a uuid header
    # into a UUID object, which HTTP libraries refuse as a header value.
    {
        "type": "string",
        "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        "example": "3f1c1f0e-8a4b-4c5d-9e6f-0a1b2c3d4e5f",
    },
    OpenApiParameter.HEADER,
    required=True,
    description="The id (ours, a UUID) of the customer the order is for, as POST /customers answered it.",
)
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    idempotency.KEY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    OpenApiParameter.HEADER,
    required=True,
    description="1 to 255 printable ASCII characters, new for each new order. The same key with the same "
    "request answers the first answer again (with Idempotent-Replayed: true); with another request, 422.",
)


class OrderListCreateApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    parser_classes = [DecimalJSONParser]
    pagination_class = CreatedCursorPagination  # read by the OpenAPI schema too

    @extend_schema(
        operation_id="orders_list",
        tags=["orders"],
        summary="List orders",
        description="The partner's orders, newest first, one page at a time (follow next_cursor). Filters "
        "combine; a bad value of any query parameter answers 400 naming it.",
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.UUID, description="Only this customer's orders."),
            OpenApiParameter("exchange", enum=list(EXCHANGES), description="Only orders on this exchange."),
            OpenApiParameter(
                "status",
                enum=Order.Status.values,
                many=True,
                explode=True,
                description="Only orders in these statuses (repeat the parameter for several).",
            ),
            OpenApiParameter("market_id", str, description="Only orders on this market."),
            OpenApiParameter(
                "created_after", OpenApiTypes.DATETIME, description="Created at or after (ISO 8601)."
            ),
            OpenApiParameter(
                "created_before", OpenApiTypes.DATETIME, description="Created before (ISO 8601)."
            ),
        ],
        responses={
            200: OrderOutputSerializer(many=True),
            **error_responses({400: "A bad filter, limit or cursor (code validation_error)."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(
            request.query_params, allowed={*selectors.OrderFilter.base_filters, *PAGE_PARAMETERS}
        )
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
        tags=["orders"],
        summary="Place an order for a customer",
        parameters=[
            OpenApiParameter(
                "exchange", enum=list(EXCHANGES), required=True, description="Where the order goes."
            ),
            CUSTOMER_HEADER_PARAMETER,
            IDEMPOTENCY_KEY_PARAMETER,
        ],
        request=OrderCreateInputSerializer,
        responses={
            201: OrderOutputSerializer,
            **error_responses(
                {
                    400: "The body, a header or a parameter is invalid (bad_request, missing_parameter, "
                    "idempotency_key_invalid, or the fee service's codes), with the field named.",
                    404: "No such customer (not_found) or exchange (exchange_not_found).",
                    409: "The customer cannot trade yet (customer_not_ready) or the Idempotency-Key is "
                    "still being processed (idempotency_key_in_flight): retry shortly.",
                    422: "",
                    501: "The order type is not supported on this exchange, or the exchange is data-only.",
                    503: "Parsec's exchanges or the fee escrow configuration cannot be read right now.",
                }
            ),
        },
        description=(
            "Parsec's create-order body (market_id, outcome, side, price, size, params). A fee-bearing "
            "order (Polymarket) answers awaiting_fee_auth with the typed data to sign; any other is "
            "queued and sent to Parsec shortly. The same Idempotency-Key with the same request replays "
            "the first answer, refusals included."
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        now = timezone.now()
        partner = request.auth.partner
        key = request.headers.get(idempotency.KEY_HEADER)
        problem = idempotency.idempotency_key_problem(key)
        if problem:
            raise ApiError(status_code=400, code="idempotency_key_invalid", message=problem)
        query_parameters_check(request.query_params, allowed={"exchange"})
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

    @extend_schema(
        operation_id="orders_retrieve",
        tags=["orders"],
        summary="Read an order",
        description="One order with its fills, fee axis and history of events.",
        responses={200: OrderDetailOutputSerializer, **error_responses({404: "No order with this id."})},
    )
    def get(self, request: Request, order_id: str) -> Response:
        return Response(OrderDetailOutputSerializer(_partner_order(request, order_id, detail=True)).data)

    @extend_schema(
        operation_id="orders_cancel",
        tags=["orders"],
        summary="Cancel an order",
        request=None,
        responses={
            202: OrderOutputSerializer,
            **error_responses(
                {404: "No order with this id.", 409: "The order is already final (order_final)."}
            ),
        },
        description="Cancels an order never sent at once; a live one is cancelled at Parsec shortly after "
        "(its cancel_requested_at is set, its status follows).",
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
        tags=["orders"],
        summary="Authorize an order's fee",
        request=FeeAuthorizationInputSerializer,
        responses={
            202: OrderOutputSerializer,
            **error_responses(
                {
                    400: "The signature is malformed, or not by the customer's signer over this order's "
                    "typed data (signature_malformed, signature_invalid, signer_mismatch, ...).",
                    404: "No order with this id.",
                    409: "The order is not waiting for a fee authorization, or its deadline has passed "
                    "(fee_authorization_not_expected, fee_authorization_expired, fee_auth_used).",
                }
            ),
        },
        description="The customer's eth_signTypedData_v4 signature of the order's PullFee typed data (from "
        "fee_authorization.typed_data); the order is then queued.",
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


@extend_schema_serializer(component_name="Exchange")
class ExchangeSerializer(serializers.Serializer):
    id = serializers.ChoiceField(choices=EXCHANGES)
    name = serializers.CharField(help_text="How the exchange spells its own name.")
    has = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Parsec's capability flags: create_order, cancel_order, fetch_fills, ... "
        "(create_order false: data only).",
    )
    order_types = serializers.ListField(child=serializers.ChoiceField(choices=ORDER_TYPES))
    fee_escrow = serializers.BooleanField(
        help_text="Orders here carry a builder fee through Parsec's escrow."
    )


@extend_schema_field({**EXACT_NUMBER, "nullable": True})
class NullableNumberField(serializers.Field):
    pass


@extend_schema_serializer(component_name="Market")
class MarketSerializer(serializers.Serializer):
    parsec_id = serializers.CharField(help_text="Parsec's id of the market: exchange:market_id.")
    exchange = serializers.CharField(help_text="The exchange's id (see GET /exchanges).")
    market_id = serializers.CharField(help_text="The exchange's own market id: what an order names.")
    question = serializers.CharField()
    outcomes = serializers.ListField(
        child=serializers.CharField(), help_text="What an order's outcome may be."
    )
    price = NullableNumberField(help_text="The reference price of the first outcome (Yes); null if unknown.")
    status = serializers.CharField(help_text="Parsec's market status, e.g. active, closed, resolved.")
    tick_size = NullableNumberField(
        required=False, help_text="The price increment the exchange accepts; null when it names none."
    )
    min_order_size = NullableNumberField(
        required=False, help_text="The smallest size the exchange accepts; null when it names none."
    )
    outcome_prices = serializers.DictField(
        child=NullableNumberField(),
        required=False,
        help_text="Each outcome's price (a binary market's No is 1 - Yes); null where unknown.",
    )


@extend_schema_serializer(component_name="MarketPage", deprecate_fields=["markets"])
class MarketPageSerializer(serializers.Serializer):
    results = MarketSerializer(many=True)
    markets = MarketSerializer(many=True, help_text="Deprecated: the same list as results.")
    next = serializers.URLField(allow_null=True, help_text="The next page's link; null on the last page.")
    previous = serializers.URLField(
        allow_null=True, help_text="Always null: Parsec's market cursor only goes forward."
    )
    next_cursor = serializers.CharField(
        allow_null=True, help_text="The value to send back as ?cursor= for the next page; null on the last."
    )


class ExchangeListApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="exchanges_list",
        tags=["markets"],
        summary="List exchanges",
        description="Every exchange Parsec serves, with its capability flags and the order types it takes; "
        "cached briefly.",
        responses={
            200: ExchangeSerializer(many=True),
            **error_responses({503: "Parsec cannot be reached and nothing is cached."}),
        },
    )
    def get(self, request: Request) -> Response:
        try:
            return Response(exchanges.exchanges_list())
        except (ParsecRejected, ParsecUnavailable) as error:
            raise _parsec_refusal(error) from None


MARKETS_MAX_LIMIT = 100


class MarketListApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="markets_list",
        tags=["markets"],
        summary="List markets",
        description="Parsec's markets, one page at a time (follow next_cursor; the cursor only goes "
        "forward, so previous is always null); cached briefly per query.",
        parameters=[
            OpenApiParameter("exchange", str, description="Only this exchange's markets."),
            OpenApiParameter("search", str, description="Words of the question."),
            OpenApiParameter("cursor", str, description="The next_cursor of the previous page."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MARKETS_MAX_LIMIT},
                description=f"Markets per page, 1 to {MARKETS_MAX_LIMIT} (Parsec's default when omitted).",
            ),
        ],
        responses={
            200: MarketPageSerializer,
            **error_responses(
                {
                    400: "A bad limit (validation_error) or a parameter Parsec refuses.",
                    404: "No such exchange (exchange_not_found).",
                    503: "Parsec cannot be reached right now.",
                }
            ),
        },
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        query_parameters_check(params, allowed={"exchange", "search", *PAGE_PARAMETERS})
        limit = None
        if "limit" in params:
            limit = page_size_parse(params["limit"], default=MARKETS_MAX_LIMIT, maximum=MARKETS_MAX_LIMIT)
        try:
            page = exchanges.markets_page(
                exchange=params.get("exchange") or None,
                search=params.get("search") or None,
                cursor=params.get("cursor") or None,
                limit=limit,
            )
        except (ParsecRejected, ParsecUnavailable) as error:
            raise _parsec_refusal(error) from None
        next_url = None
        if page["next_cursor"]:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page["next_cursor"])
        body = page_body(results=page["markets"], next_url=next_url, previous_url=None)
        # `markets` is the old name of `results`, kept (and marked deprecated) for existing clients.
        return Response({**body, "markets": page["markets"]})
