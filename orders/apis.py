"""The partner REST API for orders, exchanges and markets; every order query is scoped to the caller.

Bodies (serializers, the exact-number renderer and parser) are in orders/serializers.py.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from audit.services import audit_actor
from builder_platform.api import (
    PAGE_PARAMETERS,
    ApiError,
    CreatedCursorPagination,
    filtered_page,
    page_body,
    page_size_parse,
    query_parameters_check,
)
from builder_platform.openapi import error_responses
from orders import exchanges, idempotency, selectors
from orders.errors import OrderError
from orders.models import Order
from orders.serializers import (
    DecimalJSONParser,
    ExactJSONRenderer,
    ExchangeSerializer,
    FeeAuthorizationInputSerializer,
    MarketPageSerializer,
    OrderCreateInputSerializer,
    OrderDetailOutputSerializer,
    OrderOutputSerializer,
)
from orders.services import cancel, fee_authorization, intake, mass_cancel
from orders.vocabulary import OrderErrorCode
from parsec.client import ParsecRejected, ParsecUnavailable, decode_json
from parsec.contract import EXCHANGES

CUSTOMER_HEADER = intake.CUSTOMER_HEADER


def _render(data: Any) -> bytes:
    return ExactJSONRenderer().render(data)


def _json_response(content: bytes, status_code: int, extra: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(content, status=status_code, content_type="application/json")
    for name, value in (extra or {}).items():
        response[name] = value
    return response


def _order_not_found() -> ApiError:
    # One answer for a missing id, a malformed one and another partner's order.
    return ApiError(
        status_code=status.HTTP_404_NOT_FOUND, code=OrderErrorCode.NOT_FOUND, message="No order with this id."
    )


def _partner_order(request: Request, order_id: str, *, detail: bool = False) -> Order:
    order = selectors.order_get(partner=request.auth.partner, order_id=order_id, detail=detail)
    if order is None:
        raise _order_not_found()
    return order


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
        return filtered_page(
            request=request,
            view=self,
            filterset_class=selectors.OrderFilter,
            queryset=selectors.order_list(partner=request.auth.partner),
            serializer_class=OrderOutputSerializer,
        )

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
                    409: "The customer cannot trade yet (customer_not_ready), is disabled or halted "
                    "(customer_disabled), your partner account is suspended or halted (partner_suspended), "
                    "or the Idempotency-Key is still being processed (idempotency_key_in_flight): retry "
                    "shortly.",
                    422: "",
                    501: "The order type is not supported on this exchange, or the exchange is data-only.",
                    503: "Trading is halted on the platform (trading_halted) or on this exchange "
                    "(exchange_halted), the sentence saying why; or Parsec's exchanges or the fee escrow "
                    "configuration cannot be read right now (service_unavailable).",
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
        now, partner = timezone.now(), request.auth.partner
        key = idempotency.idempotency_key_check(request.headers.get(idempotency.KEY_HEADER))
        query_parameters_check(request.query_params, allowed={"exchange"})
        exchange = request.query_params.get("exchange", "")
        customer_id = request.headers.get(CUSTOMER_HEADER, "").strip()
        fingerprint = idempotency.request_fingerprint(
            exchange=exchange, customer_id=customer_id, body=_json_body_bytes(request)
        )
        run = idempotency.IdempotentRequest.begin(partner=partner, key=key, fingerprint=fingerprint, now=now)
        if run.replay is not None:
            return _json_response(run.replay.body, run.replay.status, run.replay.headers)
        with run.answering():
            prepared = intake.order_create_prepare(
                partner=partner, customer_id=customer_id, exchange=exchange, body=_decoded(request), now=now
            )
            with run.committing():
                order = intake.order_create_commit(intake=prepared)
                content = _render(OrderOutputSerializer(order).data)
                run.complete(status=201, body=content, order_id=order.id)
        if run.replay is not None:  # a concurrent request with this key committed its answer first
            return _json_response(run.replay.body, run.replay.status, run.replay.headers)
        return _json_response(content, 201)


def _json_body_bytes(request: Request) -> bytes:
    """The raw body, held to the one body rule (JSON only) by hand: it is decoded here, not as request.data,
    so that the Idempotency-Key compares the bytes the partner sent."""
    if request.body and request.negotiator.select_parser(request, request.parsers) is None:
        raise UnsupportedMediaType(request.content_type)
    return request.body


def _decoded(request: Request) -> Any:
    try:
        return decode_json(request.body) if request.body else None
    except ValueError:
        raise OrderError("The request body is not valid JSON.", code=OrderErrorCode.BAD_REQUEST) from None


class OrderDetailApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    suspended_partner_may = ("DELETE",)  # a suspended partner may still cancel its orders

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
                {
                    404: "No order with this id.",
                    409: "The order is already final (order_final), or it kept changing state while the "
                    "cancel was being recorded (cancel_contended): send the cancel again.",
                }
            ),
        },
        description="Cancels an order never sent at once; a live one is cancelled at Parsec shortly after "
        "(its cancel_requested_at is set, its status follows).",
    )
    def delete(self, request: Request, order_id: str) -> Response:
        order = _partner_order(request, order_id)
        order = cancel.order_cancel_request(
            order=order, now=timezone.now(), requested_by=mass_cancel.cancel_requester(audit_actor(request))
        )
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
        # Refusals (OrderError, the fees service's FeeError) answer in the error shape as they are.
        fee_authorization.order_fee_authorization_submit(
            order=order, signature=serializer.validated_data["signature"], now=timezone.now()
        )
        return Response(
            OrderOutputSerializer(_partner_order(request, order_id)).data, status=status.HTTP_202_ACCEPTED
        )


def _parsec_refusal(error: ParsecRejected | ParsecUnavailable) -> ApiError:
    if isinstance(error, ParsecUnavailable):
        return ApiError(
            status_code=503,
            code=OrderErrorCode.SERVICE_UNAVAILABLE,
            message="Parsec cannot be reached right now; retry shortly.",
        )
    return ApiError(status_code=error.status, code=error.code, message=error.message)


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
