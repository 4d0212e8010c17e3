"""A typed, synchronous HTTP client for the Parsec endpoints the platform uses.

Over 400 lines: one typed result and one method per Parsec endpoint, on one transport with one error
classification (rejected, unavailable, in doubt); they are read together when Parsec changes.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, Protocol

import httpx

from parsec.contract import balance_base_units_from_raw

__all__ = [
    "BuilderUser",
    "CallObservation",
    "CallObserver",
    "CallPriority",
    "EscrowConfig",
    "Exchange",
    "Fill",
    "Market",
    "MarketPage",
    "Onboarding",
    "Order",
    "ParsecClient",
    "ParsecError",
    "ParsecInDoubt",
    "ParsecRejected",
    "ParsecUnavailable",
    "RateLimiter",
    "decode_json",
    "encode_json",
]

logger = logging.getLogger(__name__)

CUSTOMER_HEADER = "X-Builder-Customer-Id"
# Waiting longer than this between read retries would only stall a worker; the caller's own retry
# policy (Celery countdown) takes over beyond it.
MAX_RETRY_WAIT_SECONDS = 2.0
RETRY_BACKOFF_SECONDS = 0.2


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------

# Parsec's messages are ours to show, but a message that echoes a request could carry a key, a
# signature or a credential. They are cut out by what they are, never by shape alone: a Polymarket
# market id, an escrow order id (both 0x + 64 hex) and an address are what a partner needs to read.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Values named as credentials: "X-API-Key: …", "api_key=…", "private_key": "…", "Authorization: …".
    (
        re.compile(
            r"""(?ix)
            ( (?:x-api-key|api[_-]?key|api[_-]?secret|authorization|private[_-]?key|secret|passphrase
                |password|access[_-]?token|token)
              ["']? \s* [:=] \s* ["']? )
            (?:(?:bearer|basic)\s+)?
            [^\s"',;}\]]+
            """
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*"), "[redacted]"),  # a bare auth value
    # API keys: Parsec's (pk_live_…, pk_sim_…) and the platform's own (bp_…).
    (re.compile(r"\b(?:pk|sk|bp)_[A-Za-z0-9_\-]{6,}"), "[redacted]"),
    # Signatures: 65 bytes (0x + 130 hex) or longer; a 64-byte compact one (128 hex) too. Nothing the
    # platform shows a partner is that long.
    (re.compile(r"0x[0-9a-fA-F]{128,}"), "[redacted]"),
)


def _scrub(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text[:500]


class ParsecError(Exception):
    """Base of every client error; its text never contains keys, signatures or request bodies."""

    def __init__(self, message: str) -> None:
        self.message = _scrub(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ParsecRejected(ParsecError):
    """Parsec refused the request (4xx other than 429, or 501): final, sending it again will not help."""

    def __init__(self, *, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        return f"Parsec rejected the request ({self.status} {self.code}): {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), {"status": self.status, "code": self.code, "message": self.message}))


class ParsecUnavailable(ParsecError):
    """Nothing happened at Parsec (429, 503, a read's 5xx, refused, DNS, connect timeout): try again later."""

    def __init__(
        self, *, status: int | None, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no response"
        return f"Parsec is unavailable ({status} {self.code}): {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "retry_after": self.retry_after,
        }
        return (_rebuild, (type(self), fields))


class ParsecInDoubt(ParsecError):
    """A write was sent but no usable answer came back (lost, or a 500/502/504): it may have been applied."""

    def __str__(self) -> str:
        return f"Parsec's answer was lost; the request may have been applied: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), {"message": self.message}))


def _rebuild(cls: type[ParsecError], fields: dict[str, Any]) -> ParsecError:
    # Keyword-only constructors survive pickling (Celery results, multiprocessing) through this.
    return cls(**fields)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuilderUser:
    customer_id: str
    external_id: str
    status: str
    linked_exchanges: tuple[str, ...]
    wallet: str | None
    fee_escrow_enabled: bool
    fee_bps: int | None
    affiliate_address: str | None
    created: bool  # Parsec answered 201; the api_key it returns is deliberately not kept


@dataclass(frozen=True)
class Onboarding:
    customer_id: str
    exchange: str
    eoa_address: str | None
    safe_address: str | None
    linked_exchanges: tuple[str, ...]
    steps_completed: tuple[str, ...]


@dataclass(frozen=True)
class EscrowConfig:
    fee_escrow_enabled: bool
    fee_bps: int
    affiliate_address: str | None
    escrow_contract_address: str
    min_fee_usdc: int  # USDC base units
    min_fee_bps: int
    treasury_address: str | None
    affiliate_fee_bps: int
    chain_id: int = 137


@dataclass(frozen=True)
class Exchange:
    id: str
    name: str
    has: Mapping[str, bool]


@dataclass(frozen=True)
class Market:
    parsec_id: str
    exchange: str
    market_id: str  # the exchange-native id (Parsec's exchange_market_id), what an order names
    question: str
    outcomes: tuple[str, ...]
    price: Decimal | None  # the first outcome's price
    status: str
    tick_size: Decimal | None = None  # the price increment orders must respect, where published
    min_order_size: Decimal | None = None  # contracts/shares, where published
    outcome_prices: Mapping[str, Decimal | None] = field(default_factory=dict)
    volume: Decimal | None = None  # contracts traded in all, where published
    end_date: datetime | None = None  # when trading closes, where published


@dataclass(frozen=True)
class MarketPage:
    markets: tuple[Market, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class Order:
    id: str
    market_id: str
    outcome: str
    side: str
    price: Decimal
    size: Decimal
    filled: Decimal
    status: str
    created_at: datetime
    updated_at: datetime | None


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    market_id: str
    outcome: str
    side: str
    price: Decimal
    size: Decimal
    is_taker: bool
    fee: Decimal
    created_at: datetime


@dataclass(frozen=True)
class Position:
    market_id: str
    outcome: str
    size: Decimal
    average_price: Decimal | None
    current_price: Decimal | None


@dataclass(frozen=True)
class Balance:
    exchange: str
    usdc: int  # USDC base units, read from the exchange's own `raw` format
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class OrderBook:
    exchange: str
    market_id: str
    outcome: str
    bids: tuple[tuple[Decimal, Decimal], ...]  # (price, size), best first
    asks: tuple[tuple[Decimal, Decimal], ...]
    tick_size: Decimal | None
    min_order_size: Decimal | None
    timestamp: datetime | None


@dataclass(frozen=True)
class ExecutionPrice:
    filled_amount: Decimal
    fully_filled: bool
    levels_consumed: int
    total_cost: Decimal  # USDC
    avg_price: Decimal | None
    worst_price: Decimal | None
    slippage: Decimal | None
    fee_estimate: Decimal | None  # USDC


# --------------------------------------------------------------------------------------------------
# JSON with exact decimals
# --------------------------------------------------------------------------------------------------

# py_ecc (imported with eth-account) raises the recursion limit to 100,000, so the C JSON decoder can
# recurse until the thread's stack overflows: a body of 50,000 "[" killed the server process. JSON is
# refused past this depth before it is decoded; nothing Parsec or a partner sends nests beyond a few.
MAX_JSON_NESTING = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPENING = ord("[")
# Decimals whose exponent is larger than this are written in exponent form, not digit by digit.
MAX_PLAIN_EXPONENT = 100


def encode_json(value: Any) -> str:
    """JSON text in which a Decimal is written as a number, digit for digit (never through float)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON has no representation for NaN or infinite decimals")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and abs(exponent) > MAX_PLAIN_EXPONENT:
            # Still exact, in exponent form: written out, 1e999999999 would be a billion digits.
            return str(value)
        return format(value, "f")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key))}:{encode_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_nesting_too_deep(text: str | bytes, *, limit: int = MAX_JSON_NESTING) -> bool:
    """True when arrays and objects in `text` nest deeper than `limit` (strings are not counted)."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    if text.count(b"[") + text.count(b"{") <= limit:
        return False  # the common case, at C speed
    # Only the brackets outside strings matter; deleting everything else runs at C speed too.
    brackets = _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
    brackets = brackets.replace(b"{", b"[").replace(b"}", b"]")
    if b"[" * (limit + 1) in brackets:
        return True  # the usual attack: a long run of openings
    depth = 0
    for byte in brackets:
        depth += 1 if byte == _OPENING else -1
        if depth > limit:
            return True
    return False


def decode_json(text: str | bytes) -> Any:
    """Parse JSON keeping every non-integer number as a Decimal; nesting beyond MAX_JSON_NESTING is a
    ValueError, like any other malformed JSON."""
    if json_nesting_too_deep(text):
        raise ValueError(f"the JSON nests arrays or objects deeper than {MAX_JSON_NESTING} levels")
    return json.loads(text, parse_float=Decimal)


# --------------------------------------------------------------------------------------------------
# Parsing answers
# --------------------------------------------------------------------------------------------------


class _BadAnswer(Exception):
    """A success answer whose body is not what Parsec documents."""


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _BadAnswer(f"{name} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _BadAnswer(f"{name} is not a number") from None
    if not number.is_finite():
        raise _BadAnswer(f"{name} is not finite")
    return number


def _optional_decimal(value: Any, name: str) -> Decimal | None:
    return None if value is None else _decimal(value, name)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _BadAnswer(f"{name} is missing or not a string")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadAnswer(f"{name} is not a string")
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _BadAnswer(f"{name} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)  # Parsec sends min_fee_usdc as a string of base units
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise _BadAnswer(f"{name} is not an integer")


def _timestamp(value: Any, name: str) -> datetime:
    if isinstance(value, bool):
        raise _BadAnswer(f"{name} is not a timestamp")
    if isinstance(value, int | Decimal):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if not isinstance(value, str):
        raise _BadAnswer(f"{name} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _BadAnswer(f"{name} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Parsec's timestamps are UTC
    return moment.astimezone(UTC)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _BadAnswer(f"{name} is not a list of strings")
    return tuple(value)


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _BadAnswer(f"the {what} is not a JSON object")
    return data


def _wallet_address(value: Any) -> str | None:
    """Parsec's wallet object ({eoa_address, safe_address?, ...}) as one address: the Safe if any."""
    if value is None or isinstance(value, str):
        return value
    wallet = _mapping(value, "wallet")
    return _optional_text(wallet, "safe_address") or _optional_text(wallet, "eoa_address")


def _parse_builder_user(data: Any, *, created: bool) -> BuilderUser:
    data = _mapping(data, "builder user")
    fee_bps = data.get("fee_bps")
    return BuilderUser(
        customer_id=_text(data, "customer_id"),
        external_id=_text(data, "external_id"),
        status=_text(data, "status"),
        linked_exchanges=_strings(data.get("linked_exchanges"), "linked_exchanges"),
        wallet=_wallet_address(data.get("wallet")),
        fee_escrow_enabled=bool(data.get("fee_escrow_enabled", False)),
        fee_bps=None if fee_bps is None else _integer(fee_bps, "fee_bps"),
        affiliate_address=_optional_text(data, "affiliate_address"),
        created=created,
    )


def _parse_onboarding(data: Any, *, customer_id: str, exchange: str) -> Onboarding:
    data = _mapping(data, "onboarding")
    return Onboarding(
        customer_id=_optional_text(data, "customer_id") or customer_id,
        exchange=_optional_text(data, "exchange") or exchange,
        eoa_address=_optional_text(data, "eoa_address"),
        safe_address=_optional_text(data, "safe_address"),
        linked_exchanges=_strings(data.get("linked_exchanges"), "linked_exchanges"),
        steps_completed=_strings(data.get("steps_completed"), "steps_completed"),
    )


def _parse_escrow_config(data: Any) -> EscrowConfig:
    data = _mapping(data, "escrow config")
    return EscrowConfig(
        fee_escrow_enabled=bool(data.get("fee_escrow_enabled", False)),
        fee_bps=_integer(data.get("fee_bps"), "fee_bps"),
        affiliate_address=_optional_text(data, "affiliate_address"),
        escrow_contract_address=_text(data, "escrow_contract_address"),
        min_fee_usdc=_integer(data.get("min_fee_usdc"), "min_fee_usdc"),
        min_fee_bps=_integer(data.get("min_fee_bps", 0), "min_fee_bps"),
        treasury_address=_optional_text(data, "treasury_address"),
        affiliate_fee_bps=_integer(data.get("affiliate_fee_bps", 0), "affiliate_fee_bps"),
        chain_id=_integer(data.get("chain_id", 137), "chain_id"),
    )


def _parse_exchange(data: Any) -> Exchange:
    data = _mapping(data, "exchange")
    has = data.get("has") or {}
    if not isinstance(has, Mapping):
        raise _BadAnswer("has is not an object")
    exchange_id = _text(data, "id")
    return Exchange(
        id=exchange_id,
        name=_optional_text(data, "name") or exchange_id,
        has={str(key): bool(value) for key, value in has.items()},
    )


def _parse_outcomes(value: Any) -> dict[str, Decimal | None]:
    """Parsec's outcomes, [{name, price?, token_id?}], as {name: price}; plain names are accepted too."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _BadAnswer("outcomes is not a list")
    outcomes: dict[str, Decimal | None] = {}
    for item in value:
        if isinstance(item, str):
            outcomes[item] = None
            continue
        item = _mapping(item, "outcome")
        outcomes[_text(item, "name")] = _optional_decimal(item.get("price"), "outcome price")
    return outcomes


def _parse_market(data: Any) -> Market:
    data = _mapping(data, "market")
    market_id = _text(data, "exchange_market_id")
    exchange = _text(data, "exchange")
    outcomes = _parse_outcomes(data.get("outcomes"))
    names = tuple(outcomes)
    return Market(
        parsec_id=_optional_text(data, "parsec_id") or f"{exchange}:{market_id}",
        exchange=exchange,
        market_id=market_id,
        question=_optional_text(data, "question") or _optional_text(data, "group_title") or "",
        outcomes=names,
        price=outcomes[names[0]] if names else None,
        status=_optional_text(data, "status") or "active",
        tick_size=_optional_decimal(data.get("tick_size"), "tick_size"),
        min_order_size=_optional_decimal(data.get("min_order_size"), "min_order_size"),
        outcome_prices=outcomes,
        volume=_optional_decimal(data.get("volume_total", data.get("volume")), "volume_total"),
        end_date=None if not data.get("end_date") else _timestamp(data.get("end_date"), "end_date"),
    )


def _parse_market_page(data: Any) -> MarketPage:
    data = _mapping(data, "market page")
    items = data.get("markets")
    if not isinstance(items, list):
        raise _BadAnswer("markets is not a list")
    pagination = data.get("pagination") or {}
    if not isinstance(pagination, Mapping):
        raise _BadAnswer("pagination is not an object")
    cursor = pagination.get("next_cursor")
    return MarketPage(
        markets=tuple(_parse_market(item) for item in items),
        next_cursor=cursor if isinstance(cursor, str) and cursor else None,
    )


def _parse_order(data: Any) -> Order:
    data = _mapping(data, "order")
    updated_at = data.get("updated_at")
    return Order(
        id=_text(data, "id"),
        market_id=_text(data, "market_id"),
        outcome=_text(data, "outcome"),
        side=_text(data, "side"),
        price=_decimal(data.get("price"), "price"),
        size=_decimal(data.get("size"), "size"),
        filled=_decimal(data.get("filled", 0), "filled"),
        status=_text(data, "status"),
        created_at=_timestamp(data.get("created_at"), "created_at"),
        updated_at=None if updated_at is None else _timestamp(updated_at, "updated_at"),
    )


def _parse_fill(data: Any) -> Fill:
    data = _mapping(data, "fill")
    return Fill(
        fill_id=_text(data, "fill_id"),
        order_id=_text(data, "order_id"),
        market_id=_text(data, "market_id"),
        outcome=_text(data, "outcome"),
        side=_text(data, "side"),
        price=_decimal(data.get("price"), "price"),
        size=_decimal(data.get("size"), "size"),
        is_taker=bool(data.get("is_taker", False)),
        fee=_decimal(data.get("fee", 0), "fee"),
        created_at=_timestamp(data.get("created_at"), "created_at"),
    )


def _parse_position(data: Any) -> Position:
    data = _mapping(data, "position")
    return Position(
        market_id=_text(data, "market_id"),
        outcome=_text(data, "outcome"),
        size=_decimal(data.get("size"), "size"),
        average_price=_optional_decimal(data.get("average_price"), "average_price"),
        current_price=_optional_decimal(data.get("current_price"), "current_price"),
    )


def _parse_balance(data: Any, exchange: str) -> Balance:
    raw = _mapping(_mapping(data, "balance").get("raw"), "balance raw")
    try:
        usdc = balance_base_units_from_raw(exchange, raw)
    except ValueError as error:
        raise _BadAnswer(str(error)) from None
    return Balance(exchange=exchange, usdc=usdc, raw=dict(raw))


def _parse_levels(value: Any, name: str) -> tuple[tuple[Decimal, Decimal], ...]:
    if not isinstance(value, list):
        raise _BadAnswer(f"{name} is not a list")
    levels = []
    for level in value:
        if isinstance(level, Mapping):  # some exchanges answer {price, size}
            level = [level.get("price"), level.get("size")]
        if not isinstance(level, list) or len(level) < 2:
            raise _BadAnswer(f"a level of {name} is not [price, size]")
        levels.append((_decimal(level[0], f"{name} price"), _decimal(level[1], f"{name} size")))
    return tuple(levels)


def _parse_orderbook(data: Any, *, exchange: str, market_id: str, outcome: str | None) -> OrderBook:
    data = _mapping(data, "order book")
    stamp = data.get("timestamp")
    return OrderBook(
        exchange=_optional_text(data, "exchange") or exchange,
        market_id=_optional_text(data, "market_id") or market_id,
        outcome=_optional_text(data, "outcome") or outcome or "",
        bids=_parse_levels(data.get("bids"), "bids"),
        asks=_parse_levels(data.get("asks"), "asks"),
        tick_size=_optional_decimal(data.get("tick_size"), "tick_size"),
        min_order_size=_optional_decimal(data.get("min_order_size"), "min_order_size"),
        timestamp=None if stamp is None else _timestamp(stamp, "timestamp"),
    )


def _parse_execution_price(data: Any) -> ExecutionPrice:
    data = _mapping(data, "execution price")
    return ExecutionPrice(
        filled_amount=_decimal(data.get("filled_amount"), "filled_amount"),
        fully_filled=bool(data.get("fully_filled", False)),
        levels_consumed=_integer(data.get("levels_consumed", 0), "levels_consumed"),
        total_cost=_decimal(data.get("total_cost"), "total_cost"),
        avg_price=_optional_decimal(data.get("avg_price"), "avg_price"),
        worst_price=_optional_decimal(data.get("worst_price"), "worst_price"),
        slippage=_optional_decimal(data.get("slippage"), "slippage"),
        fee_estimate=_optional_decimal(data.get("fee_estimate"), "fee_estimate"),
    )


def _parse_list(data: Any, parse: Callable[[Any], Any], what: str) -> list[Any]:
    if not isinstance(data, list):
        raise _BadAnswer(f"the {what} answer is not a JSON array")
    return [parse(item) for item in data]


# --------------------------------------------------------------------------------------------------
# Observing calls (metrics)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallObservation:
    """One attempt at Parsec as an observer sees it: no body, key, customer or order id."""

    endpoint: str  # the method and the path's template, e.g. "GET orders/{order_id}"
    outcome: str  # ok, rejected, unavailable, in_doubt, rate_limited (a 429)
    seconds: float
    status: int | None  # None when no answer came
    rate_limit_pool_remaining: int | None  # Parsec's x-ratelimit-pool-remaining, when it sent one
    rate_limit_user_remaining: int | None  # Parsec's x-ratelimit-user-remaining, when it sent one


CallObserver = Callable[[CallObservation], None]

# Path segments that are ids, by what precedes them: an endpoint label must not carry one (one series
# per order would grow without bound).
_ID_AFTER = {("orders",): "{order_id}", ("builder", "users"): "{customer_id}"}


def endpoint_name(method: str, path: str) -> str:
    """ "GET orders/{order_id}" for "GET orders/abc": the endpoint, never an id."""
    parts = path.strip("/").split("/")
    for prefix, placeholder in _ID_AFTER.items():
        if tuple(parts[: len(prefix)]) == prefix and len(parts) > len(prefix):
            parts = [*prefix, placeholder, *parts[len(prefix) + 1 :]]
            break
    return f"{method} {'/'.join(parts)}"


def _outcome(error: ParsecError) -> str:
    if isinstance(error, ParsecRejected):
        return "rejected"
    if isinstance(error, ParsecUnavailable):
        return "rate_limited" if error.status == 429 else "unavailable"
    return "in_doubt"


def _header_count(response: httpx.Response | None, name: str) -> int | None:
    if response is None:
        return None
    raw = response.headers.get(name)
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw.strip())


# --------------------------------------------------------------------------------------------------
# Sharing Parsec's rate budget
# --------------------------------------------------------------------------------------------------


class CallPriority(IntEnum):
    """Who goes first when the budget is short: a cancel never waits behind creates or reads."""

    READ = 0
    CREATE = 1  # every write but a cancel
    CANCEL = 2


# The code of the ParsecUnavailable raised when our own budget had no token in time: nothing was sent.
RATE_BUDGET_EXHAUSTED = "rate_budget_exhausted"


class RateLimiter(Protocol):
    """Paces every call the client makes; the deployment's implementation shares one budget per scope."""

    def acquire(self, *, customer_id: str | None, priority: CallPriority) -> float | None:
        """Take a token before a call (waiting as long as the limiter allows): None when the call may go,
        else the seconds after which a token is expected (the call is then not sent)."""

    def on_response(
        self,
        *,
        customer_id: str | None,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
    ) -> None:
        """Told of every answer: a 429 or a remaining count of 0 pauses the scope it names."""


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


def _retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None  # the HTTP-date form; Parsec documents seconds
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from Parsec's {error, code, retryable} body, or a description of the status."""
    try:
        body = decode_json(response.content)
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        code = body.get("code")
        message = body.get("error")
        if isinstance(code, str) and isinstance(message, str):
            return code, message
    fallback_code = {
        400: "bad_request",
        401: "unauthorized",
        404: "not_found",
        429: "rate_limit_exceeded",
        501: "not_supported",
        503: "service_unavailable",
    }.get(response.status_code, "internal_error" if response.status_code >= 500 else "bad_request")
    return fallback_code, f"HTTP {response.status_code} without Parsec's error body"


class ParsecClient:
    """One pooled HTTP connection set to one Parsec; safe to share between threads.

    Writes (create order, cancel, builder user, onboard) are sent once: their outcome is reported as
    rejected, unavailable (nothing happened) or in doubt, and the caller decides. Read-only calls are
    retried on ParsecUnavailable up to ``read_retries`` times.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        read_retries: int = 2,
        keepalive_seconds: float = 1.5,
        transport: httpx.BaseTransport | None = None,
        observer: CallObserver | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.read_retries = max(0, read_retries)
        # Told of every attempt (metrics); the client itself knows nothing of what listens.
        self._observer = observer
        # Asked before every attempt and told of every answer; None: no pacing of our own.
        self._limiter = limiter
        # Swappable so tests of the retry policy need not wait.
        self._sleep: Callable[[float], None] = time.sleep
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers={"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "builder-platform"},
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=5.0),
            # An idle kept-alive connection is dropped before the server would close it (gunicorn's
            # default is 2 s): a create sent on a connection the server is closing at that instant gets
            # no answer, and an order sent once then waits in doubt for reconciliation.
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=keepalive_seconds
            ),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<ParsecClient {self.base_url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ParsecClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        customer_id: str | None = None,
        priority: CallPriority = CallPriority.READ,
    ) -> httpx.Response:
        """One attempt; returns a 2xx response or raises one of the three ParsecError kinds."""
        headers: dict[str, str] = {}
        if customer_id is not None:
            headers[CUSTOMER_HEADER] = customer_id
        content: bytes | None = None
        if body is not None:
            content = encode_json(body).encode()
            headers["Content-Type"] = "application/json"
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        # The token is taken last, once the request is ready: Parsec counts a call when it arrives, so the
        # less time between the two, the closer its windows match the budget's.
        if self._limiter is not None:
            wait = self._limiter.acquire(customer_id=customer_id, priority=priority)
            if wait is not None:
                # Refused before sending, so even a create is safe to try again later.
                raise ParsecUnavailable(
                    status=None,
                    code=RATE_BUDGET_EXHAUSTED,
                    message=f"{method} {path}: not sent, the shared Parsec rate budget is spent",
                    retry_after=wait,
                )
        started = time.monotonic()
        response: httpx.Response | None = None
        outcome = "ok"
        try:
            response = self._exchange(method, path, query=query, content=content, headers=headers)
            if self._limiter is not None:
                self._tell_limiter(customer_id, response)
            self._classify(method, path, response, started=started)
            return response
        except ParsecError as error:
            outcome = _outcome(error)
            raise
        finally:
            if self._observer is not None:
                self._observe(method, path, outcome=outcome, started=started, response=response)

    def _tell_limiter(self, customer_id: str | None, response: httpx.Response) -> None:
        assert self._limiter is not None
        retry_after = _retry_after_seconds(response) if response.status_code == 429 else None
        try:
            self._limiter.on_response(
                customer_id=customer_id,
                status=response.status_code,
                headers=response.headers,
                retry_after=retry_after,
            )
        except Exception:  # the answer stands whatever the limiter's store does
            logger.exception("parsec rate limiter failed to record an answer")

    def _exchange(
        self, method: str, path: str, *, query: dict[str, str], content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        """The HTTP request itself; a transport failure becomes unavailable or in doubt."""
        try:
            return self._http.request(method, path, params=query, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing was sent: the connection never opened (refused, DNS, timeout) or no pool slot.
            logger.warning("parsec %s /%s: not sent (%s)", method, path, type(error).__name__)
            raise ParsecUnavailable(
                status=None,
                code="connection_failed",
                message=f"could not connect to Parsec ({type(error).__name__})",
            ) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
            # Sent (at least partly), then the answer never came: a read timeout, the server closing
            # the connection without a response, or a reset.
            logger.warning("parsec %s /%s: answer lost (%s)", method, path, type(error).__name__)
            if method == "GET":
                # A read changes nothing at Parsec, so a lost answer is only an outage: safe to retry.
                raise ParsecUnavailable(
                    status=None,
                    code="no_answer",
                    message=f"GET {path}: no answer from Parsec ({type(error).__name__})",
                ) from None
            raise ParsecInDoubt(
                f"{method} {path}: no answer from Parsec after sending ({type(error).__name__})"
            ) from None
        except httpx.HTTPError as error:
            logger.warning("parsec %s /%s: transport error (%s)", method, path, type(error).__name__)
            raise ParsecInDoubt(f"{method} {path}: transport error ({type(error).__name__})") from None

    @staticmethod
    def _classify(method: str, path: str, response: httpx.Response, *, started: float) -> None:
        """Returns for a 2xx answer; otherwise raises what the status means for this method."""
        elapsed_ms = (time.monotonic() - started) * 1000
        status = response.status_code
        if 200 <= status < 300:
            logger.debug("parsec %s /%s: %s in %.0f ms", method, path, status, elapsed_ms)
            return
        code, message = _error_fields(response)
        logger.info("parsec %s /%s: %s %s in %.0f ms", method, path, status, code, elapsed_ms)
        if method != "GET" and status >= 500 and status not in (501, 503):
            # A 500, 502 or 504 to a write says nothing about whether it was applied before things broke
            # (Parsec's own SDKs duplicate orders by retrying these). 429 and 503 are refusals.
            raise ParsecInDoubt(f"{method} {path}: Parsec answered {status} {code}")
        if status == 429 or (status >= 500 and status != 501):
            raise ParsecUnavailable(
                status=status, code=code, message=message, retry_after=_retry_after_seconds(response)
            )
        # 501 is Parsec's "not supported by this exchange": as final as any 4xx.
        raise ParsecRejected(status=status, code=code, message=message)

    def _observe(
        self, method: str, path: str, *, outcome: str, started: float, response: httpx.Response | None
    ) -> None:
        observation = CallObservation(
            endpoint=endpoint_name(method, path),
            outcome=outcome,
            seconds=time.monotonic() - started,
            status=response.status_code if response is not None else None,
            rate_limit_pool_remaining=_header_count(response, "x-ratelimit-pool-remaining"),
            rate_limit_user_remaining=_header_count(response, "x-ratelimit-user-remaining"),
        )
        try:
            assert self._observer is not None
            self._observer(observation)
        except Exception:  # an observer's bug must never change what a call to Parsec did
            logger.exception("parsec call observer failed")

    def _read(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        customer_id: str | None = None,
    ) -> tuple[Any, int]:
        """A GET, retried on ParsecUnavailable; returns (decoded body, status)."""
        attempt = 0
        while True:
            try:
                response = self._send("GET", path, params=params, customer_id=customer_id)
                try:
                    return decode_json(response.content), response.status_code
                except ValueError:
                    raise ParsecUnavailable(
                        status=response.status_code,
                        code="bad_response",
                        message=f"GET {path}: the answer is not JSON",
                    ) from None
            except ParsecUnavailable as error:
                # The limiter has already waited as long as it may: waiting again here would stall.
                if attempt >= self.read_retries or error.code == RATE_BUDGET_EXHAUSTED:
                    raise
                wait = error.retry_after
                if wait is None:
                    wait = RETRY_BACKOFF_SECONDS * (2**attempt)
                self._sleep(min(wait, MAX_RETRY_WAIT_SECONDS))
                attempt += 1

    def _write(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        customer_id: str | None = None,
        priority: CallPriority = CallPriority.CREATE,
    ) -> tuple[Any, int]:
        """A create/cancel/onboard: sent exactly once."""
        response = self._send(
            method, path, params=params, body=body, customer_id=customer_id, priority=priority
        )
        try:
            return decode_json(response.content), response.status_code
        except ValueError:
            # It succeeded, but we cannot tell what it made.
            raise ParsecInDoubt(
                f"{method} {path}: Parsec answered {response.status_code} unreadably"
            ) from None

    @staticmethod
    def _parsed(parse: Callable[[], Any], what: str, *, write: bool) -> Any:
        try:
            return parse()
        except _BadAnswer as error:
            if write:
                raise ParsecInDoubt(f"{what}: unexpected answer ({error})") from None
            raise ParsecUnavailable(
                status=None, code="bad_response", message=f"{what}: unexpected answer ({error})"
            ) from None

    # -- endpoints ---------------------------------------------------------------------------------

    def list_exchanges(self) -> list[Exchange]:
        data, _ = self._read("exchanges")
        return self._parsed(lambda: _parse_list(data, _parse_exchange, "exchanges"), "exchanges", write=False)

    def list_markets(
        self,
        *,
        exchanges: Sequence[str] | None = None,
        search: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> MarketPage:
        """Parsec's market list (scope=list); `exchanges` narrows it, sent comma-separated."""
        params = {
            "exchanges": ",".join(exchanges) if exchanges else None,
            "search": search,
            "cursor": cursor,
            "limit": limit,
        }
        data, _ = self._read("markets", params=params)
        return self._parsed(lambda: _parse_market_page(data), "markets", write=False)

    def get_market(self, *, exchange: str, market_id: str) -> Market | None:
        """One market by its exchange-native id (Parsec's scope=market lookup); None when Parsec has none."""
        params = {"scope": "market", "exchange": exchange, "exchange_market_id": market_id}
        try:
            data, _ = self._read("markets", params=params)
        except ParsecRejected as error:
            if error.status == 404 and error.code in ("market_not_found", "not_found"):
                return None
            raise

        def parse() -> Market | None:
            page = _parse_market_page(data)
            return next(
                (m for m in page.markets if m.exchange == exchange and m.market_id == market_id), None
            )

        return self._parsed(parse, "market", write=False)

    def create_builder_user(self, *, external_id: str, email: str | None = None) -> BuilderUser:
        body: dict[str, Any] = {"external_id": external_id}
        if email is not None:
            body["email"] = email
        data, status = self._write("POST", "builder/users", body=body)
        return self._parsed(
            lambda: _parse_builder_user(data, created=status == 201), "builder user", write=True
        )

    def get_builder_user(self, customer_id: str) -> BuilderUser:
        data, _ = self._read(f"builder/users/{_segment(customer_id)}")
        return self._parsed(lambda: _parse_builder_user(data, created=False), "builder user", write=False)

    def update_builder_user(self, customer_id: str, *, fee_bps: int | None) -> BuilderUser:
        """Set the builder's fee for one end-user (None: the escrow default; 0: attribution only).

        Idempotent (it sets a value), so resending after an in-doubt answer is safe.
        """
        data, _ = self._write("PATCH", f"builder/users/{_segment(customer_id)}", body={"fee_bps": fee_bps})
        return self._parsed(lambda: _parse_builder_user(data, created=False), "builder user", write=True)

    def onboard(
        self,
        *,
        customer_id: str,
        exchange: str,
        eoa_address: str,
        mode: str = "managed",
        wallet_type: str = "safe",
    ) -> Onboarding:
        body = {
            "customer_id": customer_id,
            "exchange": exchange,
            "mode": mode,
            "wallet_type": wallet_type,
            "eoa_address": eoa_address,
        }
        data, _ = self._write("POST", "builder/onboard", body=body)
        return self._parsed(
            lambda: _parse_onboarding(data, customer_id=customer_id, exchange=exchange), "onboard", write=True
        )

    def get_escrow_config(self) -> EscrowConfig:
        data, _ = self._read("builder/escrow/config")
        return self._parsed(lambda: _parse_escrow_config(data), "escrow config", write=False)

    def create_order(self, *, exchange: str, customer_id: str, body: Mapping[str, Any]) -> Order:
        """Place an order. Never retried: on ParsecInDoubt, list the orders before sending it again."""
        data, _ = self._write(
            "POST", "orders", params={"exchange": exchange}, body=body, customer_id=customer_id
        )
        return self._parsed(lambda: _parse_order(data), "create order", write=True)

    def list_orders(
        self,
        *,
        exchange: str,
        customer_id: str,
        status: str = "open",
        market_id: str | None = None,
        start_ts: int | None = None,
        limit: int | None = None,
        end_ts: int | None = None,
    ) -> list[Order]:
        params = {
            "exchange": exchange,
            "status": status,
            "market_id": market_id,
            "start_ts": start_ts,
            "end_ts": end_ts,
            "limit": limit,
        }
        data, _ = self._read("orders", params=params, customer_id=customer_id)
        return self._parsed(lambda: _parse_list(data, _parse_order, "orders"), "orders", write=False)

    def get_order(self, *, exchange: str, customer_id: str, order_id: str) -> Order:
        data, _ = self._read(
            f"orders/{_segment(order_id)}", params={"exchange": exchange}, customer_id=customer_id
        )
        return self._parsed(lambda: _parse_order(data), "order", write=False)

    def cancel_order(self, *, exchange: str, customer_id: str, order_id: str) -> Order:
        data, _ = self._write(
            "DELETE",
            f"orders/{_segment(order_id)}",
            params={"exchange": exchange},
            customer_id=customer_id,
            priority=CallPriority.CANCEL,
        )
        return self._parsed(lambda: _parse_order(data), "cancel order", write=True)

    def list_fills(
        self, *, exchange: str, customer_id: str, market_id: str | None = None, limit: int | None = None
    ) -> list[Fill]:
        params = {"exchange": exchange, "market_id": market_id, "limit": limit}
        data, _ = self._read("fills", params=params, customer_id=customer_id)
        return self._parsed(lambda: _parse_list(data, _parse_fill, "fills"), "fills", write=False)

    def list_positions(
        self, *, exchange: str, customer_id: str, market_id: str | None = None
    ) -> list[Position]:
        params = {"exchange": exchange, "market_id": market_id}
        data, _ = self._read("positions", params=params, customer_id=customer_id)
        return self._parsed(lambda: _parse_list(data, _parse_position, "positions"), "positions", write=False)

    def get_balance(self, *, exchange: str, customer_id: str, refresh: bool = False) -> Balance:
        params = {"exchange": exchange, "refresh": "true" if refresh else None}
        data, _ = self._read("balance", params=params, customer_id=customer_id)
        return self._parsed(lambda: _parse_balance(data, exchange), "balance", write=False)

    def get_orderbook(
        self, *, exchange: str, market_id: str, outcome: str | None = None, depth: int | None = None
    ) -> OrderBook:
        params = {"exchange": exchange, "market_id": market_id, "outcome": outcome, "depth": depth}
        data, _ = self._read("orderbook", params=params)
        return self._parsed(
            lambda: _parse_orderbook(data, exchange=exchange, market_id=market_id, outcome=outcome),
            "order book",
            write=False,
        )

    def get_execution_price(
        self, *, exchange: str, market_id: str, outcome: str, side: str, amount: Decimal
    ) -> ExecutionPrice:
        """Parsec's dry run of a marketable order of ``amount`` contracts over the book; places nothing."""
        params = {
            "exchange": exchange,
            "market_id": market_id,
            "outcome": outcome,
            "side": side,
            "amount": format(amount, "f"),
        }
        data, _ = self._read("execution-price", params=params)
        return self._parsed(lambda: _parse_execution_price(data), "execution price", write=False)


_SEGMENT = re.compile(r"[A-Za-z0-9_.:\-]+")


def _segment(value: str) -> str:
    """An id placed in a URL path; anything that could change the path is refused before sending."""
    if not isinstance(value, str) or _SEGMENT.fullmatch(value) is None or value in {".", ".."}:
        raise ValueError("an id in a Parsec path must be letters, digits, '_', '-', '.' or ':'")
    return value
