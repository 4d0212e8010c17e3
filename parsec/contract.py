"""What Parsec accepts on order creation and fee escrow, shared by our API validation and the simulator.

One module on purpose (over 400 lines): our intake and the simulator must read the very same rules, and
the rules refer to each other (statuses, exchanges, order types, the PullFee typed data, balances); split
up, a change to one could miss its twin.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Rounded,
)
from enum import StrEnum
from typing import Any, ClassVar, Final

import coincurve
from eth_hash.auto import keccak
from eth_keys.backends import get_backend
from eth_utils import is_checksum_address as _eth_is_checksum_address
from eth_utils import to_checksum_address as _eth_to_checksum_address

__all__ = [
    "BALANCE_EXCHANGES",
    "EXCHANGES",
    "FEE_ESCROW_EXCHANGES",
    "FINAL_STATUSES",
    "MAX_DECIMAL_PLACES",
    "MAX_MARKET_ID_LENGTH",
    "MAX_SIZE",
    "MIN_GTD_LEAD_SECONDS",
    "ORDERBOOK_DEFAULT_DEPTH",
    "ORDERBOOK_MAX_DEPTH",
    "ORDER_SIDES",
    "ORDER_TYPES",
    "ORDER_TYPE_SUPPORT",
    "PULL_FEE_DOMAIN_NAME",
    "PULL_FEE_DOMAIN_TYPES",
    "PULL_FEE_DOMAIN_VERSION",
    "PULL_FEE_PRIMARY_TYPE",
    "PULL_FEE_TYPES",
    "BadRequest",
    "ContractError",
    "ErrorCode",
    "ExchangeNotFound",
    "FeeAuth",
    "MissingParameter",
    "NotSupported",
    "OrderRequest",
    "OrderStatus",
    "SignatureError",
    "SignatureErrorCode",
    "balance_base_units_from_raw",
    "balance_raw_for",
    "ecc_backend_name",
    "fee_amount_for",
    "is_checksum_address",
    "normalize_signature",
    "pull_fee_digest",
    "pull_fee_typed_data",
    "recover_pull_fee_signer",
    "to_checksum",
    "usdc_base_units_earned",
    "usdc_base_units_owed",
    "validate_create_order",
    "validate_order_for_market",
]

# --------------------------------------------------------------------------------------------------
# Exchanges, order types, statuses
# --------------------------------------------------------------------------------------------------

EXCHANGES: Final[tuple[str, ...]] = ("polymarket", "kalshi", "limitless", "opinion", "predictfun")
EXCHANGE_NAMES: Final[dict[str, str]] = {  # how each exchange spells its own name, for people
    "polymarket": "Polymarket",
    "kalshi": "Kalshi",
    "limitless": "Limitless",
    "opinion": "Opinion",
    "predictfun": "Predict.fun",
}
ORDER_TYPES: Final[tuple[str, ...]] = ("gtc", "ioc", "fok", "gtd")

# Keyed by order type, so "is this type allowed here" is one lookup; a known type missing for an
# exchange is a 501 (Parsec's answer), an unknown type is a 400.
ORDER_TYPE_SUPPORT: Final[dict[str, frozenset[str]]] = {
    "gtc": frozenset(EXCHANGES),
    "ioc": frozenset({"polymarket", "kalshi"}),
    "fok": frozenset({"polymarket"}),
    "gtd": frozenset({"polymarket"}),
}

FEE_ESCROW_EXCHANGES: Final[frozenset[str]] = frozenset({"polymarket"})
MIN_GTD_LEAD_SECONDS: Final[int] = 60

MAX_MARKET_ID_LENGTH: Final[int] = 256
# Parsec names no precision or magnitude limits. These bounds are ours: they keep every price and
# size an exact, small Decimal, so fee arithmetic stays exact and a body such as "size": 1e999999999
# cannot make us build a billion-digit integer.
MAX_DECIMAL_PLACES: Final[int] = 18
MAX_SIZE: Final[Decimal] = Decimal(10) ** 15

# Expirations are stored in signed 64-bit columns; escrow integers are Solidity uint256.
_MAX_INT64: Final[int] = 2**63 - 1
_MAX_UINT256: Final[int] = 2**256 - 1


class OrderStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# Parsec has no "expired": an expired GTD or an unfilled IOC is reported as cancelled.
FINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
)


class ErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    EXCHANGE_NOT_FOUND = "exchange_not_found"
    CREDENTIALS_REQUIRED = "credentials_required"
    AUTHENTICATION_FAILED = "authentication_failed"
    MISSING_PARAMETER = "missing_parameter"
    MARKET_NOT_FOUND = "market_not_found"
    ORDER_NOT_FOUND = "order_not_found"
    BAD_REQUEST = "bad_request"
    INTERNAL_ERROR = "internal_error"
    NOT_SUPPORTED = "not_supported"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    MONTHLY_LIMIT_EXCEEDED = "monthly_limit_exceeded"
    SERVICE_UNAVAILABLE = "service_unavailable"
    NOT_FOUND = "not_found"


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class ContractError(Exception):
    """A request Parsec would refuse; carries the HTTP status and the code Parsec would answer."""

    status: int = 400
    code: str = ErrorCode.BAD_REQUEST
    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, field: str | None = None, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.field: str | None = field
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by Exception's default pickling, and Celery pickles errors.
        return (_rebuild_error, (type(self), self.message, self.field, self.status, self.code))

    def to_json(self) -> dict[str, Any]:
        """Parsec's error body."""
        return {"error": self.message, "code": str(self.code), "retryable": self.retryable}


def _rebuild_error(
    cls: type[ContractError], message: str, field: str | None, status: int, code: str
) -> ContractError:
    error = cls.__new__(cls)
    ContractError.__init__(error, message, field=field, status=status, code=code)
    return error


class BadRequest(ContractError):
    status = 400
    code = ErrorCode.BAD_REQUEST


class MissingParameter(ContractError):
    status = 400
    code = ErrorCode.MISSING_PARAMETER


class NotSupported(ContractError):
    status = 501
    code = ErrorCode.NOT_SUPPORTED


class ExchangeNotFound(ContractError):
    # PARSEC.md lists the code exchange_not_found and a 404 status but never pairs them. We answer 404:
    # the exchange query parameter names a resource that does not exist, the same shape as
    # market_not_found / order_not_found, and a 400 would suggest the body was at fault.
    status = 404
    code = ErrorCode.EXCHANGE_NOT_FOUND


class SignatureErrorCode(StrEnum):
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_INVALID = "signature_invalid"
    TYPED_DATA_INVALID = "typed_data_invalid"


class SignatureError(ContractError):
    """A fee authorization signature or its typed data that the escrow would not honour."""

    status = 400
    code = SignatureErrorCode.SIGNATURE_INVALID


# --------------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------------

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_BYTES32_HEX = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE_HEX = re.compile(r"0x[0-9a-fA-F]{130}")
# re.ASCII matters: str.isdigit() and \d would accept Arabic-Indic or superscript digits.
_DECIMAL_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def is_checksum_address(value: object) -> bool:
    """True for a 0x-prefixed, EIP-55 checksummed address."""
    return (
        isinstance(value, str)
        and _HEX_ADDRESS.fullmatch(value) is not None
        and _eth_is_checksum_address(value)
    )


def to_checksum(value: str) -> str:
    """The EIP-55 form of a 0x-prefixed hex address; ValueError for anything else."""
    if not isinstance(value, str) or _HEX_ADDRESS.fullmatch(value) is None:
        raise ValueError("expected a 0x-prefixed 20-byte hex address")
    return str(_eth_to_checksum_address(value))


def _has_no_checksum(address: str) -> bool:
    hex_part = address[2:]
    return hex_part == hex_part.lower() or hex_part == hex_part.upper()


def _checked_address(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field_name} must be a string holding a 0x-prefixed address", field=field_name)
    if _HEX_ADDRESS.fullmatch(value) is None:
        raise BadRequest(f"{field_name} must be a 0x-prefixed address of 40 hex digits", field=field_name)
    if not _eth_is_checksum_address(value):
        if _has_no_checksum(value):
            raise BadRequest(
                f"{field_name} must be EIP-55 checksummed, not single-case; send {to_checksum(value)}",
                field=field_name,
            )
        # No suggested correction here: a wrong checksum most likely means a mistyped address, and
        # re-checksumming it would turn the typo into a valid-looking address for someone else.
        raise BadRequest(
            f"{field_name} fails its EIP-55 checksum; the address is probably mistyped", field=field_name
        )
    return value


# --------------------------------------------------------------------------------------------------
# Order request
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeAuth:
    order_id: str  # escrow orderId: "0x" + 64 lowercase hex, chosen by the builder, usable once
    payer: str  # checksummed
    fee_amount: int  # USDC base units (6 decimals)
    deadline: int  # unix seconds
    signature: str = field(repr=False)  # "0x" + 130 lowercase hex, v normalised to 27/28

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "payer": self.payer,
            # A string, as Parsec's docs show: uint256 amounts outgrow JSON numbers in many parsers.
            "fee_amount": str(self.fee_amount),
            "deadline": self.deadline,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class OrderRequest:
    exchange: str
    market_id: str
    outcome: str
    side: str
    price: Decimal
    size: Decimal
    order_type: str = "gtc"
    expiration: int | None = None  # unix seconds, gtd only
    fee_auth: FeeAuth | None = None
    payer_address: str | None = None
    signer_address: str | None = None
    affiliate: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Parsec's request body; the exchange travels as the query parameter, not in the body."""
        params: dict[str, str] = {"order_type": self.order_type}
        if self.expiration is not None:
            params["expiration"] = str(self.expiration)
        body: dict[str, Any] = {
            "market_id": self.market_id,
            "outcome": self.outcome,
            "side": self.side,
            # Decimals, not floats: the caller's encoder must write them digit for digit.
            "price": self.price,
            "size": self.size,
            "params": params,
        }
        if self.fee_auth is not None:
            body["fee_auth"] = self.fee_auth.to_json()
        for name in ("payer_address", "signer_address", "affiliate"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


_REQUIRED_FIELDS: Final[tuple[str, ...]] = ("market_id", "outcome", "side", "price", "size")
_BUILDER_ADDRESS_FIELDS: Final[tuple[str, ...]] = ("payer_address", "signer_address", "affiliate")
_ALLOWED_FIELDS: Final[frozenset[str]] = frozenset(
    {*_REQUIRED_FIELDS, "params", "fee_auth", *_BUILDER_ADDRESS_FIELDS}
)
_PARAMS_KEYS: Final[frozenset[str]] = frozenset({"order_type", "expiration"})
_FEE_AUTH_KEYS: Final[tuple[str, ...]] = ("order_id", "payer", "fee_amount", "deadline", "signature")
_SIDES: Final[tuple[str, ...]] = ("buy", "sell")


def _describe_keys(keys: list[object]) -> str:
    return ", ".join(sorted(repr(key) if not isinstance(key, str) else key for key in keys))


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _checked_text(body: Mapping[str, Any], field_name: str, *, max_length: int | None = None) -> str:
    value = body[field_name]
    if not isinstance(value, str):
        raise BadRequest(f"{field_name} must be a string, not {_json_type_name(value)}", field=field_name)
    if not value.strip():
        raise BadRequest(f"{field_name} must not be empty", field=field_name)
    if max_length is not None and len(value) > max_length:
        raise BadRequest(f"{field_name} must be at most {max_length} characters long", field=field_name)
    return value


def _decimal_places(value: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped (0.650 has two)."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or not any(digits):
        return 0
    trailing_zeros = len(digits) - len(bytes(digits).rstrip(b"\x00"))
    return max(0, -(exponent + trailing_zeros))


def _checked_number(value: object, field_name: str) -> Decimal:
    # bool is an int subclass; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise BadRequest(
            f"{field_name} must be a JSON number, not {_json_type_name(value)}", field=field_name
        )
    if isinstance(value, float):
        # str() gives the shortest repr that round-trips, i.e. what the JSON text most likely said.
        number = Decimal(str(value))
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        number = value
    if not number.is_finite():
        raise BadRequest(f"{field_name} must be a finite number", field=field_name)
    if _decimal_places(number) > MAX_DECIMAL_PLACES:
        raise BadRequest(
            f"{field_name} must have at most {MAX_DECIMAL_PLACES} digits after the decimal point",
            field=field_name,
        )
    return number


def _parse_unsigned(value: object, *, maximum: int) -> int | None:
    """An int (not bool) or a string of ASCII digits within [0, maximum]; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        # The length guard keeps int() away from huge strings; 78 digits hold any uint256.
        if len(value) > 78 or _DECIMAL_DIGITS.fullmatch(value) is None:
            return None
        number = int(value)
    else:
        return None
    if number < 0 or number > maximum:
        return None
    return number


def _checked_params(exchange: str, params: object, now: int) -> tuple[str, int | None]:
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise BadRequest(f"params must be an object, not {_json_type_name(params)}", field="params")
    unknown = [key for key in params if key not in _PARAMS_KEYS]
    if unknown:
        raise BadRequest(
            f"params has unknown keys: {_describe_keys(unknown)}; allowed are order_type and expiration",
            field=f"params.{unknown[0]}",
        )

    order_type = params.get("order_type", "gtc")
    if not isinstance(order_type, str):
        raise BadRequest(
            f"params.order_type must be a string, not {_json_type_name(order_type)}",
            field="params.order_type",
        )
    if order_type not in ORDER_TYPES:
        raise BadRequest(
            f"params.order_type must be one of {', '.join(ORDER_TYPES)}", field="params.order_type"
        )
    if exchange not in ORDER_TYPE_SUPPORT[order_type]:
        supported_on = ", ".join(name for name in EXCHANGES if name in ORDER_TYPE_SUPPORT[order_type])
        raise NotSupported(
            f"order_type {order_type} is not supported on {exchange}; it is available on {supported_on}",
            field="params.order_type",
        )

    raw_expiration = params.get("expiration")
    if order_type != "gtd":
        if raw_expiration is not None:
            raise BadRequest(
                "params.expiration applies only to order_type gtd; remove it or set order_type to gtd",
                field="params.expiration",
            )
        return order_type, None
    if raw_expiration is None:
        raise MissingParameter(
            "params.expiration is required for a gtd order (unix seconds)", field="params.expiration"
        )
    expiration = _parse_unsigned(raw_expiration, maximum=_MAX_INT64)
    if expiration is None:
        raise BadRequest(
            "params.expiration must be a whole number of unix seconds, as a string of digits",
            field="params.expiration",
        )
    earliest = now + MIN_GTD_LEAD_SECONDS
    if expiration < earliest:
        raise BadRequest(
            f"params.expiration must be at least {MIN_GTD_LEAD_SECONDS} seconds in the future "
            f"(no earlier than {earliest})",
            field="params.expiration",
        )
    return order_type, expiration


def _checked_fee_auth(raw: object, exchange: str) -> FeeAuth:
    if exchange not in FEE_ESCROW_EXCHANGES:
        raise BadRequest(
            f"fee_auth is not accepted on {exchange}; fee escrow exists only on "
            f"{', '.join(sorted(FEE_ESCROW_EXCHANGES))}",
            field="fee_auth",
        )
    if not isinstance(raw, Mapping):
        raise BadRequest(f"fee_auth must be an object, not {_json_type_name(raw)}", field="fee_auth")
    unknown = [key for key in raw if key not in _FEE_AUTH_KEYS]
    if unknown:
        raise BadRequest(
            f"fee_auth has unknown keys: {_describe_keys(unknown)}; allowed are {', '.join(_FEE_AUTH_KEYS)}",
            field=f"fee_auth.{unknown[0]}",
        )
    for key in _FEE_AUTH_KEYS:
        if raw.get(key) is None:
            raise MissingParameter(f"fee_auth.{key} is required", field=f"fee_auth.{key}")

    order_id = raw["order_id"]
    if not isinstance(order_id, str) or _BYTES32_HEX.fullmatch(order_id) is None:
        raise BadRequest(
            "fee_auth.order_id must be 0x followed by 64 hex digits (32 bytes)", field="fee_auth.order_id"
        )
    payer = _checked_address(raw["payer"], "fee_auth.payer")
    fee_amount = _parse_unsigned(raw["fee_amount"], maximum=_MAX_UINT256)
    if fee_amount is None:
        raise BadRequest(
            "fee_auth.fee_amount must be a non-negative whole number of USDC base units, as a string of "
            'digits such as "137500"',
            field="fee_auth.fee_amount",
        )
    deadline = _parse_unsigned(raw["deadline"], maximum=_MAX_UINT256)
    if deadline is None:
        raise BadRequest(
            "fee_auth.deadline must be a whole number of unix seconds", field="fee_auth.deadline"
        )
    signature = raw["signature"]
    if not isinstance(signature, str) or _SIGNATURE_HEX.fullmatch(signature) is None:
        raise BadRequest(
            "fee_auth.signature must be 0x followed by 130 hex digits (65 bytes: r, s, v)",
            field="fee_auth.signature",
        )
    return FeeAuth(
        # Lowercase so that one escrow order id has one spelling wherever it is stored and deduplicated.
        order_id=order_id.lower(),
        payer=payer,
        fee_amount=fee_amount,
        deadline=deadline,
        signature=normalize_signature(signature),
    )


def validate_create_order(exchange: str, body: Mapping[str, Any], *, now: int) -> OrderRequest:
    """Check a create-order request as Parsec would; raise ContractError or return the typed request.

    ``body`` is the decoded JSON object, ideally parsed with ``parse_float=Decimal``. A JSON null is
    treated as an absent field. ``now`` is the current unix time in seconds.
    """
    if not exchange:
        raise MissingParameter("the exchange query parameter is required", field="exchange")
    if exchange not in EXCHANGES:
        raise ExchangeNotFound(
            f"exchange {exchange!r} is not known; use one of {', '.join(EXCHANGES)}", field="exchange"
        )
    if not isinstance(body, Mapping):
        raise BadRequest(f"the request body must be a JSON object, not {_json_type_name(body)}")

    unknown = [key for key in body if key not in _ALLOWED_FIELDS]
    if unknown:
        raise BadRequest(
            f"the request body has unknown fields: {_describe_keys(unknown)}",
            field=unknown[0] if isinstance(unknown[0], str) else None,
        )
    for name in _REQUIRED_FIELDS:
        if body.get(name) is None:
            raise MissingParameter(f"{name} is required", field=name)

    market_id = _checked_text(body, "market_id", max_length=MAX_MARKET_ID_LENGTH)
    outcome = _checked_text(body, "outcome")
    side = body["side"]
    if side not in _SIDES:
        raise BadRequest('side must be "buy" or "sell"', field="side")

    price = _checked_number(body["price"], "price")
    if not Decimal(0) < price < Decimal(1):
        raise BadRequest("price must be strictly between 0 and 1", field="price")
    size = _checked_number(body["size"], "size")
    if not size > 0:
        raise BadRequest("size must be greater than 0", field="size")
    if size >= MAX_SIZE:
        raise BadRequest(f"size must be below {MAX_SIZE:,.0f}", field="size")

    order_type, expiration = _checked_params(exchange, body.get("params"), now)

    addresses: dict[str, str | None] = {}
    for name in _BUILDER_ADDRESS_FIELDS:
        raw_address = body.get(name)
        addresses[name] = None if raw_address is None else _checked_address(raw_address, name)

    fee_auth: FeeAuth | None = None
    raw_fee_auth = body.get("fee_auth")
    if raw_fee_auth is not None:
        fee_auth = _checked_fee_auth(raw_fee_auth, exchange)
        if addresses["payer_address"] is None:
            raise MissingParameter(
                "payer_address is required with fee_auth and must equal fee_auth.payer", field="payer_address"
            )
        if addresses["payer_address"] != fee_auth.payer:
            raise BadRequest("payer_address must equal fee_auth.payer", field="payer_address")
        if addresses["signer_address"] is None:
            raise MissingParameter(
                "signer_address is required with fee_auth: the address whose wallet signed it",
                field="signer_address",
            )

    return OrderRequest(
        exchange=exchange,
        market_id=market_id,
        outcome=outcome,
        side=side,
        price=price,
        size=size,
        order_type=order_type,
        expiration=expiration,
        fee_auth=fee_auth,
        payer_address=addresses["payer_address"],
        signer_address=addresses["signer_address"],
        affiliate=addresses["affiliate"],
    )


# --------------------------------------------------------------------------------------------------
# An order against its market
# --------------------------------------------------------------------------------------------------

# Kalshi trades whole contracts only; Polymarket shares are fractional.
WHOLE_CONTRACT_EXCHANGES: Final[frozenset[str]] = frozenset({"kalshi"})


def validate_order_for_market(
    *,
    exchange: str,
    outcome: str,
    price: Decimal,
    size: Decimal,
    outcomes: tuple[str, ...] | list[str],
    tick_size: Decimal | None,
    min_order_size: Decimal | None,
) -> None:
    """The market's own rules, applied by Parsec once it knows the market; BadRequest names the field.

    Outcome names are compared exactly, as the exchange does ("yes" is not "Yes"). A tick or minimum the
    market does not publish (None) is not checked.
    """
    if outcome not in outcomes:
        raise BadRequest(
            f"outcome must be one of {', '.join(outcomes)} for this market (names are case-sensitive)",
            field="outcome",
        )
    if tick_size is not None and tick_size > 0 and price % tick_size != 0:
        raise BadRequest(
            f"price must be a multiple of this market's tick size {format(tick_size.normalize(), 'f')}",
            field="price",
        )
    if exchange in WHOLE_CONTRACT_EXCHANGES and size != size.to_integral_value():
        raise BadRequest(f"size must be a whole number of contracts on {exchange}", field="size")
    if min_order_size is not None and size < min_order_size:
        raise BadRequest(
            f"size must be at least this market's minimum order size "
            f"{format(min_order_size.normalize(), 'f')}",
            field="size",
        )


# --------------------------------------------------------------------------------------------------
# Fee amount
# --------------------------------------------------------------------------------------------------

_USDC_BASE_UNITS: Final[int] = 10**6
_BPS_DENOMINATOR: Final[int] = 10_000
# Ample for MAX_DECIMAL_PLACES-digit prices times sizes below MAX_SIZE; if an operand ever outgrows it,
# the Inexact/Rounded traps turn silent rounding into an error instead of a wrong fee.
_FEE_CONTEXT: Final[Context] = Context(
    prec=200, rounding=ROUND_CEILING, traps=[Inexact, Rounded, InvalidOperation], Emax=10**6, Emin=-(10**6)
)
_MAX_FEE_DIGITS: Final[int] = 78


def fee_amount_for(*, price: Decimal, size: Decimal, fee_bps: int, min_fee_usdc: int) -> int:
    """The escrow fee in USDC base units: ceil(price * size * fee_bps / 10000 * 10**6), at least the minimum.

    A zero fee_bps gives 0 with no minimum: such an order carries the fee_auth for attribution only.
    """
    for name, operand in (("price", price), ("size", size)):
        if not isinstance(operand, Decimal | int) or isinstance(operand, bool):
            raise TypeError(f"{name} must be a Decimal or an int, not {type(operand).__name__}")
        if not Decimal(operand).is_finite() or operand < 0:
            raise ValueError(f"{name} must be a finite, non-negative number")
    for name, integer in (("fee_bps", fee_bps), ("min_fee_usdc", min_fee_usdc)):
        if not isinstance(integer, int) or isinstance(integer, bool):
            raise TypeError(f"{name} must be an int, not {type(integer).__name__}")
        if integer < 0:
            raise ValueError(f"{name} must not be negative")
    if fee_bps == 0:
        return 0
    try:
        notional = _FEE_CONTEXT.multiply(Decimal(price), Decimal(size))
        exact = _FEE_CONTEXT.divide(
            _FEE_CONTEXT.multiply(notional, Decimal(fee_bps * _USDC_BASE_UNITS)), Decimal(_BPS_DENOMINATOR)
        )
        if exact.adjusted() >= _MAX_FEE_DIGITS:
            raise ValueError("the fee is too large to express in uint256 base units")
        fee = int(exact.to_integral_value(rounding=ROUND_CEILING, context=_FEE_CONTEXT))
    except DecimalException as error:
        raise ValueError("price and size are too precise to compute the fee exactly") from error
    return max(fee, min_fee_usdc)


# --------------------------------------------------------------------------------------------------
# EIP-712 PullFee
# --------------------------------------------------------------------------------------------------

PULL_FEE_DOMAIN_NAME: Final[str] = "ParsecFeeEscrow"
PULL_FEE_DOMAIN_VERSION: Final[str] = "1"
PULL_FEE_PRIMARY_TYPE: Final[str] = "PullFee"
PULL_FEE_TYPES: Final[tuple[dict[str, str], ...]] = (
    {"name": "orderId", "type": "bytes32"},
    {"name": "payer", "type": "address"},
    {"name": "feeAmount", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
)
PULL_FEE_DOMAIN_TYPES: Final[tuple[dict[str, str], ...]] = (
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
)

_TYPED_DATA_KEYS: Final[frozenset[str]] = frozenset({"types", "primaryType", "domain", "message"})
_DOMAIN_KEYS: Final[frozenset[str]] = frozenset(entry["name"] for entry in PULL_FEE_DOMAIN_TYPES)
_MESSAGE_KEYS: Final[frozenset[str]] = frozenset(entry["name"] for entry in PULL_FEE_TYPES)
_EXPECTED_TYPES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "EIP712Domain": tuple((entry["name"], entry["type"]) for entry in PULL_FEE_DOMAIN_TYPES),
    PULL_FEE_PRIMARY_TYPE: tuple((entry["name"], entry["type"]) for entry in PULL_FEE_TYPES),
}


def _encode_type(type_name: str, fields: tuple[tuple[str, str], ...]) -> bytes:
    return f"{type_name}({','.join(f'{kind} {name}' for name, kind in fields)})".encode()


_DOMAIN_TYPEHASH: Final[bytes] = keccak(_encode_type("EIP712Domain", _EXPECTED_TYPES["EIP712Domain"]))
_PULL_FEE_TYPEHASH: Final[bytes] = keccak(_encode_type(PULL_FEE_PRIMARY_TYPE, _EXPECTED_TYPES["PullFee"]))
_DOMAIN_NAME_HASH: Final[bytes] = keccak(PULL_FEE_DOMAIN_NAME.encode())
_DOMAIN_VERSION_HASH: Final[bytes] = keccak(PULL_FEE_DOMAIN_VERSION.encode())

# secp256k1 group order. Signatures with s above n/2 are the malleable twins that OpenZeppelin's
# ECDSA (and so, we assume, the escrow) refuses even though ecrecover accepts them.
_SECP256K1_N: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP256K1_HALF_N: Final[int] = _SECP256K1_N // 2


def pull_fee_typed_data(
    *, chain_id: int, verifying_contract: str, order_id: str, payer: str, fee_amount: int, deadline: int
) -> dict[str, Any]:
    """The PullFee message in eth_signTypedData_v4 form, ready for the customer's wallet."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise ValueError("chain_id must be a positive int")
    if not isinstance(order_id, str) or _BYTES32_HEX.fullmatch(order_id) is None:
        raise ValueError("order_id must be 0x followed by 64 hex digits")
    for name, integer in (("fee_amount", fee_amount), ("deadline", deadline)):
        if _parse_unsigned(integer, maximum=_MAX_UINT256) is None or not isinstance(integer, int):
            raise ValueError(f"{name} must be a non-negative int within uint256")
    return {
        "types": {
            "EIP712Domain": [dict(entry) for entry in PULL_FEE_DOMAIN_TYPES],
            PULL_FEE_PRIMARY_TYPE: [dict(entry) for entry in PULL_FEE_TYPES],
        },
        "primaryType": PULL_FEE_PRIMARY_TYPE,
        "domain": {
            "name": PULL_FEE_DOMAIN_NAME,
            "version": PULL_FEE_DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum(verifying_contract),
        },
        "message": {
            "orderId": order_id.lower(),
            "payer": to_checksum(payer),
            # Strings, because wallets and JavaScript lose precision on uint256 values given as numbers.
            "feeAmount": str(fee_amount),
            "deadline": str(deadline),
        },
    }


def _typed_data_error(message: str, field_name: str) -> SignatureError:
    return SignatureError(message, field=field_name, code=SignatureErrorCode.TYPED_DATA_INVALID)


def _checked_type_list(entries: object, type_name: str) -> None:
    expected = _EXPECTED_TYPES[type_name]
    if not isinstance(entries, list | tuple) or len(entries) != len(expected):
        raise _typed_data_error(f"types.{type_name} must list exactly {len(expected)} fields", "types")
    for entry, (name, kind) in zip(entries, expected, strict=True):
        if (
            not isinstance(entry, Mapping)
            or len(entry) != 2
            or entry.get("name") != name
            or entry.get("type") != kind
        ):
            raise _typed_data_error(
                f"types.{type_name} must be exactly "
                f"{', '.join(f'{kind} {name}' for name, kind in expected)}, in that order",
                "types",
            )


def _checked_pull_fee(typed_data: object) -> tuple[int, bytes, bytes, bytes, int, int]:
    """Strictly validated (chainId, verifyingContract, orderId, payer, feeAmount, deadline).

    eth-account's encoder would silently ignore extra fields and coerce loose values; here anything
    but the one exact PullFee shape is refused, so a digest always means exactly what was checked.
    """
    if not isinstance(typed_data, Mapping) or typed_data.keys() != _TYPED_DATA_KEYS:
        raise _typed_data_error(
            "typed data must be an object with exactly types, primaryType, domain and message", "typed_data"
        )
    if typed_data["primaryType"] != PULL_FEE_PRIMARY_TYPE:
        raise _typed_data_error("primaryType must be PullFee", "primaryType")

    types = typed_data["types"]
    if not isinstance(types, Mapping) or types.keys() != _EXPECTED_TYPES.keys():
        raise _typed_data_error("types must define exactly EIP712Domain and PullFee", "types")
    _checked_type_list(types["EIP712Domain"], "EIP712Domain")
    _checked_type_list(types[PULL_FEE_PRIMARY_TYPE], PULL_FEE_PRIMARY_TYPE)

    domain = typed_data["domain"]
    if not isinstance(domain, Mapping) or domain.keys() != _DOMAIN_KEYS:
        raise _typed_data_error(
            "domain must have exactly name, version, chainId and verifyingContract", "domain"
        )
    if domain["name"] != PULL_FEE_DOMAIN_NAME:
        raise _typed_data_error(f"domain.name must be {PULL_FEE_DOMAIN_NAME}", "domain.name")
    if domain["version"] != PULL_FEE_DOMAIN_VERSION:
        raise _typed_data_error(
            f'domain.version must be the string "{PULL_FEE_DOMAIN_VERSION}"', "domain.version"
        )
    chain_id = _parse_unsigned(domain["chainId"], maximum=_MAX_UINT256)
    if chain_id is None:
        raise _typed_data_error("domain.chainId must be a non-negative integer", "domain.chainId")
    # Addresses here are checked for shape only: letter case is not part of the signed bytes, and the
    # caller compares contract, payer and signer against known addresses anyway.
    contract = domain["verifyingContract"]
    if not isinstance(contract, str) or _HEX_ADDRESS.fullmatch(contract) is None:
        raise _typed_data_error("domain.verifyingContract must be an address", "domain.verifyingContract")

    message = typed_data["message"]
    if not isinstance(message, Mapping) or message.keys() != _MESSAGE_KEYS:
        raise _typed_data_error("message must have exactly orderId, payer, feeAmount and deadline", "message")
    order_id = message["orderId"]
    if not isinstance(order_id, str) or _BYTES32_HEX.fullmatch(order_id) is None:
        raise _typed_data_error("message.orderId must be 0x followed by 64 hex digits", "message.orderId")
    payer = message["payer"]
    if not isinstance(payer, str) or _HEX_ADDRESS.fullmatch(payer) is None:
        raise _typed_data_error("message.payer must be an address", "message.payer")
    fee_amount = _parse_unsigned(message["feeAmount"], maximum=_MAX_UINT256)
    if fee_amount is None:
        raise _typed_data_error(
            "message.feeAmount must be a non-negative integer, as an int or a string of digits",
            "message.feeAmount",
        )
    deadline = _parse_unsigned(message["deadline"], maximum=_MAX_UINT256)
    if deadline is None:
        raise _typed_data_error(
            "message.deadline must be a non-negative integer, as an int or a string of digits",
            "message.deadline",
        )
    return (
        chain_id,
        bytes.fromhex(contract[2:]),
        bytes.fromhex(order_id[2:]),
        bytes.fromhex(payer[2:]),
        fee_amount,
        deadline,
    )


@functools.lru_cache(maxsize=64)
def _domain_separator(chain_id: int, contract: bytes) -> bytes:
    # One escrow per chain in practice, so caching removes a hash from every verification.
    return keccak(
        _DOMAIN_TYPEHASH
        + _DOMAIN_NAME_HASH
        + _DOMAIN_VERSION_HASH
        + chain_id.to_bytes(32, "big")
        + contract.rjust(32, b"\x00")
    )


def _digest(
    chain_id: int, contract: bytes, order_id: bytes, payer: bytes, fee_amount: int, deadline: int
) -> bytes:
    struct_hash = keccak(
        _PULL_FEE_TYPEHASH
        + order_id
        + payer.rjust(32, b"\x00")
        + fee_amount.to_bytes(32, "big")
        + deadline.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + _domain_separator(chain_id, contract) + struct_hash)


def pull_fee_digest(typed_data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest a PullFee signature signs; a stable key to deduplicate authorizations.

    Raises SignatureError (typed_data_invalid) unless the typed data is exactly a PullFee message.
    """
    return _digest(*_checked_pull_fee(typed_data))


def normalize_signature(signature: str) -> str:
    """Lowercase hex with v as 27/28, the only form Solidity's ecrecover accepts.

    Anything not shaped like a 65-byte hex signature is returned unchanged for the verifier to refuse.
    """
    if not isinstance(signature, str) or _SIGNATURE_HEX.fullmatch(signature) is None:
        return signature
    signature = signature.lower()
    v_hex = signature[130:]
    if v_hex in ("00", "01"):
        return signature[:130] + format(int(v_hex, 16) + 27, "02x")
    return signature


def recover_pull_fee_signer(
    *, typed_data: Mapping[str, Any], signature: str, chain_id: int, verifying_contract: str
) -> str:
    """The checksummed address that signed this PullFee for the escrow at verifying_contract on chain_id.

    Stricter than eth-account: refuses malleable high-s twins, r or s out of range, and any typed data
    that is not exactly the PullFee shape for this domain. Raises SignatureError.
    """
    if not isinstance(signature, str) or _SIGNATURE_HEX.fullmatch(signature) is None:
        raise SignatureError(
            "signature must be 0x followed by 130 hex digits (65 bytes: r, s, v)",
            field="signature",
            code=SignatureErrorCode.SIGNATURE_MALFORMED,
        )
    r = int(signature[2:66], 16)
    s = int(signature[66:130], 16)
    v = int(signature[130:132], 16)
    # v of 0/1 is accepted as 27/28: Ledger and some signing libraries return the bare recovery id,
    # and it names the same signer. normalize_signature() rewrites it before the signature is sent,
    # since the escrow's ecrecover would read 0/1 as invalid.
    if v < 27:
        v += 27
    if v not in (27, 28) or not 0 < r < _SECP256K1_N or not 0 < s <= _SECP256K1_HALF_N:
        raise SignatureError(
            "signature is not a valid canonical secp256k1 signature (v must be 27 or 28, r in range, "
            "s in the lower half of the curve order)",
            field="signature",
            code=SignatureErrorCode.SIGNATURE_INVALID,
        )

    fields = _checked_pull_fee(typed_data)
    if fields[0] != chain_id:
        raise _typed_data_error(f"domain.chainId must be {chain_id}", "domain.chainId")
    if not isinstance(verifying_contract, str) or _HEX_ADDRESS.fullmatch(verifying_contract) is None:
        raise ValueError("verifying_contract must be a 0x-prefixed hex address")
    if fields[1] != bytes.fromhex(verifying_contract[2:]):
        raise _typed_data_error(
            f"domain.verifyingContract must be the fee escrow {to_checksum(verifying_contract)}",
            "domain.verifyingContract",
        )

    digest = _digest(*fields)
    # coincurve directly rather than through eth_keys (which would pick the same library): the range
    # checks above already did eth_keys' validation, and skipping its object layers is what makes this
    # strict path faster than eth-account's lenient one.
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            bytes.fromhex(signature[2:130]) + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError as error:  # coincurve's answer when no point on the curve has this r
        raise SignatureError(
            "signature does not recover to any public key for this message",
            field="signature",
            code=SignatureErrorCode.SIGNATURE_INVALID,
        ) from error
    address = keccak(public_key.format(compressed=False)[1:])[-20:]
    return _checksum_from_bytes(address)


def _checksum_from_bytes(address: bytes) -> str:
    # EIP-55 by hand: eth_utils' version converts through several representations and showed up in
    # profiles of the verifier.
    hex_address = address.hex()
    address_hash = keccak(hex_address.encode()).hex()
    return "0x" + "".join(
        character.upper() if nibble in "89abcdef" else character
        for character, nibble in zip(hex_address, address_hash[:40], strict=True)
    )


def ecc_backend_name() -> str:
    """The secp256k1 backend eth-keys, and so eth-account, picked: CoinCurveECCBackend is the fast one."""
    return type(get_backend()).__name__


# --------------------------------------------------------------------------------------------------
# Account and market data: positions, balance, order book, execution price
# --------------------------------------------------------------------------------------------------
#
# GET /positions?exchange=X[&market_id=]       (impersonated) a bare array of
#     {market_id, outcome, size, average_price, current_price}; Parsec computes no P&L.
# GET /balance?exchange=X[&refresh=true]       (impersonated) {raw: {...}}, opaque per exchange (below).
# GET /orderbook?exchange=X&market_id=|parsec_id=&outcome=&depth=
#     {bids: [[price, size], ...] best first, asks: [...] best first, exchange, market_id, outcome,
#      tick_size?, min_order_size?, timestamp?}
# GET /execution-price?exchange=X&market_id=|parsec_id=&outcome=&side=&amount=
#     a dry run over the book: {filled_amount, fully_filled, levels_consumed, total_cost, avg_price?,
#      worst_price?, slippage?, fee_estimate?}; amount in contracts/shares, costs in USDC.

BALANCE_EXCHANGES: Final[frozenset[str]] = frozenset({"polymarket", "kalshi"})
ORDERBOOK_DEFAULT_DEPTH: Final[int] = 50
ORDERBOOK_MAX_DEPTH: Final[int] = 100
ORDER_SIDES: Final[tuple[str, ...]] = ("buy", "sell")
# Kalshi reports money in cents; one cent is 10,000 USDC base units.
_BASE_UNITS_PER_CENT: Final[int] = _USDC_BASE_UNITS // 100


def balance_raw_for(exchange: str, usdc_base_units: int) -> dict[str, Any]:
    """The `raw` object of GET /balance as each exchange writes it: Polymarket a micro-USDC string,
    Kalshi whole cents (rounded down: a fraction of a cent cannot be spent there)."""
    if exchange == "kalshi":
        return {"balance": usdc_base_units // _BASE_UNITS_PER_CENT, "payout": 0}
    return {"balance": str(usdc_base_units), "allowance": str(usdc_base_units)}


def balance_base_units_from_raw(exchange: str, raw: Mapping[str, Any]) -> int:
    """USDC base units from an exchange's `raw` balance; ValueError when it is not one we can read."""
    value = raw.get("balance")
    if isinstance(value, bool) or value is None:
        raise ValueError("the balance has no `balance` field")
    if isinstance(value, str):
        if _DECIMAL_DIGITS.fullmatch(value.lstrip("-")) is None or len(value) > 40:
            raise ValueError("the balance is not a whole number")
        amount = int(value)
    elif isinstance(value, int):
        amount = value
    else:
        raise ValueError("the balance is not a whole number")
    return amount * _BASE_UNITS_PER_CENT if exchange == "kalshi" else amount


def usdc_base_units_owed(amount: Decimal) -> int:
    """USDC owed for an exact amount, in base units rounded up: what a buyer pays, never less."""
    return int((Decimal(amount) * _USDC_BASE_UNITS).to_integral_value(rounding=ROUND_CEILING))


def usdc_base_units_earned(amount: Decimal) -> int:
    """USDC received for an exact amount, in base units rounded down: what a seller gets, never more."""
    return int((Decimal(amount) * _USDC_BASE_UNITS).to_integral_value(rounding=ROUND_FLOOR))
