"""A commission and a payout as the partner API and their events render them (the affiliates API reuses
these): in fees, beside their rows, so the service that books a commission can announce it in its own
transaction without an arrow to the right."""

from __future__ import annotations

from rest_framework import serializers

from fees.commission_models import Commission, Payout
from fees.money import usdc_text

USDC_HELP = "USDC base units (6 decimals), an integer."


class CommissionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=Commission.Kind.choices, help_text="commission, or reversal (negative)."
    )
    state = serializers.ChoiceField(choices=Commission.State.choices)
    amount = serializers.IntegerField(help_text=USDC_HELP + " Negative for a reversal.")
    usdc = serializers.SerializerMethodField(help_text="The amount in USDC, six places.")
    customer_id = serializers.UUIDField()
    order_id = serializers.UUIDField(allow_null=True)
    fill_id = serializers.CharField()
    exchange = serializers.CharField()
    share_bps = serializers.IntegerField()
    available_at = serializers.DateTimeField(help_text="When the hold ends (pending until then).")
    payout_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="A reversal's reason.")
    created_at = serializers.DateTimeField()

    def get_usdc(self, commission) -> str:
        return usdc_text(commission.amount)


class PayoutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.SerializerMethodField(help_text="The month it pays for, YYYY-MM.")
    state = serializers.ChoiceField(choices=Payout.State.choices)
    amount = serializers.IntegerField(
        help_text=USDC_HELP + " The sum of its commissions, clawbacks included."
    )
    usdc = serializers.SerializerMethodField()
    commission_count = serializers.IntegerField()
    payout_address = serializers.CharField(
        help_text="Your payout address when it was made; empty if paid off-chain."
    )
    reference = serializers.CharField(help_text="Transaction hash or payment reference, once paid.")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def get_period(self, payout) -> str:
        return f"{payout.period:%Y-%m}"

    def get_usdc(self, payout) -> str:
        return usdc_text(payout.amount)
