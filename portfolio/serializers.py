"""The portfolio API's bodies, typed for the schema: positions, balances, fills, markets, books, dry runs.

Numbers are exact JSON numbers written from the Decimal (never through a float); USDC amounts are integer
base units as strings, with the decimal USDC beside them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from builder_platform.openapi import EXACT_NUMBER
from builder_platform.values import plain_decimal
from parsec.contract import BALANCE_EXCHANGES, EXCHANGES, ORDER_SIDES


@extend_schema_field(EXACT_NUMBER)
class NumberField(serializers.Field):
    pass


@extend_schema_field({**EXACT_NUMBER, "type": ["number", "null"]})
class NullableNumberField(serializers.Field):
    pass


@extend_schema_serializer(component_name="UsdcAmount")
class UsdcAmountSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="USDC base units (6 decimals), an integer as a string.")
    usdc = serializers.CharField(help_text="The same amount in USDC, with six decimals.")


@extend_schema_serializer(component_name="Position")
class PositionSerializer(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    market_id = serializers.CharField()
    outcome = serializers.CharField()
    size = NumberField(help_text="Shares held; negative when more were sold than bought; 0 once closed.")
    average_price = NullableNumberField(
        help_text="The open position's cost per share (fees in); null when flat."
    )
    current_price = NullableNumberField(help_text="The outcome's price now; null when it cannot be read.")
    market_value = NullableNumberField(
        help_text="size x current_price, USDC; null when the price is unknown."
    )
    net_cost = NumberField(help_text="Paid less received over every fill, exchange fees included, USDC.")
    realised_pnl = NumberField(help_text="P&L of what was sold, at the average cost, USDC.")
    unrealised_pnl = NullableNumberField(help_text="market_value less the open cost, USDC.")


@extend_schema_serializer(component_name="PositionTotals")
class PositionTotalsSerializer(serializers.Serializer):
    market_value = NullableNumberField()
    net_cost = NumberField()
    realised_pnl = NumberField()
    unrealised_pnl = NullableNumberField()


@extend_schema_serializer(component_name="Positions")
class PositionsSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    positions = PositionSerializer(many=True)
    totals = PositionTotalsSerializer(
        help_text="Sums over the positions; realised + unrealised = market_value - net_cost."
    )


@extend_schema_serializer(component_name="ExchangeBalance")
class ExchangeBalanceSerializer(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=sorted(BALANCE_EXCHANGES))
    balance = UsdcAmountSerializer(help_text="What the customer can trade with there.")


@extend_schema_serializer(component_name="Balance")
class BalanceSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    balances = ExchangeBalanceSerializer(many=True)


@extend_schema_serializer(component_name="PartnerFill")
class PartnerFillSerializer(serializers.Serializer):
    fill_id = serializers.CharField(help_text="Parsec's fill id.")
    order_id = serializers.UUIDField(help_text="Our order id.")
    customer_id = serializers.UUIDField()
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    market_id = serializers.CharField()
    outcome = serializers.CharField()
    side = serializers.ChoiceField(choices=ORDER_SIDES)
    price = NumberField()
    size = NumberField()
    fee = NumberField(help_text="The exchange's fee on this fill, USDC (the builder fee is the order's).")
    is_taker = serializers.BooleanField()
    created_at = serializers.DateTimeField(help_text="When it filled at the exchange.")

    def to_representation(self, fill) -> dict[str, Any]:
        order = fill.order
        return {
            "fill_id": fill.fill_id,
            "order_id": str(order.id),
            "customer_id": str(order.customer_id),
            "exchange": order.exchange,
            "market_id": order.market_id,
            "outcome": order.outcome,
            "side": order.side,
            "price": plain_decimal(fill.price),
            "size": plain_decimal(fill.size),
            "fee": plain_decimal(fill.fee),
            "is_taker": fill.is_taker,
            "created_at": serializers.DateTimeField().to_representation(fill.created_at),
        }


@extend_schema_serializer(component_name="MarketOutcome")
class MarketOutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    price = NullableNumberField(help_text="Its price now; a binary market's No is 1 - Yes.")


@extend_schema_serializer(component_name="MarketDetail")
class MarketDetailSerializer(serializers.Serializer):
    parsec_id = serializers.CharField()
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    market_id = serializers.CharField()
    question = serializers.CharField()
    status = serializers.CharField()
    outcomes = MarketOutcomeSerializer(many=True)
    volume = NullableNumberField(help_text="Contracts traded in all; null where the exchange publishes none.")
    end_date = serializers.DateTimeField(allow_null=True, help_text="When trading closes; null if unknown.")
    tick_size = NullableNumberField()
    min_order_size = NullableNumberField()


@extend_schema_serializer(component_name="BookLevel")
class BookLevelSerializer(serializers.Serializer):
    price = NumberField()
    size = NumberField()


@extend_schema_serializer(component_name="OrderBook")
class OrderBookSerializer(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    market_id = serializers.CharField()
    outcome = serializers.CharField()
    bids = BookLevelSerializer(many=True, help_text="Best (highest) first.")
    asks = BookLevelSerializer(many=True, help_text="Best (lowest) first.")
    tick_size = NullableNumberField()
    min_order_size = NullableNumberField()
    timestamp = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="ExecutionPrice")
class ExecutionPriceSerializer(serializers.Serializer):
    exchange = serializers.ChoiceField(choices=EXCHANGES)
    market_id = serializers.CharField()
    outcome = serializers.CharField()
    side = serializers.ChoiceField(choices=ORDER_SIDES)
    amount = NumberField(help_text="Contracts asked for.")
    filled_amount = NumberField(help_text="Contracts that would fill now; the rest would rest (or not fill).")
    fully_filled = serializers.BooleanField()
    levels_consumed = serializers.IntegerField()
    total_cost = NumberField(help_text="USDC for what fills, before fees.")
    avg_price = NullableNumberField()
    worst_price = NullableNumberField()
    slippage = NullableNumberField(help_text="avg_price against the best price.")
    fee_estimate = NullableNumberField(help_text="The exchange's fee on what fills, USDC.")
