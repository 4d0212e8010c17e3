"""The partner API's stops: cancel every live order matching filters, and the dead-man switch's heartbeat.

Both stay open to a suspended partner (`suspended_partner_may`): cancelling is how one stops safely.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_actor
from builder_platform.api import ApiError
from builder_platform.openapi import error_responses
from customers import selectors as customer_selectors
from orders.serializers import (
    CancelAllInputSerializer,
    CancelAllOutputSerializer,
    HeartbeatInputSerializer,
    HeartbeatOutputSerializer,
)
from orders.services import dead_man_switch, mass_cancel
from orders.vocabulary import OrderErrorCode


class OrderCancelAllApi(APIView):
    suspended_partner_may = ("POST",)

    @extend_schema(
        operation_id="orders_cancel_all",
        tags=["orders"],
        summary="Cancel all live orders",
        request=CancelAllInputSerializer,
        responses={
            202: CancelAllOutputSerializer,
            **error_responses(
                {
                    400: "An unknown exchange, a malformed customer id or an unknown field "
                    "(validation_error).",
                    404: "No customer with this id (not_found).",
                }
            ),
        },
        description="Asks every live order of yours (not final, not already asked to cancel) matching all "
        "the filters given to cancel, and answers how many. Orders never sent are cancelled at once; the "
        "others are cancelled at Parsec one by one within its rate limits (Parsec has no cancel-all). Each "
        "order's events say the cancel came from this key. A second call finds nothing more (0). Works "
        "while your account is suspended.",
    )
    def post(self, request: Request) -> Response:
        serializer = CancelAllInputSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        partner, customer = request.auth.partner, None
        if "customer" in data:
            customer = customer_selectors.customer_get(partner=partner, customer_id=str(data["customer"]))
            if customer is None:
                raise ApiError(
                    status_code=404, code=OrderErrorCode.NOT_FOUND, message="No customer with this id."
                )
        result = mass_cancel.orders_cancel_all(
            partner=partner,
            customer=customer,
            exchange=data.get("exchange", ""),
            market_id=data.get("market_id", ""),
            actor=audit_actor(request),
            now=timezone.now(),
        )
        body = CancelAllOutputSerializer({"cancel_requested": result.cancel_requested}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class HeartbeatApi(APIView):
    suspended_partner_may = ("POST",)

    @extend_schema(
        operation_id="heartbeat",
        tags=["orders"],
        summary="Send a heartbeat (the dead-man switch)",
        request=HeartbeatInputSerializer,
        responses={
            200: HeartbeatOutputSerializer,
            **error_responses(
                {400: "cancel_after_seconds is not a whole number within the bounds (heartbeat_invalid)."}
            ),
        },
        description="Arms your dead-man switch, or pushes its deadline: if no heartbeat arrives within "
        "cancel_after_seconds, every live order of yours is cancelled (as a cancel-all would), once, and "
        "the switch is off until the next heartbeat arms it again. A heartbeat after the deadline does not "
        "save the orders: they are cancelled first. cancel_after_seconds 0 disarms the switch. Send "
        "heartbeats well within the interval: the platform checks the deadlines every few seconds.",
    )
    def post(self, request: Request) -> Response:
        serializer = HeartbeatInputSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        switch = dead_man_switch.heartbeat_record(
            partner=request.auth.partner,
            cancel_after_seconds=serializer.validated_data["cancel_after_seconds"],
            actor=audit_actor(request),
            now=timezone.now(),
        )
        return Response(HeartbeatOutputSerializer(switch).data)
