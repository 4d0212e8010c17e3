"""The orders API's bodies: renderers and parsers that keep numbers exact, and every serializer, typed
for the schema.

Prices, sizes and filled amounts are JSON numbers, as Parsec sends them, written digit for digit from
the stored Decimal (never through a float) and without trailing zeros: 0.65, 100, 12.5.

Over 400 lines of declarations only (one class per schema component, with its help texts): splitting
them would scatter the schema without making any one of them easier to read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from builder_platform.inputs import TextField
from builder_platform.openapi import EXACT_NUMBER, ClosedSerializer
from builder_platform.values import plain_decimal
from fees import presenters as fees_presenters
from fees.models import FeeAuthorization
from orders.models import OUTCOME_MAX_LENGTH, Fill, Order, OrderEvent
from orders.vocabulary import STAFF_ACTION_CAUSE_PREFIX
from parsec.client import decode_json, encode_json
from parsec.contract import EXCHANGES, MAX_MARKET_ID_LENGTH, MIN_GTD_LEAD_SECONDS, ORDER_TYPES


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
        return plain_decimal(value)


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
    return fees_presenters.fee_authorization_json(authorization)


def _datetime_json(value: datetime | None) -> str | None:
    # As DRF's DateTimeField writes it (USE_TZ, TIME_ZONE UTC, ISO 8601): UTC with a Z.
    if not value:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _choice_json(value: Any) -> Any:
    # As DRF's ChoiceField writes a stored choice: the plain value, never the enum member.
    return value if value in ("", None) else str(value)


def order_json(order: Order) -> dict[str, Any]:
    """The Order as OrderOutputSerializer renders it, built directly (the submission's hot path).

    The serializer's per-field machinery cost more than the order's SQL when events are recorded for
    hundreds of orders a second; a test holds both to the same output for every status, with and
    without a fee. `order` must come with its fee_authorization loaded (or none).
    """
    return {
        "id": str(order.id),
        "market_id": str(order.market_id),
        "outcome": str(order.outcome),
        "side": _choice_json(order.side),
        "price": plain_decimal(order.price),
        "size": plain_decimal(order.size),
        "filled": plain_decimal(order.filled),
        "status": _choice_json(order.status),
        "created_at": _datetime_json(order.created_at),
        "updated_at": _datetime_json(order.updated_at),
        "exchange": _choice_json(order.exchange),
        "customer_id": str(order.customer_id) if order.customer_id is not None else None,
        "parsec_order_id": str(order.parsec_order_id) if order.parsec_order_id is not None else None,
        "order_type": _choice_json(order.order_type),
        "expiration": int(order.expiration) if order.expiration is not None else None,
        "cancel_requested_at": _datetime_json(order.cancel_requested_at),
        "fee": fee_json(order),
        "fee_authorization": fee_authorization_json(order),
        "last_error": (
            {"code": order.last_error_code, "message": order.last_error_message}
            if order.last_error_code
            else None
        ),
        "version": int(order.version),
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


STAFF_IDENTITY_FIELDS = frozenset({"staff_user", "staff_user_id"})


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
        if instance.cause.startswith(STAFF_ACTION_CAUSE_PREFIX):
            # Partners see that the platform's staff acted and what came of it, never who: staff
            # identities are for the admin's own records.
            data["detail"] = {"outcome": instance.detail.get("outcome", "")}
        elif STAFF_IDENTITY_FIELDS & data["detail"].keys():
            # A mass cancel by staff says "platform staff" to the partner, and who only in the admin.
            data["detail"] = {k: v for k, v in data["detail"].items() if k not in STAFF_IDENTITY_FIELDS}
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

    def to_representation(self, instance: Order) -> dict[str, Any]:
        """DRF's own representation, field by field, but with fields built once per process.

        A ModelSerializer builds its fields from the model on every instance, which was most of the
        Python an order create spends on its two renderings (the answer and the order.created event).
        The fields hold no state of the order and use no context, so one bound set serves every
        OrderOutputSerializer; a subclass (the detail, with nested serializers) builds its own as usual.
        """
        if type(self) is not OrderOutputSerializer:
            return super().to_representation(instance)
        return serializers.ModelSerializer.to_representation(_order_output_template(), instance)


_order_output_templates: list[OrderOutputSerializer] = []


def _order_output_template() -> OrderOutputSerializer:
    """The one OrderOutputSerializer whose fields (a cached_property) serve every rendering; two threads
    racing at first use each build one, and either serves."""
    if not _order_output_templates:
        template = OrderOutputSerializer()
        template.fields  # noqa: B018  (built and bound now, before it is shared)
        _order_output_templates.append(template)
    return _order_output_templates[0]


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
        max_length=OUTCOME_MAX_LENGTH, help_text="One of the market's outcomes, e.g. Yes or No."
    )
    side = serializers.ChoiceField(choices=Order.Side.choices)
    price = PriceField(
        help_text="The limit price, strictly between 0 and 1, at most 6 digits after the point."
    )
    size = SizeField(
        help_text="Contracts or shares, above 0 and below 10^9, at most 6 digits after the point."
    )
    params = OrderParamsInputSerializer(required=False)


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


def _refuse_unknown_fields(serializer: serializers.Serializer, attrs: dict) -> dict:
    unknown = sorted(set(getattr(serializer, "initial_data", {}) or {}) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: "This field is not known here." for name in unknown})
    return attrs


@extend_schema_serializer(
    component_name="CancelAllRequest",
    examples=[
        OpenApiExample("One customer's orders on one exchange", value={"customer": "…", "exchange": "kalshi"})
    ],
)
class CancelAllInputSerializer(ClosedSerializer):
    """Which live orders to cancel: all of the partner's, or those matching every filter given."""

    customer = serializers.UUIDField(required=False, help_text="Only this customer's orders (our id).")
    exchange = serializers.ChoiceField(
        choices=EXCHANGES, required=False, help_text="Only orders on this exchange."
    )
    market_id = TextField(
        max_length=MAX_MARKET_ID_LENGTH, required=False, help_text="Only orders on this market."
    )
    # `market` is the name the endpoint was first specified with; `market_id` the order list's. Both work.
    market = TextField(
        max_length=MAX_MARKET_ID_LENGTH, required=False, help_text="Another name for market_id."
    )

    def validate(self, attrs: dict) -> dict:
        attrs = _refuse_unknown_fields(self, attrs)
        if "market" in attrs:
            market = attrs.pop("market")
            if attrs.setdefault("market_id", market) != market:
                raise serializers.ValidationError({"market": "market and market_id name different markets."})
        return attrs


@extend_schema_serializer(component_name="CancelAllResult")
class CancelAllOutputSerializer(serializers.Serializer):
    cancel_requested = serializers.IntegerField(
        help_text="How many live orders were asked to cancel: those never sent are cancelled already, the "
        "others are cancelled at Parsec shortly (each order's status and events follow). 0 when none "
        "was left to cancel."
    )


@extend_schema_serializer(
    component_name="HeartbeatRequest",
    examples=[OpenApiExample("Cancel everything after 30 s of silence", value={"cancel_after_seconds": 30})],
)
class HeartbeatInputSerializer(ClosedSerializer):
    cancel_after_seconds = serializers.IntegerField(
        help_text="Cancel all your live orders if no heartbeat arrives within this many seconds (5 to "
        "86400 by default); 0 disarms the switch."
    )

    def validate(self, attrs: dict) -> dict:
        return _refuse_unknown_fields(self, attrs)


@extend_schema_serializer(component_name="Heartbeat")
class HeartbeatOutputSerializer(serializers.Serializer):
    armed = serializers.BooleanField(help_text="Whether the switch will cancel your orders at the deadline.")
    cancel_after_seconds = serializers.IntegerField()
    deadline = serializers.DateTimeField(
        allow_null=True, help_text="When your live orders are cancelled unless another heartbeat arrives."
    )
    last_heartbeat_at = serializers.DateTimeField(allow_null=True)
    fired_at = serializers.DateTimeField(
        allow_null=True, help_text="The last time the switch fired and cancelled your orders."
    )
