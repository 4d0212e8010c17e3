"""The partner REST API for its own API keys: list, create (shown once), revoke; scoped to the caller."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_actor
from builder_platform.api import PAGE_PARAMETERS, ApiError, CreatedCursorPagination, query_parameters_check
from builder_platform.inputs import TextField
from builder_platform.openapi import ClosedSerializer, error_responses
from customers import services
from customers.api_keys import KEY_PREFIX
from customers.errors import CustomerErrorCode
from customers.models import PartnerApiKey

NAME_MAX_LENGTH = PartnerApiKey._meta.get_field("name").max_length


@extend_schema_serializer(component_name="ApiKey")
class ApiKeySerializer(serializers.Serializer):
    """A key as its partner sees it: never its secret or its hash."""

    id = serializers.IntegerField()
    prefix = serializers.SerializerMethodField(
        help_text="The key's first characters (bp_ and eight more), to tell your keys apart."
    )
    scope = serializers.ChoiceField(
        choices=PartnerApiKey.Scope.choices,
        help_text="read: GET only, every other method answers 403 key_read_only; read_write: everything.",
    )
    name = serializers.CharField(help_text="Your label for the key (may be empty).")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Updated at most once a minute.")
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_prefix(self, api_key: PartnerApiKey) -> str:
        return f"{KEY_PREFIX}{api_key.prefix}"


@extend_schema_serializer(component_name="ApiKeyWithSecret")
class ApiKeyWithSecretSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key, in this answer only: it is kept as a hash.")


@extend_schema_serializer(
    component_name="ApiKeyCreateRequest",
    examples=[OpenApiExample("A read-only key", value={"scope": "read", "name": "dashboard"})],
)
class ApiKeyCreateInputSerializer(ClosedSerializer):
    scope = serializers.ChoiceField(choices=PartnerApiKey.Scope.choices)
    name = TextField(max_length=NAME_MAX_LENGTH, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        unknown = (
            sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        )
        if unknown:
            raise serializers.ValidationError(
                {name: "This field is not one this endpoint takes." for name in unknown}
            )
        return attrs


def _partner_key(request: Request, key_id: str) -> PartnerApiKey:
    # One answer for a missing id, a malformed one and another partner's key.
    api_key = None
    if key_id.isascii() and key_id.isdigit() and len(key_id) <= 18:
        api_key = PartnerApiKey.objects.filter(partner=request.auth.partner, pk=int(key_id)).first()
    if api_key is None:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code=CustomerErrorCode.NOT_FOUND,
            message="No API key with this id.",
        )
    return api_key


class ApiKeyListCreateApi(APIView):
    pagination_class = CreatedCursorPagination

    @extend_schema(
        operation_id="api_keys_list",
        tags=["api-keys"],
        summary="List your API keys",
        description="Every key of yours, revoked ones included, newest first (follow next_cursor); never "
        "a key's secret. A read key may list.",
        responses={200: ApiKeySerializer(many=True), **error_responses({400: "A bad limit or cursor."})},
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request.query_params, allowed=set(PAGE_PARAMETERS))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            PartnerApiKey.objects.filter(partner=request.auth.partner), request, view=self
        )
        return paginator.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        tags=["api-keys"],
        summary="Create an API key",
        request=ApiKeyCreateInputSerializer,
        description="A new key with the scope given (read or read_write). The whole key is in this answer "
        "only: copy it now. Needs a read_write key.",
        responses={
            201: ApiKeyWithSecretSerializer,
            **error_responses({400: "A bad or missing scope or name."}),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = services.partner_api_key_create(
            partner=request.auth.partner,
            actor=audit_actor(request),
            name=serializer.validated_data.get("name", ""),
            scope=serializer.validated_data["scope"],
        )
        body = {**ApiKeySerializer(api_key).data, "key": raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(
        operation_id="api_keys_revoke",
        tags=["api-keys"],
        summary="Revoke an API key",
        description="The key is refused from the next request on, for good (revoking a revoked key "
        "changes nothing). Your last active read_write key cannot be revoked: create another first. "
        "The key making the request may revoke itself while another read_write key remains.",
        responses={
            200: ApiKeySerializer,
            **error_responses(
                {
                    404: "No API key with this id.",
                    409: "It is your last active read_write key (last_write_key).",
                }
            ),
        },
    )
    def delete(self, request: Request, key_id: str) -> Response:
        api_key = _partner_key(request, key_id)
        services.partner_api_key_revoke(
            api_key=api_key, actor=audit_actor(request), now=timezone.now(), keep_a_write_key=True
        )
        api_key.refresh_from_db()
        return Response(ApiKeySerializer(api_key).data)
