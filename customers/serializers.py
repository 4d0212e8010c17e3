"""The customers API's bodies shared beyond its views: a customer and its wallets as the API (and their
events) render them, and the address field."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from customers.addresses import InvalidAddress, checksum_address
from customers.models import Customer, Wallet


class AddressField(serializers.CharField):
    """An Ethereum address in any case, answered in its checksummed form."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=42, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        try:
            return checksum_address(value)
        except InvalidAddress as exc:
            raise serializers.ValidationError(str(exc)) from None


NULLABLE_ADDRESS = {
    "type": "string",
    "nullable": True,
    "example": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
}


# Plain serializers with declared fields, not ModelSerializers: these render every read, and a
# ModelSerializer introspects the model each time it is built.
@extend_schema_serializer(component_name="Wallet")
class WalletOutputSerializer(serializers.Serializer):
    address = serializers.CharField()
    role = serializers.ChoiceField(choices=Wallet.Role.choices)
    verified_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Customer")
class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    email = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Customer.Status.choices)
    provisioning_step = serializers.SerializerMethodField(
        help_text="What provisioning waits for: parsec_user, wallet_link or onboarding; null otherwise."
    )
    provisioning_error = serializers.CharField(
        help_text="Why Parsec refused provisioning; empty if it did not."
    )
    parsec_customer_id = serializers.CharField(allow_null=True)
    signer_address = serializers.SerializerMethodField()
    payer_address = serializers.SerializerMethodField()
    # `current_wallets` is prefetched by the selectors: no query per customer.
    wallets = WalletOutputSerializer(
        many=True, source="current_wallets", help_text="The current signer and payer."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @staticmethod
    def _current(customer: Customer, role: str) -> Wallet | None:
        return next((wallet for wallet in customer.current_wallets if wallet.role == role), None)

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_email(self, customer: Customer) -> str | None:
        return customer.email or None

    @extend_schema_field(
        serializers.ChoiceField(choices=["parsec_user", "wallet_link", "onboarding"], allow_null=True)
    )
    def get_provisioning_step(self, customer: Customer) -> str | None:
        if customer.status != Customer.Status.PROVISIONING:
            return None
        if not customer.parsec_customer_id:
            return "parsec_user"
        if self._current(customer, Wallet.Role.SIGNER) is None:
            return "wallet_link"
        return "onboarding"

    @extend_schema_field(NULLABLE_ADDRESS)
    def get_signer_address(self, customer: Customer) -> str | None:
        wallet = self._current(customer, Wallet.Role.SIGNER)
        return wallet.address if wallet else None

    @extend_schema_field(NULLABLE_ADDRESS)
    def get_payer_address(self, customer: Customer) -> str | None:
        wallet = self._current(customer, Wallet.Role.PAYER)
        return wallet.address if wallet else None
