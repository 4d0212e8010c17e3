"""The affiliate API's bodies, typed for the schema: referral codes, referrals, commissions, payouts and
their statements. Amounts are USDC base units (integers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from affiliates import selectors
from builder_platform.inputs import TextField
from builder_platform.openapi import ClosedSerializer
from builder_platform.values import plain_number
from fees.commission_models import Commission
from fees.commission_serializers import USDC_HELP, CommissionSerializer, PayoutSerializer  # noqa: F401 (re-exported)
from referrals.models import CODE_MAX_LENGTH


class ReferralCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The code, as in the link /r/<code>.")
    link_path = serializers.SerializerMethodField(
        help_text="The path of the referral link on the web frontend."
    )
    label = serializers.CharField()
    revenue_share_bps = serializers.IntegerField(
        help_text="The terms: the share of the builder's fee income on the customers it brings, frozen into "
        "each attribution."
    )
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    clicks = serializers.SerializerMethodField(help_text="Link visits with this code while active.")
    signups = serializers.SerializerMethodField(
        help_text="New customers attributed with it, flagged included."
    )
    attributed_customers = serializers.SerializerMethodField(help_text="Attributed customers not flagged.")
    volume = serializers.SerializerMethodField(
        help_text="USDC notional of their fills (price x size), a decimal string."
    )
    fees = serializers.SerializerMethodField(
        help_text="Builder fees distributed on their fills; " + USDC_HELP
    )
    commission = serializers.SerializerMethodField(
        help_text="Your commission on them, reversals included; " + USDC_HELP
    )

    def _figures(self, code) -> dict:
        return self.context["figures"][code.pk]

    def get_link_path(self, code) -> str:
        return f"/r/{code.code}"

    def get_clicks(self, code) -> int:
        return self._figures(code)["clicks"]

    def get_signups(self, code) -> int:
        return self._figures(code)["signups"]

    def get_attributed_customers(self, code) -> int:
        return self._figures(code)["attributed_customers"]

    def get_volume(self, code) -> str:
        return plain_number(self._figures(code)["figures"].volume)

    def get_fees(self, code) -> int:
        return self._figures(code)["figures"].fees

    def get_commission(self, code) -> int:
        return self._figures(code)["figures"].commission


class ReferralCodeCreateSerializer(ClosedSerializer):
    code = TextField(
        max_length=CODE_MAX_LENGTH,
        required=False,
        help_text="3 to 32 lowercase letters, digits or inner hyphens; left out, one is generated.",
    )
    label = TextField(max_length=200, required=False, allow_blank=True, default="")
    revenue_share_bps = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=10_000,
        help_text="Within what we allow you; by default your revenue share.",
    )


class ReferralCodeUpdateSerializer(ClosedSerializer):
    label = TextField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, help_text="false: its links stop attributing.")

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Send label, active, or both.")
        return attrs


class ReferralSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField(help_text="Our id of the customer (not yours to act for).")
    created_at = serializers.DateTimeField(help_text="When it was attributed: its first sign-in.")
    code = serializers.CharField(source="code.code")
    revenue_share_bps = serializers.IntegerField(help_text="The terms frozen at attribution.")
    wallet = serializers.SerializerMethodField(help_text="The signing wallet, shortened: 0x1234…abcd.")
    flagged = serializers.SerializerMethodField(help_text="A self-referral: it earns you nothing.")
    flagged_reason = serializers.CharField()
    volume = serializers.SerializerMethodField(help_text="USDC notional of its fills, a decimal string.")
    fees = serializers.SerializerMethodField(help_text="Builder fees distributed on its fills; " + USDC_HELP)
    commission = serializers.SerializerMethodField(help_text="Your commission on it; " + USDC_HELP)

    def get_wallet(self, referral) -> str:
        return selectors.short_address(referral.signer)

    def get_flagged(self, referral) -> bool:
        return referral.is_flagged

    def get_volume(self, referral) -> str:
        return plain_number(self.context["figures"][referral.customer_id].volume)

    def get_fees(self, referral) -> int:
        return self.context["figures"][referral.customer_id].fees

    def get_commission(self, referral) -> int:
        return self.context["figures"][referral.customer_id].commission


@extend_schema_serializer(component_name="PayoutStatementLine")
class StatementLineSerializer(serializers.Serializer):
    commission_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Commission.Kind.choices)
    order_id = serializers.UUIDField(allow_null=True)
    fill_id = serializers.CharField()
    exchange = serializers.CharField()
    market_id = serializers.CharField()
    filled_size = serializers.DecimalField(
        max_digits=40, decimal_places=12, allow_null=True, help_text="The fill's size."
    )
    fee_distributed = serializers.IntegerField(help_text="Builder fee distributed for the fill; " + USDC_HELP)
    share_bps = serializers.IntegerField()
    commission = serializers.IntegerField(help_text=USDC_HELP)


class PayoutStatementSerializer(serializers.Serializer):
    payout = PayoutSerializer()
    lines = StatementLineSerializer(many=True)
    total_commission = serializers.IntegerField(
        help_text="The sum of the lines: the payout's amount. " + USDC_HELP
    )


class PayoutFormatSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["json", "csv"],
        default="json",
        required=False,
        help_text="json (default), or csv for the statement.",
    )
