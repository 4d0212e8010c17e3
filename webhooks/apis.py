"""The partner API for the event log and webhook endpoints; every object is scoped to the caller."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_actor
from builder_platform.api import (
    PAGE_PARAMETERS,
    ApiError,
    CreatedCursorPagination,
    query_parameter_error,
    query_parameters_check,
)
from builder_platform.inputs import TextField
from builder_platform.openapi import ClosedSerializer, error_responses
from builder_platform.values import uuid_or_none
from customers.serializers import CustomerOutputSerializer
from events import selectors as event_selectors
from events.models import Event
from events.registry import EVENT_TYPES, WILDCARD
from fees.commission_serializers import CommissionSerializer, PayoutSerializer
from orders.serializers import FillOutputSerializer, OrderFeeSerializer, OrderOutputSerializer
from parsec.client import decode_json, encode_json
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

MAX_URL_LENGTH = 2000


class ExactJSONRenderer(JSONRenderer):
    """Events keep their numbers digit for digit, as they were written (never through a float)."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return b"" if data is None else encode_json(data).encode()


# --- Event bodies (schema-only serializers: the bodies are stored JSON) ---------------------------------

VERSION_HELP = (
    "The object's version after this change; ignore an event whose version is lower than one you hold."
)


@extend_schema_serializer(component_name="OrderEventData")
class OrderEventDataSerializer(OrderOutputSerializer):
    previous_status = serializers.CharField(
        required=False, help_text="order.updated only: the status before."
    )

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "previous_status"]


@extend_schema_serializer(component_name="FillEventData")
class FillEventDataSerializer(FillOutputSerializer):
    order_id = serializers.UUIDField()
    order = OrderOutputSerializer(help_text="The order after this fill.")
    version = serializers.IntegerField(help_text=VERSION_HELP)

    class Meta(FillOutputSerializer.Meta):
        fields = [*FillOutputSerializer.Meta.fields, "order_id", "order", "version"]


@extend_schema_serializer(component_name="FeeEventData")
class FeeEventDataSerializer(OrderFeeSerializer):
    order_id = serializers.UUIDField(allow_null=True)
    customer_id = serializers.UUIDField()
    exchange = serializers.CharField()
    distributed_amount = serializers.RegexField(r"^[0-9]+$", help_text="USDC base units distributed so far.")
    refunded_amount = serializers.RegexField(r"^[0-9]+$", help_text="USDC base units refunded to the payer.")
    version = serializers.IntegerField(help_text=VERSION_HELP)


@extend_schema_serializer(component_name="CustomerEventData")
class CustomerEventDataSerializer(CustomerOutputSerializer):
    version = serializers.IntegerField(help_text=VERSION_HELP)


@extend_schema_serializer(component_name="WebhookEndpoint")
class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField(), help_text='Event types, or ["*"] for all.')
    description = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(
        allow_null=True, help_text="Why it was disabled; null while enabled."
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="The first failed attempt since the last success; null when it is healthy."
    )
    failure_streak = serializers.IntegerField(help_text="Failed attempts in a row.")
    secret_rotated_until = serializers.DateTimeField(
        allow_null=True, help_text="Until then the previous secret signs too (a second signature)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WebhookEndpointEventData")
class EndpointEventDataSerializer(WebhookEndpointSerializer):
    version = serializers.IntegerField(help_text=VERSION_HELP)


@extend_schema_serializer(component_name="CommissionEventData")
class CommissionEventDataSerializer(CommissionSerializer):
    version = serializers.IntegerField(help_text=VERSION_HELP)


@extend_schema_serializer(component_name="PayoutEventData")
class PayoutEventDataSerializer(PayoutSerializer):
    version = serializers.IntegerField(help_text=VERSION_HELP)


@extend_schema_serializer(component_name="PingEventData")
class PingEventDataSerializer(serializers.Serializer):
    message = serializers.CharField()
    endpoint_id = serializers.UUIDField()
    version = serializers.IntegerField()


EVENT_DATA = PolymorphicProxySerializer(
    component_name="EventData",
    serializers=[
        OrderEventDataSerializer,
        FillEventDataSerializer,
        FeeEventDataSerializer,
        CustomerEventDataSerializer,
        EndpointEventDataSerializer,
        CommissionEventDataSerializer,
        PayoutEventDataSerializer,
        PingEventDataSerializer,
    ],
    resource_type_field_name=None,
)


@extend_schema_serializer(component_name="Event")
class EventSerializer(serializers.Serializer):
    """An event exactly as its webhooks carry it."""

    id = serializers.RegexField(r"^evt_[0-9A-Z]{26}$", help_text="The webhook-id of its deliveries too.")
    type = serializers.ChoiceField(choices=list(EVENT_TYPES))
    timestamp = serializers.DateTimeField(help_text="When it happened (RFC 3339, UTC).")
    data = EVENT_DATA


@extend_schema_serializer(component_name="WebhookEndpointWithSecret")
class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.RegexField(
        r"^whsec_[A-Za-z0-9+/=]+$",
        help_text="The signing secret: whsec_ + base64 of 32 random bytes. Shown this once; keep it.",
    )


class EventTypesField(serializers.ListField):
    child = serializers.ChoiceField(choices=[WILDCARD, *EVENT_TYPES])

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, max_length=len(EVENT_TYPES) + 1, **kwargs)


class RefusingUnknownFields(ClosedSerializer):
    """A body with a field it does not declare (a misspelt `event`, a `secret` of one's own) is a 400."""

    def validate(self, attrs: dict) -> dict:
        unknown = (
            sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        )
        if unknown:
            raise serializers.ValidationError(
                {name: "This field is not one this endpoint takes." for name in unknown}
            )
        return attrs


class WebhookEndpointCreateSerializer(RefusingUnknownFields):
    url = TextField(max_length=MAX_URL_LENGTH, help_text="https://... (http:// only in debug).")
    events = EventTypesField(help_text='The event types to send, or ["*"] for every type.')
    description = TextField(max_length=500, required=False, allow_blank=True)


class WebhookEndpointUpdateSerializer(RefusingUnknownFields):
    url = TextField(max_length=MAX_URL_LENGTH, required=False)
    events = EventTypesField(required=False)
    enabled = serializers.BooleanField(
        required=False, help_text="true resumes its pending deliveries at once."
    )
    description = TextField(max_length=500, required=False, allow_blank=True)


@extend_schema_serializer(component_name="WebhookAttempt")
class WebhookAttemptSerializer(serializers.ModelSerializer):
    delivery_id = serializers.UUIDField()
    delivery_status = serializers.ChoiceField(
        choices=WebhookDelivery.Status.choices, source="delivery.status"
    )
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The HTTP status; null without an answer."
    )
    error = serializers.CharField(help_text="The network error or refusal, when there was no HTTP answer.")
    latency_ms = serializers.IntegerField()
    response_body = serializers.CharField(help_text="The first 1 KB of the answer.")

    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "delivery_id",
            "delivery_status",
            "event_id",
            "event_type",
            "number",
            "success",
            "status_code",
            "error",
            "latency_ms",
            "response_body",
            "created_at",
        ]


@extend_schema_serializer(component_name="WebhookDelivery")
class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.UUIDField()
    event_id = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    next_attempt_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint_id", "event_id", "status", "attempts", "next_attempt_at", "created_at"]


@extend_schema_serializer(component_name="EventResend")
class EventResendSerializer(serializers.Serializer):
    deliveries = WebhookDeliverySerializer(many=True)


def _event_json(event: Event) -> dict[str, Any]:
    return decode_json(event.body)


def _not_found(what: str) -> ApiError:
    return ApiError(
        status_code=status.HTTP_404_NOT_FOUND, code="not_found", message=f"No {what} with this id."
    )


def _partner_event(request: Request, event_id: str) -> Event:
    event = event_selectors.event_get(partner_id=request.auth.partner.pk, event_id=event_id)
    if event is None:
        raise _not_found("event")
    return event


def _partner_endpoint(request: Request, endpoint_id: str) -> WebhookEndpoint:
    value = uuid_or_none(endpoint_id)
    endpoint = value and WebhookEndpoint.objects.filter(partner=request.auth.partner, pk=value).first()
    if not endpoint:
        raise _not_found("webhook endpoint")
    return endpoint


def _moment(request: Request, name: str):
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = parse_datetime(raw)
        # In UTC: PostgreSQL refuses offsets of 16 hours or more that Python accepts; at the ends of the
        # calendar the conversion itself overflows, and that is a bad filter too.
        moment = moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise query_parameter_error(
            name, f"{name} must be an RFC 3339 time with its offset, e.g. 2026-01-31T12:00:00Z."
        )
    return moment


EVENT_FILTERS = ("type", "object_id", "created_after", "created_before")


class EventListApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="events_list",
        tags=["events"],
        summary="List events",
        description="The partner's events, newest first (follow next_cursor), kept "
        "WEBHOOK_EVENT_RETENTION_DAYS (30 by default). A partner that was down catches up from here.",
        parameters=[
            OpenApiParameter("type", enum=list(EVENT_TYPES), description="Only events of this type."),
            OpenApiParameter(
                "object_id", str, description="Only events of this object (an order's, customer's id)."
            ),
            OpenApiParameter(
                "created_after", {"type": "string", "format": "date-time"}, description="Strictly after."
            ),
            OpenApiParameter(
                "created_before", {"type": "string", "format": "date-time"}, description="Strictly before."
            ),
        ],
        responses={
            200: EventSerializer(many=True),
            **error_responses({400: "A bad filter, limit or cursor."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed={*EVENT_FILTERS, *PAGE_PARAMETERS})
        kind = request.query_params.get("type")
        if kind is not None and kind not in EVENT_TYPES:
            raise query_parameter_error("type", f"type must be one of {', '.join(EVENT_TYPES)}.")
        object_id = request.query_params.get("object_id")
        if object_id is not None and len(object_id) > 100:
            raise query_parameter_error("object_id", "object_id is at most 100 characters.")
        events = event_selectors.events_list(
            partner_id=request.auth.partner.pk,
            type=kind,
            object_id=object_id,
            created_after=_moment(request, "created_after"),
            created_before=_moment(request, "created_before"),
        ).only("id", "body", "created_at")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response([_event_json(event) for event in page])


class EventDetailApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="events_retrieve",
        tags=["events"],
        summary="Read an event",
        description="One event, exactly as its webhooks carry it (the body that was signed).",
        responses={200: EventSerializer, **error_responses({404: "No event with this id."})},
    )
    def get(self, request: Request, event_id: str) -> Response:
        return Response(_event_json(_partner_event(request, event_id)))


class EventResendApi(APIView):
    @extend_schema(
        operation_id="events_resend",
        tags=["events"],
        summary="Resend an event",
        request=None,
        description="Delivers the event again (the same webhook-id) to each of your enabled endpoints that "
        "subscribes to its type, with a fresh retry schedule.",
        responses={
            202: EventResendSerializer,
            **error_responses(
                {
                    404: "No event with this id.",
                    409: "No enabled endpoint subscribes to it (no_webhook_endpoint).",
                }
            ),
        },
    )
    def post(self, request: Request, event_id: str) -> Response:
        event = _partner_event(request, event_id)
        deliveries = services.webhook_event_resend(
            event=event, actor=audit_actor(request), now=timezone.now()
        )
        return Response(
            {"deliveries": WebhookDeliverySerializer(deliveries, many=True).data},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookEndpointListCreateApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="webhook_endpoints_list",
        tags=["webhooks"],
        summary="List webhook endpoints",
        description="The partner's webhook endpoints, newest first (follow next_cursor), without secrets.",
        responses={
            200: WebhookEndpointSerializer(many=True),
            **error_responses({400: "A bad limit or cursor."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed=set(PAGE_PARAMETERS))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            WebhookEndpoint.objects.filter(partner=request.auth.partner), request, view=self
        )
        return paginator.get_paginated_response([services.endpoint_json(endpoint) for endpoint in page])

    @extend_schema(
        operation_id="webhook_endpoints_create",
        tags=["webhooks"],
        summary="Create a webhook endpoint",
        request=WebhookEndpointCreateSerializer,
        description="Events of the types named are POSTed to url, signed by the Standard Webhooks scheme "
        "(webhook-id, webhook-timestamp, webhook-signature). The secret is in this answer only.",
        responses={
            201: WebhookEndpointWithSecretSerializer,
            **error_responses(
                {400: "A bad field, or a URL that is not allowed (url_not_allowed, saying why)."}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = services.webhook_endpoint_create(
            partner_id=request.auth.partner.pk,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            actor=audit_actor(request),
            now=timezone.now(),
        )
        return Response(
            {**services.endpoint_json(endpoint), "secret": secret}, status=status.HTTP_201_CREATED
        )


class WebhookEndpointDetailApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        tags=["webhooks"],
        summary="Read a webhook endpoint",
        description="One endpoint with its health: last success, failure streak, why it was disabled.",
        responses={
            200: WebhookEndpointSerializer,
            **error_responses({404: "No webhook endpoint with this id."}),
        },
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(services.endpoint_json(_partner_endpoint(request, endpoint_id)))

    @extend_schema(
        operation_id="webhook_endpoints_update",
        tags=["webhooks"],
        summary="Change a webhook endpoint",
        request=WebhookEndpointUpdateSerializer,
        description="Change url, events, description, or enabled. Enabling a disabled endpoint clears its "
        "failure streak and sends what is still pending.",
        responses={
            200: WebhookEndpointSerializer,
            **error_responses(
                {400: "A bad field or URL (url_not_allowed).", 404: "No webhook endpoint with this id."}
            ),
        },
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _partner_endpoint(request, endpoint_id)
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            endpoint=endpoint, actor=audit_actor(request), now=timezone.now(), **serializer.validated_data
        )
        return Response(services.endpoint_json(endpoint))

    @extend_schema(
        operation_id="webhook_endpoints_delete",
        tags=["webhooks"],
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it; its pending deliveries and attempts are deleted with it.",
        responses={204: None, **error_responses({404: "No webhook endpoint with this id."})},
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.webhook_endpoint_delete(
            endpoint=_partner_endpoint(request, endpoint_id), actor=audit_actor(request), now=timezone.now()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        tags=["webhooks"],
        summary="Rotate a webhook endpoint's secret",
        request=None,
        description="A new secret, in this answer only. For 24 hours the previous one stays valid too and "
        "every delivery carries both signatures (space-separated in webhook-signature).",
        responses={
            200: WebhookEndpointWithSecretSerializer,
            **error_responses({404: "No webhook endpoint with this id."}),
        },
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            endpoint=_partner_endpoint(request, endpoint_id), actor=audit_actor(request), now=timezone.now()
        )
        return Response({**services.endpoint_json(endpoint), "secret": secret})


class WebhookEndpointTestApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_test",
        tags=["webhooks"],
        summary="Send a ping to a webhook endpoint",
        request=None,
        description="Records a ping event and delivers it to this endpoint now; follow it in deliveries.",
        responses={
            202: WebhookDeliverySerializer,
            **error_responses(
                {
                    404: "No webhook endpoint with this id.",
                    409: "The endpoint is disabled (endpoint_disabled).",
                }
            ),
        },
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = services.webhook_endpoint_ping(
            endpoint=_partner_endpoint(request, endpoint_id), now=timezone.now()
        )
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEndpointDeliveriesApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="webhook_endpoints_deliveries",
        tags=["webhooks"],
        summary="List a webhook endpoint's delivery attempts",
        description="Every attempt, newest first: when, the HTTP status or the network error, the latency "
        "and the first 1 KB of the answer. event_id narrows it to one event.",
        parameters=[OpenApiParameter("event_id", str, description="Only attempts of this event.")],
        responses={
            200: WebhookAttemptSerializer(many=True),
            **error_responses({400: "A bad limit or cursor.", 404: "No webhook endpoint with this id."}),
        },
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _partner_endpoint(request, endpoint_id)
        query_parameters_check(request.query_params, allowed={"event_id", *PAGE_PARAMETERS})
        attempts = WebhookAttempt.objects.filter(endpoint=endpoint).select_related("delivery")
        if request.query_params.get("event_id"):
            attempts = attempts.filter(event_id=request.query_params["event_id"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(attempts, request, view=self)
        return paginator.get_paginated_response(WebhookAttemptSerializer(page, many=True).data)
