"""The partner REST API for customers and their wallets; every query is scoped to the calling partner."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_actor
from builder_platform.api import (
    PAGE_PARAMETERS,
    ApiError,
    CreatedCursorPagination,
    query_parameters_check,
)
from builder_platform.inputs import TextField
from builder_platform.openapi import error_responses
from customers import selectors, services
from customers.errors import CustomerErrorCode
from customers.models import Customer
from customers.serializers import (
    AddressField,
    CustomerOutputSerializer,
    WalletOutputSerializer,
)


def _customer_not_found() -> ApiError:
    # One answer for a missing id, a malformed one and another partner's customer: ids reveal nothing.
    return ApiError(
        status_code=status.HTTP_404_NOT_FOUND,
        code=CustomerErrorCode.NOT_FOUND,
        message="No customer with this id.",
    )


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The request body checked by its serializer; a ValidationError answers 400 in the error shape."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema_serializer(
    component_name="CustomerCreateRequest",
    examples=[OpenApiExample("A new user", value={"external_id": "user-42", "email": "user42@example.com"})],
)
class CustomerCreateInputSerializer(serializers.Serializer):
    # Not trimmed: a partner's id with stray spaces is refused, not silently changed.
    external_id = TextField(max_length=services.EXTERNAL_ID_MAX_LENGTH, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)

    def validate_external_id(self, value: str) -> str:
        problem = services.external_id_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


def _partner_customer(request: Request, customer_id: str) -> Customer:
    customer = selectors.customer_get(partner=request.auth.partner, customer_id=customer_id)
    if customer is None:
        raise _customer_not_found()
    return customer


class CustomerListCreateApi(APIView):
    pagination_class = CreatedCursorPagination  # read by the OpenAPI schema too

    @extend_schema(
        operation_id="customers_list",
        tags=["customers"],
        summary="List customers",
        description="The partner's customers, newest first, one page at a time (follow next_cursor). A bad "
        "value of any query parameter answers 400 naming it.",
        parameters=[
            OpenApiParameter("status", enum=Customer.Status.values, description="Only customers in it."),
            OpenApiParameter("external_id", str, description="The customer with this id of yours."),
        ],
        responses={
            200: CustomerOutputSerializer(many=True),
            **error_responses({400: "A bad filter, limit or cursor (code validation_error)."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(
            request.query_params, allowed={*selectors.CustomerFilter.base_filters, *PAGE_PARAMETERS}
        )
        filterset = selectors.CustomerFilter(
            request.query_params, queryset=selectors.customer_list(partner=request.auth.partner)
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="customers_create",
        tags=["customers"],
        summary="Onboard a customer",
        request=CustomerCreateInputSerializer,
        responses={
            201: CustomerOutputSerializer,
            200: CustomerOutputSerializer,
            **error_responses(
                {
                    400: "external_id or email is invalid (validation_error, invalid_external_id).",
                    409: "A repeat of external_id with another email (customer_email_differs); nothing "
                    "was changed.",
                }
            ),
        },
        description=(
            "Idempotent on external_id: 201 for a new customer, 200 with the existing one, unchanged. "
            "A repeat with another email answers 409 customer_email_differs and changes nothing; "
            "change the email with PATCH /customers/{id}. The customer is then provisioned at Parsec; "
            "link its signer wallet to let it trade."
        ),
    )
    def post(self, request: Request) -> Response:
        data = _validated(CustomerCreateInputSerializer, request)
        customer, created = services.customer_create(
            partner=request.auth.partner,
            external_id=data["external_id"],
            email=data.get("email") or "",
            now=timezone.now(),
        )
        customer = selectors.customer_get(partner=request.auth.partner, customer_id=str(customer.id))
        return Response(
            CustomerOutputSerializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CustomerUpdateInputSerializer(serializers.Serializer):
    email = serializers.EmailField(
        required=False, allow_null=True, allow_blank=True, help_text="null or empty clears it."
    )
    status = serializers.ChoiceField(
        choices=[Customer.Status.ACTIVE, Customer.Status.DISABLED],
        required=False,
        help_text=(
            "disabled: new orders, fee signatures and wallet links are refused (409 customer_disabled); "
            "orders already placed are left alone. active: enables a disabled customer again (it is "
            "provisioning again if its Parsec account or wallets are not ready yet)."
        ),
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Send email, status, or both.")
        return attrs


class CustomerDetailApi(APIView):
    @extend_schema(
        operation_id="customers_retrieve",
        tags=["customers"],
        summary="Read a customer",
        description="One customer with its current wallets and what its provisioning waits for.",
        responses={200: CustomerOutputSerializer, **error_responses({404: "No customer with this id."})},
    )
    def get(self, request: Request, customer_id: str) -> Response:
        return Response(CustomerOutputSerializer(_partner_customer(request, customer_id)).data)

    @extend_schema(
        operation_id="customers_update",
        tags=["customers"],
        summary="Update or disable a customer",
        description=(
            "Changes the email, or the status between active and disabled. Fields left out are kept. "
            "A customer still provisioning cannot be set active (409 customer_still_provisioning): it "
            "becomes active by itself."
        ),
        request=CustomerUpdateInputSerializer,
        responses={
            200: CustomerOutputSerializer,
            **error_responses(
                {
                    400: "A field is invalid, or neither email nor status was sent (validation_error).",
                    404: "No customer with this id.",
                    409: "The customer is still provisioning (customer_still_provisioning).",
                }
            ),
        },
    )
    def patch(self, request: Request, customer_id: str) -> Response:
        customer = _partner_customer(request, customer_id)
        data = _validated(CustomerUpdateInputSerializer, request)
        services.customer_update(customer=customer, now=timezone.now(), actor=audit_actor(request), **data)
        return Response(CustomerOutputSerializer(_partner_customer(request, customer_id)).data)


@extend_schema_serializer(component_name="WalletChallengeRequest")
class WalletChallengeInputSerializer(serializers.Serializer):
    address = AddressField()


@extend_schema_serializer(component_name="WalletChallenge")
class WalletChallengeOutputSerializer(serializers.Serializer):
    message = serializers.CharField(
        help_text="The EIP-4361 message for the wallet to sign with personal_sign."
    )
    nonce = serializers.CharField()
    expires_at = serializers.DateTimeField()


class WalletChallengeCreateApi(APIView):
    @extend_schema(
        operation_id="customers_wallet_challenges_create",
        tags=["customers"],
        summary="Ask for a wallet challenge",
        description="An EIP-4361 (Sign-In with Ethereum) message for the customer's wallet to sign with "
        "personal_sign; post the signature to /customers/{id}/wallets before it expires.",
        request=WalletChallengeInputSerializer,
        responses={
            201: WalletChallengeOutputSerializer,
            **error_responses(
                {
                    400: "The address is invalid (validation_error, invalid_address).",
                    404: "No customer with this id.",
                    409: "The customer is disabled (customer_disabled).",
                    429: "This address holds too many open challenges (too_many_challenges).",
                }
            ),
        },
    )
    def post(self, request: Request, customer_id: str) -> Response:
        customer = _partner_customer(request, customer_id)
        data = _validated(WalletChallengeInputSerializer, request)
        challenge = services.wallet_challenge_create(
            customer=customer, address=data["address"], now=timezone.now()
        )
        return Response(WalletChallengeOutputSerializer(challenge).data, status=status.HTTP_201_CREATED)


@extend_schema_serializer(component_name="WalletLinkRequest")
class WalletLinkInputSerializer(serializers.Serializer):
    address = AddressField()
    message = TextField(max_length=4000, multiline=True, trim_whitespace=False)
    # Checked by the service, which answers a specific code for each way a signature can be wrong.
    signature = TextField(max_length=1000, trim_whitespace=False)
    replace_signer = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "true: this proven wallet replaces the customer's current signer (and its payer). The "
            "customer is provisioning again until Parsec has onboarded the new signer and given it a "
            "new payer Safe. Refused while any of its orders is not final (409 customer_has_open_orders)."
        ),
    )


class WalletLinkApi(APIView):
    @extend_schema(
        operation_id="customers_wallets_create",
        tags=["customers"],
        summary="Link or replace the customer's signer wallet",
        request=WalletLinkInputSerializer,
        responses={
            201: WalletOutputSerializer,
            200: WalletOutputSerializer,
            **error_responses(
                {
                    400: "The signed challenge does not prove the address (message_malformed, "
                    "challenge_not_found, challenge_expired, signer_mismatch, address_mismatch, ...).",
                    404: "No customer with this id.",
                    409: "The challenge was already used, the customer is disabled, another signer is "
                    "linked without replace_signer, the wallet signs for another of your customers, or "
                    "the customer has open orders (challenge_used, customer_disabled, "
                    "signer_already_linked, signer_linked_to_another_customer, customer_has_open_orders).",
                }
            ),
        },
        description=(
            "Links the signer of a wallet challenge; 200 when it was already the current signer. A "
            "different wallet while one is linked answers 409 signer_already_linked unless "
            "replace_signer is true. A wallet that is the signer of another of your customers answers "
            "409 signer_linked_to_another_customer. Onboarding at Parsec then gives the customer its "
            "payer wallet."
        ),
    )
    def post(self, request: Request, customer_id: str) -> Response:
        customer = _partner_customer(request, customer_id)
        data = _validated(WalletLinkInputSerializer, request)
        wallet, linked = services.wallet_signer_link(
            customer=customer, now=timezone.now(), replace=data.pop("replace_signer"), **data
        )
        return Response(
            WalletOutputSerializer(wallet).data,
            status=status.HTTP_201_CREATED if linked else status.HTTP_200_OK,
        )
