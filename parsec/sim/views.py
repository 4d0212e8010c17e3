"""The simulator's HTTP endpoints: Parsec's paths, status codes and {error, code, retryable} bodies.

Over 400 lines: one thin view per Parsec endpoint with its answer's JSON; the state lives in services.py
and the rules in parsec.contract.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from parsec.client import decode_json, encode_json
from parsec.contract import (
    EXCHANGES,
    MAX_SIZE,
    ORDER_SIDES,
    ORDERBOOK_DEFAULT_DEPTH,
    ORDERBOOK_MAX_DEPTH,
    BadRequest,
    ContractError,
    ErrorCode,
    ExchangeNotFound,
    MissingParameter,
    NotSupported,
    balance_raw_for,
    validate_create_order,
)
from parsec.sim import faults
from parsec.sim.accounts import balance_base_units, position_current_price, positions_of
from parsec.sim.book import execution_price, order_book
from parsec.sim.catalogue import (
    exchange_capabilities,
    exchanges_json,
    outcome_price,
    price_bucket,
    reference_price,
)
from parsec.sim.escrow import escrow_config_json
from parsec.sim.limits import Verdict, sim_rate_check, sim_rate_stats, sim_rate_stats_reset
from parsec.sim.models import SimBuilder, SimBuilderUser, SimFill, SimMarket, SimOrder
from parsec.sim.selectors import (
    ORDER_STATUS_FILTERS,
    Principal,
    sim_customer_for,
    sim_fills_list,
    sim_market_get,
    sim_markets_page,
    sim_order_get,
    sim_orders_list,
    sim_principal_for_key,
)
from parsec.sim.services import (
    sim_builder_user_create,
    sim_builder_user_onboard,
    sim_builder_user_update,
    sim_catch_up,
    sim_order_cancel,
    sim_order_create,
    sim_user_api_key,
)

logger = logging.getLogger(__name__)

CUSTOMER_HEADER = "HTTP_X_BUILDER_CUSTOMER_ID"


# --------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    # Our own encoder: prices and sizes go out as JSON numbers written digit for digit.
    return HttpResponse(
        encode_json(data), status=status, content_type="application/json", headers=dict(headers or {})
    )


def error_response(
    *, status: int, code: str, message: str, retryable: bool = False, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return json_response(
        {"error": message, "code": code, "retryable": retryable}, status=status, headers=headers
    )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Decimal | int) -> Decimal:
    return Decimal(value).normalize()  # 0.650000000000000000 -> 0.65


def order_json(order: SimOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "market_id": order.market.market_id,
        "outcome": order.outcome,
        "side": order.side,
        "price": _number(order.price),
        "size": _number(order.size),
        "filled": _number(order.filled),
        "status": order.status,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
    }


def fill_json(fill: SimFill) -> dict[str, Any]:
    order = fill.order
    return {
        "fill_id": fill.fill_id,
        "order_id": order.id,
        "market_id": order.market.market_id,
        "outcome": order.outcome,
        "side": order.side,
        "price": _number(fill.price),
        "size": _number(fill.size),
        "is_taker": fill.is_taker,
        "fee": _number(fill.fee),
        "created_at": _iso(fill.created_at),
    }


def market_end_date(market: SimMarket) -> datetime:
    """A fixed closing time per market, 30 to 395 days after 2027-01-01 (simulated markets never close)."""
    days = 30 + int.from_bytes(market.market_id.encode()[-4:].rjust(4, b"\0"), "big") % 366
    return datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=days)


def market_volume(market: SimMarket) -> Decimal:
    """Contracts traded on the market, every outcome and builder user included."""
    total = SimFill.objects.filter(order__market=market).aggregate(total=Sum("size"))["total"]
    return Decimal(0) if total is None else Decimal(total)


def market_json(market: SimMarket, *, now: datetime, volume: Decimal | None = None) -> dict[str, Any]:
    """A market as Parsec's /markets item: exchange_market_id, priced outcomes, tick and minimum size."""
    yes_price = reference_price(
        exchange=market.exchange,
        market_id=market.market_id,
        bucket=price_bucket(now, settings.PARSEC_SIM_PRICE_BUCKET_SECONDS),
        seed=settings.PARSEC_SIM_SEED,
    )
    outcomes = list(market.outcomes)
    parsec_id = f"{market.exchange}:{market.market_id}"
    return {
        "parsec_id": parsec_id,
        "exchange": market.exchange,
        "exchange_market_id": market.market_id,
        # Every simulated market is its own one-market event.
        "exchange_group_id": market.market_id,
        "parsec_group_id": parsec_id,
        "group_title": market.question,
        "question": market.question,
        "market_type": "binary" if len(outcomes) == 2 else "categorical",
        "outcome_count": len(outcomes),
        "outcomes": [
            {"name": name, "price": outcome_price(outcomes=outcomes, outcome=name, yes_price=yes_price)}
            for name in outcomes
        ],
        "last_price": yes_price,
        "volume_total": Decimal(0) if volume is None else _number(volume),
        "end_date": _iso(market_end_date(market)),
        "tick_size": None if market.tick_size is None else _number(market.tick_size),
        "min_order_size": None if market.min_order_size is None else _number(market.min_order_size),
        "status": market.status,
    }


def wallet_json(user: SimBuilderUser) -> dict[str, Any] | None:
    """The end-user's wallet as Parsec describes it, once it has one (after onboarding)."""
    if not user.eoa_address:
        return None
    return {
        "eoa_address": user.eoa_address,
        "privy_wallet_id": f"sim-wallet-{user.customer_id}",  # Parsec's wallet provider id; made up here
        "wallet_type": user.wallet_type or "eoa",
        "safe_address": user.safe_address or None,
        "chain_id": 137,
    }


def builder_user_json(user: SimBuilderUser) -> dict[str, Any]:
    return {
        "customer_id": str(user.customer_id),
        "external_id": user.external_id,
        # Parsec shows the user's own key on every read; the simulator derives it (only its hash is kept).
        "api_key": sim_user_api_key(user.customer_id),
        "status": user.status,
        "tier": "standard",
        "linked_exchanges": list(user.linked_exchanges),
        "wallet": wallet_json(user),
        "fee_escrow_enabled": settings.PARSEC_SIM_FEE_ESCROW_ENABLED,
        "fee_bps": user.fee_bps,
        "qps_limit": user.qps_limit,
        "affiliate_address": None,
        "created_at": _iso(user.created_at),
    }


# --------------------------------------------------------------------------------------------------
# The endpoint wrapper: authentication, impersonation, faults, errors
# --------------------------------------------------------------------------------------------------


class Caller:
    """Who is asking, and the end-user the request acts for (None on builder-level endpoints)."""

    def __init__(self, principal: Principal, customer: SimBuilderUser | None) -> None:
        self.principal = principal
        self.customer = customer

    def require_builder(self) -> SimBuilder:
        if not isinstance(self.principal, SimBuilder):
            raise ContractError(
                "this endpoint requires a builder account", status=403, code=ErrorCode.UNAUTHORIZED
            )
        return self.principal

    @property
    def acting_customer(self) -> SimBuilderUser:
        if self.customer is None:
            raise ContractError(
                "no exchange account is linked to this key; send X-Builder-Customer-Id to act for one of "
                "your end-users",
                status=401,
                code=ErrorCode.CREDENTIALS_REQUIRED,
            )
        return self.customer


def _authenticate(request: HttpRequest) -> Caller:
    principal = sim_principal_for_key(request.META.get("HTTP_X_API_KEY", "").strip())
    if principal is None:
        raise ContractError("missing or invalid API key", status=401, code=ErrorCode.UNAUTHORIZED)
    customer_id = request.META.get(CUSTOMER_HEADER, "").strip()
    if customer_id:
        if not isinstance(principal, SimBuilder):
            raise ContractError(
                "X-Builder-Customer-Id requires a builder account", status=403, code=ErrorCode.UNAUTHORIZED
            )
        return Caller(principal, sim_customer_for(principal, customer_id))
    # A builder user's own key acts for that user.
    return Caller(principal, principal if isinstance(principal, SimBuilderUser) else None)


def _fault_before(fault: str | None, request: HttpRequest) -> HttpResponse | None:
    """The answer of a fault that strikes before anything is applied, or None to go on."""
    if fault == faults.ERROR_500:
        return error_response(
            status=500, code=ErrorCode.INTERNAL_ERROR, message="simulated internal error", retryable=True
        )
    if fault == faults.ERROR_503:
        return error_response(
            status=503, code=ErrorCode.SERVICE_UNAVAILABLE, message="simulated outage", retryable=True
        )
    if fault == faults.RATE_LIMIT:
        seconds = settings.PARSEC_SIM_RETRY_AFTER_SECONDS
        return error_response(
            status=429,
            code=ErrorCode.RATE_LIMIT_EXCEEDED,
            message="simulated rate limit; retry after the Retry-After delay",
            retryable=True,
            headers={"Retry-After": str(seconds)},
        )
    if fault == faults.LATENCY:
        faults.sleep_latency()
    if fault == faults.TIMEOUT_BEFORE_APPLY:
        faults.hold(request, settings.PARSEC_SIM_HOLD_SECONDS)
        # Whoever is still waiting learns nothing was done; a client that timed out never reads this.
        return error_response(
            status=503,
            code=ErrorCode.SERVICE_UNAVAILABLE,
            message="simulated timeout; nothing was applied",
            retryable=True,
        )
    return None


def _rate_verdict(caller: Caller) -> Verdict | None:
    """The pool's and the user's verdict on an impersonated call (None: not counted, or no limit is on)."""
    if not isinstance(caller.principal, SimBuilder) or caller.customer is None:
        return None
    return sim_rate_check(builder=caller.principal, user=caller.customer)


def _rate_limited(verdict: Verdict) -> HttpResponse:
    response = json_response(
        {
            "error": f"rate limit exceeded ({verdict.limit_qps} requests per second); retry after "
            f"{verdict.retry_after_seconds} s",
            "code": ErrorCode.RATE_LIMIT_EXCEEDED,
            "retryable": True,
            "tier": "standard",
            "limit_qps": verdict.limit_qps,
        },
        status=429,
    )
    for name, value in verdict.headers.items():
        response[name] = value
    return response


def endpoint(*methods: str) -> Callable:
    def decorate(handler: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(handler)
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if not settings.PARSEC_SIMULATOR:
                return error_response(status=404, code=ErrorCode.NOT_FOUND, message="the simulator is off")
            if request.method not in methods:
                return error_response(
                    status=405, code=ErrorCode.BAD_REQUEST, message=f"use {' or '.join(methods)} on this path"
                )
            fault: str | None = None
            verdict: Verdict | None = None
            try:
                fault = faults.choose_fault(request)
                if fault is not None:
                    logger.info("simulated fault %s on %s %s", fault, request.method, request.path)
                caller = _authenticate(request)
                verdict = _rate_verdict(caller)
                if verdict is not None and not verdict.accepted:
                    fault = None  # refused before anything could happen to it
                    return _rate_limited(verdict)
                _checked_request_text(request, kwargs)
                response = _fault_before(fault, request)
                if response is None:
                    response = handler(request, caller, **kwargs)
            except ContractError as error:
                response = error_response(status=error.status, code=str(error.code), message=error.message)
            if verdict is not None:
                for name, value in verdict.headers.items():
                    response[name] = value
            # The handler's transaction has committed; now the answer is lost on the way back.
            if fault == faults.APPLY_THEN_DROP and not faults.drop_connection(request):
                faults.hold(request, settings.PARSEC_SIM_HOLD_SECONDS)
            return response

        return view

    return decorate


# --------------------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------------------


def _unprintable(text: str) -> bool:
    """NUL and other control characters, and lone surrogates (which no database can store)."""
    return any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in text)


def _checked_strings(value: Any, where: str) -> None:
    """Refuse a JSON body holding unprintable text anywhere, naming where (keys included)."""
    if isinstance(value, str):
        if _unprintable(value):
            raise BadRequest(f"{where} must be printable text: it holds a control character", field=where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if _unprintable(str(key)):
                raise BadRequest("the request body has a field name with a control character")
            _checked_strings(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _checked_strings(item, f"{where}[{index}]")


def _json_body(request: HttpRequest) -> Any:
    try:
        body = decode_json(request.body or b"null")
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    _checked_strings(body, "")
    return body


def _checked_request_text(request: HttpRequest, kwargs: Mapping[str, Any]) -> None:
    """Every query parameter and path id must be printable: a NUL is a client's mistake, not our 500."""
    for name, values in request.GET.lists():
        if _unprintable(name) or any(_unprintable(value) for value in values):
            raise BadRequest(f"the query parameter {name!r} must be printable text", field=name)
    for name, value in kwargs.items():
        if isinstance(value, str) and _unprintable(value):
            raise BadRequest(f"{name} must be printable text", field=name)


def _exchange(request: HttpRequest, *, capability: str | None = None) -> str:
    exchange = request.GET.get("exchange", "").strip()
    if not exchange:
        raise MissingParameter("the exchange query parameter is required", field="exchange")
    if exchange not in EXCHANGES:
        raise ExchangeNotFound(f"exchange {exchange} is not known; use one of {', '.join(EXCHANGES)}")
    if capability is not None and not exchange_capabilities(exchange)[capability]:
        raise NotSupported(f"{exchange} is data-only: {capability} is not supported")
    return exchange


def _query_text(request: HttpRequest, name: str) -> str | None:
    """A query parameter's text, None when absent or empty; NUL and other control characters are a 400."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > 1000 or any(ord(char) < 32 or ord(char) == 127 for char in raw):
        raise BadRequest(f"{name} must be printable text of at most 1000 characters", field=name)
    return raw


def _int_param(request: HttpRequest, name: str, *, default: int | None, low: int, high: int) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    # The length check comes first: int() of thousands of digits is refused by Python itself.
    if len(raw) > 20 or not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


# 9999-12-31T23:59:59Z, the last second a datetime can hold.
MAX_TIMESTAMP = 253_402_300_799


def _time_param(request: HttpRequest, name: str) -> datetime | None:
    seconds = _int_param(request, name, default=None, low=0, high=MAX_TIMESTAMP)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _text_field(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise MissingParameter(f"{name} is required", field=name)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise BadRequest(f"{name} must be a non-empty string of at most 255 characters", field=name)
    return value


# --------------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------------


@endpoint("GET")
def exchanges(request: HttpRequest, caller: Caller) -> HttpResponse:
    return json_response(exchanges_json())


MARKET_SCOPES = ("list", "market", "market_batch", "event")


def _market_page_json(markets: list[dict[str, Any]], *, scope: str, total: int, next_cursor: str | None):
    return {
        "markets": markets,
        "pagination": {
            "count": len(markets),
            "has_more": next_cursor is not None,
            "total": total,
            "next_cursor": next_cursor,
        },
        "scope": scope,
    }


@endpoint("GET")
def markets(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Parsec's /markets: `scope=list` filtered by `exchanges` (a comma-separated list), or one market
    (`scope=market`) by `exchange` + `exchange_market_id` or by `parsec_id`."""
    exchange = _query_text(request, "exchange")
    exchange_market_id = _query_text(request, "exchange_market_id")
    parsec_id = _query_text(request, "parsec_id")
    scope = _query_text(request, "scope") or ("market" if exchange_market_id or parsec_id else "list")
    if scope not in MARKET_SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(MARKET_SCOPES)}", field="scope")
    now = timezone.now()
    if scope == "market":
        if parsec_id is not None and (exchange is not None or exchange_market_id is not None):
            raise BadRequest("send parsec_id or exchange + exchange_market_id, not both", field="parsec_id")
        if parsec_id is not None:
            exchange, _, exchange_market_id = parsec_id.partition(":")
        if not exchange or not exchange_market_id:
            raise MissingParameter(
                "scope=market needs exchange and exchange_market_id, or parsec_id", field="exchange_market_id"
            )
        if exchange not in EXCHANGES:
            raise ExchangeNotFound(f"exchange {exchange} is not known; use one of {', '.join(EXCHANGES)}")
        market = sim_market_get(exchange=exchange, market_id=exchange_market_id)
        if market is None:
            raise ContractError(
                f"market {exchange_market_id} was not found on {exchange}",
                status=404,
                code=ErrorCode.MARKET_NOT_FOUND,
            )
        return json_response(
            _market_page_json(
                [market_json(market, now=now, volume=market_volume(market))],
                scope=scope,
                total=1,
                next_cursor=None,
            )
        )
    if scope != "list":
        raise NotSupported(
            f"the simulator serves scope=list and scope=market, not scope={scope}", field="scope"
        )
    if exchange is not None or exchange_market_id is not None:
        # Parsec reads `exchange` only to look one market up; a list is narrowed with `exchanges`.
        raise BadRequest(
            "exchange selects one market together with exchange_market_id; "
            "to list the markets of some exchanges, send exchanges=polymarket,kalshi",
            field="exchange",
        )
    wanted: list[str] = []
    for item in (_query_text(request, "exchanges") or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item not in EXCHANGES:
            raise ExchangeNotFound(f"exchange {item} is not known; use one of {', '.join(EXCHANGES)}")
        wanted.append(item)
    limit = _int_param(request, "limit", default=100, low=1, high=100)
    page, next_cursor, total = sim_markets_page(
        exchanges=wanted,
        search=_query_text(request, "search"),
        status=_query_text(request, "status") or "active",
        cursor=_query_text(request, "cursor"),
        limit=limit or 100,
    )
    return json_response(
        _market_page_json(
            [market_json(market, now=now) for market in page],
            scope=scope,
            total=total,
            next_cursor=next_cursor,
        )
    )


@endpoint("GET", "POST")
def builder_users(request: HttpRequest, caller: Caller) -> HttpResponse:
    builder = caller.require_builder()
    if request.method == "GET":
        # Parsec's cursor is opaque; the simulator's is an offset into the users by creation.
        raw_cursor = _query_text(request, "cursor")
        if raw_cursor is not None and (
            not raw_cursor.startswith("o") or not raw_cursor[1:].isascii() or not raw_cursor[1:].isdigit()
        ):
            raise BadRequest("cursor is not one this API returned", field="cursor")
        offset = int(raw_cursor[1:20]) if raw_cursor else 0
        limit = _int_param(request, "limit", default=100, low=1, high=100) or 100
        users = list(
            SimBuilderUser.objects.filter(builder=builder).order_by("created_at", "customer_id")[
                offset : offset + limit + 1
            ]
        )
        next_cursor = f"o{offset + limit}" if len(users) > limit else None
        page = users[:limit]
        return json_response(
            {
                "users": [builder_user_json(user) for user in page],
                "count": len(page),
                "next_cursor": next_cursor,
            }
        )
    body = _json_body(request)
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object")
    external_id = _text_field(body, "external_id", required=True)
    email = _text_field(body, "email", required=False) or ""
    user, _api_key, created = sim_builder_user_create(
        builder=builder, external_id=external_id or "", email=email
    )
    return json_response(builder_user_json(user), status=201 if created else 200)


def _optional_whole_number(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise BadRequest(f"{name} must be a whole number or null", field=name)
    return value


@endpoint("GET", "PATCH")
def builder_user_detail(request: HttpRequest, caller: Caller, customer_id: str) -> HttpResponse:
    try:
        user = sim_customer_for(caller.require_builder(), customer_id)
    except ContractError:
        raise ContractError(
            "end-user not found or not owned by this builder", status=404, code=ErrorCode.NOT_FOUND
        ) from None
    if request.method == "PATCH":
        body = _json_body(request)
        if not isinstance(body, Mapping) or set(body) - {"fee_bps", "qps_limit"}:
            raise BadRequest("the request body must be a JSON object with fee_bps and/or qps_limit")
        fee_bps = _optional_whole_number(body, "fee_bps")
        if fee_bps is not None and not (
            fee_bps == 0 or settings.PARSEC_SIM_MIN_FEE_BPS <= fee_bps <= settings.PARSEC_SIM_MAX_FEE_BPS
        ):
            raise BadRequest(
                f"fee_bps must be null, 0 or from {settings.PARSEC_SIM_MIN_FEE_BPS} to "
                f"{settings.PARSEC_SIM_MAX_FEE_BPS}",
                field="fee_bps",
            )
        qps_limit = _optional_whole_number(body, "qps_limit")
        if qps_limit is not None and not 1 <= qps_limit <= 10_000:
            raise BadRequest("qps_limit must be from 1 to 10000", field="qps_limit")
        user = sim_builder_user_update(user=user, changes={name: body[name] for name in body})
    return json_response(builder_user_json(user))


@endpoint("POST")
def builder_onboard(request: HttpRequest, caller: Caller) -> HttpResponse:
    body = _json_body(request)
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object")
    customer = sim_customer_for(
        caller.require_builder(), _text_field(body, "customer_id", required=True) or ""
    )
    exchange = _text_field(body, "exchange", required=True) or ""
    mode = _text_field(body, "mode", required=False) or "managed"
    wallet_type = _text_field(body, "wallet_type", required=False) or "safe"
    user, steps = sim_builder_user_onboard(
        customer=customer,
        exchange=exchange,
        mode=mode,
        wallet_type=wallet_type,
        eoa_address=_text_field(body, "eoa_address", required=False),
    )
    return json_response(
        {
            "customer_id": str(user.customer_id),
            "exchange": exchange,
            "mode": mode,
            "wallet_type": wallet_type,
            "eoa_address": user.eoa_address or None,
            "safe_address": user.safe_address or None,
            "linked_exchanges": list(user.linked_exchanges),
            "steps_completed": steps,
            "status": "complete",
            "wallet": wallet_json(user),
            "fee_escrow_enabled": settings.PARSEC_SIM_FEE_ESCROW_ENABLED,
            "fee_bps": user.fee_bps,
            "affiliate_address": None,
        }
    )


@endpoint("GET")
def escrow_config(request: HttpRequest, caller: Caller) -> HttpResponse:
    caller.require_builder()  # the escrow config belongs to a builder account
    return json_response(escrow_config_json())


@endpoint("GET", "POST")
def orders(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    if request.method == "POST":
        customer = caller.acting_customer
        # The contract's checks come first, so an order type an exchange lacks is named as such; the
        # service then refuses any order on a data-only exchange.
        exchange = _exchange(request)
        body = _json_body(request)
        order_request = validate_create_order(exchange, body, now=int(now.timestamp()))
        order = sim_order_create(customer=customer, order_request=order_request, now=now)
        return json_response(order_json(order))

    customer = caller.acting_customer
    exchange = _exchange(request, capability="fetch_order_history")
    status = request.GET.get("status") or "open"
    if status not in ORDER_STATUS_FILTERS:
        raise BadRequest(f"status must be one of {', '.join(ORDER_STATUS_FILTERS)}", field="status")
    market_id = request.GET.get("market_id") or None
    sim_catch_up(now=now, customer=customer, exchange=exchange, market_id=market_id)
    listed = sim_orders_list(
        customer=customer,
        exchange=exchange,
        status=status,
        market_id=market_id,
        start=_time_param(request, "start_ts"),
        end=_time_param(request, "end_ts"),
        limit=_int_param(request, "limit", default=100, low=1, high=500) or 100,
    )
    return json_response([order_json(order) for order in listed])


@endpoint("GET", "DELETE")
def order_detail(request: HttpRequest, caller: Caller, order_id: str) -> HttpResponse:
    now = timezone.now()
    customer = caller.acting_customer
    if request.method == "DELETE":
        exchange = _exchange(request, capability="cancel_order")
        return json_response(
            order_json(sim_order_cancel(customer=customer, exchange=exchange, order_id=order_id, now=now))
        )
    exchange = _exchange(request, capability="fetch_order_history")
    sim_catch_up(now=now, customer=customer, exchange=exchange, order_id=order_id)
    return json_response(order_json(sim_order_get(customer=customer, exchange=exchange, order_id=order_id)))


@endpoint("GET")
def fills(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    customer = caller.acting_customer
    exchange = _exchange(request, capability="fetch_fills")
    market_id = request.GET.get("market_id") or None
    sim_catch_up(now=now, customer=customer, exchange=exchange, market_id=market_id)
    listed = sim_fills_list(
        customer=customer,
        exchange=exchange,
        market_id=market_id,
        limit=_int_param(request, "limit", default=100, low=1, high=500) or 100,
    )
    return json_response([fill_json(fill) for fill in listed])


# --------------------------------------------------------------------------------------------------
# Account and market data
# --------------------------------------------------------------------------------------------------


def _market_param(request: HttpRequest) -> tuple[str, SimMarket]:
    """The market of a data request: `exchange` + `market_id`, or `parsec_id` (exchange:market_id)."""
    parsec_id = _query_text(request, "parsec_id")
    if parsec_id is not None:
        exchange, _, market_id = parsec_id.partition(":")
        if exchange not in EXCHANGES:
            raise ExchangeNotFound(f"exchange {exchange} is not known; use one of {', '.join(EXCHANGES)}")
    else:
        exchange = _exchange(request)
        market_id = _query_text(request, "market_id") or ""
    if not market_id:
        raise MissingParameter("market_id (with exchange) or parsec_id is required", field="market_id")
    market = sim_market_get(exchange=exchange, market_id=market_id)
    if market is None:
        raise ContractError(
            f"market {market_id} was not found on {exchange}", status=404, code=ErrorCode.MARKET_NOT_FOUND
        )
    return exchange, market


def _outcome_param(request: HttpRequest, market: SimMarket, *, required: bool) -> str:
    outcome = _query_text(request, "outcome")
    if outcome is None:
        if required:
            raise MissingParameter("outcome is required", field="outcome")
        return market.outcomes[0]
    if outcome not in market.outcomes:
        raise BadRequest(
            f"outcome must be one of {', '.join(market.outcomes)} for this market", field="outcome"
        )
    return outcome


def _amount_param(request: HttpRequest) -> Decimal:
    raw = _query_text(request, "amount")
    if raw is None:
        raise MissingParameter("amount is required", field="amount")
    try:
        amount = Decimal(raw) if len(raw) <= 40 else Decimal("NaN")
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount >= MAX_SIZE or _decimal_places(amount) > 18:
        raise BadRequest("amount must be a positive number of contracts", field="amount")
    return amount


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 99


@endpoint("GET")
def positions(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    customer = caller.acting_customer
    exchange = _exchange(request, capability="fetch_positions")
    market_id = _query_text(request, "market_id")
    sim_catch_up(now=now, customer=customer, exchange=exchange, market_id=market_id)
    held = positions_of(customer=customer, exchange=exchange, market_id=market_id)
    return json_response(
        [
            {
                "market_id": position.market.market_id,
                "outcome": position.outcome,
                "size": _number(position.size),
                "average_price": _number(position.average_price),
                "current_price": _number(position_current_price(position, now=now)),
            }
            for position in held
        ]
    )


@endpoint("GET")
def balance(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    customer = caller.acting_customer
    exchange = _exchange(request, capability="fetch_balance")
    # Fills due by now move the balance, as they would have at the exchange already.
    sim_catch_up(now=now, customer=customer)
    return json_response({"raw": balance_raw_for(exchange, balance_base_units(customer))})


@endpoint("GET")
def orderbook(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    exchange, market = _market_param(request)
    outcome = _outcome_param(request, market, required=False)
    depth = (
        _int_param(request, "depth", default=ORDERBOOK_DEFAULT_DEPTH, low=1, high=ORDERBOOK_MAX_DEPTH)
        or ORDERBOOK_DEFAULT_DEPTH
    )
    book = order_book(market=market, outcome=outcome, depth=depth, now=now)
    return json_response(
        {
            "bids": [[_number(price), _number(size)] for price, size in book.bids],
            "asks": [[_number(price), _number(size)] for price, size in book.asks],
            "exchange": exchange,
            "market_id": market.market_id,
            "outcome": outcome,
            "tick_size": None if market.tick_size is None else _number(market.tick_size),
            "min_order_size": None if market.min_order_size is None else _number(market.min_order_size),
            "timestamp": _iso(now),
        }
    )


@endpoint("GET")
def execution_price_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    now = timezone.now()
    _exchange_name, market = _market_param(request)
    outcome = _outcome_param(request, market, required=False)
    side = _query_text(request, "side")
    if side is None:
        raise MissingParameter("side is required", field="side")
    if side not in ORDER_SIDES:
        raise BadRequest(f"side must be one of {', '.join(ORDER_SIDES)}", field="side")
    run = execution_price(market=market, outcome=outcome, side=side, amount=_amount_param(request), now=now)

    def number(value: Decimal | None) -> Decimal | None:
        return None if value is None else _number(value)

    return json_response(
        {
            "filled_amount": _number(run.filled_amount),
            "fully_filled": run.fully_filled,
            "levels_consumed": run.levels_consumed,
            "total_cost": _number(run.total_cost),
            "avg_price": number(run.avg_price),
            "worst_price": number(run.worst_price),
            "slippage": number(run.slippage),
            "fee_estimate": _number(run.fee_estimate),
        }
    )


@endpoint("GET", "DELETE")
def rate_stats(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The simulator's own statistics of its rate limits (not a Parsec endpoint): what the builder's pool
    received and accepted since `since` (Unix seconds), and the most any one-second window saw.
    DELETE forgets them."""
    builder = caller.require_builder()
    if request.method == "DELETE":
        sim_rate_stats_reset(builder=builder)
        return HttpResponse(status=204)
    raw = request.GET.get("since", "0").strip() or "0"
    try:
        since = float(raw)
    except ValueError:
        raise BadRequest("since must be a Unix time in seconds", field="since") from None
    if not math.isfinite(since):
        raise BadRequest("since must be a Unix time in seconds", field="since")
    return json_response(sim_rate_stats(builder=builder, since=since))
