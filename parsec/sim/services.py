"""The simulator's writes: builders and their users, onboarding, markets, orders, matching, cancels."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from parsec.contract import (
    BadRequest,
    ContractError,
    ErrorCode,
    MissingParameter,
    NotSupported,
    OrderRequest,
    is_checksum_address,
    validate_order_for_market,
)
from parsec.sim.accounts import balance_apply, balance_check, balances_apply_fills, escrow_refund_base_units
from parsec.sim.catalogue import MARKET_SEEDS, exchange_capabilities
from parsec.sim.escrow import check_fee_auth, safe_address_for
from parsec.sim.matching import EngineSettings, advance_order, match_new_order
from parsec.sim.models import SimBuilder, SimBuilderUser, SimFill, SimMarket, SimOrder

ONBOARD_EXCHANGES = ("polymarket", "kalshi")
ONBOARD_MODES = ("managed", "self")
WALLET_TYPES = ("eoa", "safe")
# The escrow's refusal of an escrow order id presented twice: a plain 400 bad_request. Its words are
# not part of Parsec's contract (tests reword it to check that nobody depends on them).
ESCROW_ORDER_ID_REUSED_MESSAGE = (
    "fee_auth.order_id was already used: each escrow order id pays for one order only"
)


def key_hash(api_key: str) -> str:
    # Keys are long random strings, so a plain digest is enough to make a stolen table useless.
    return hashlib.sha256(api_key.encode()).hexdigest()


def sim_user_api_key(customer_id: uuid.UUID | str) -> str:
    """A builder user's own key, derived from its id and the server's secret.

    Parsec shows a user's key on every read of the user; the simulator keeps only the key's hash, and
    can still show the key because it can derive it again.
    """
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"parsec-sim-user-key:{customer_id}".encode(), hashlib.sha256
    ).digest()
    return "pk_sim_user_" + base64.urlsafe_b64encode(digest[:24]).decode()


def order_not_found() -> ContractError:
    return ContractError("order not found", status=404, code=ErrorCode.ORDER_NOT_FOUND)


# --------------------------------------------------------------------------------------------------
# Builders and builder users
# --------------------------------------------------------------------------------------------------


@transaction.atomic
def sim_builder_ensure(*, api_key: str, name: str) -> SimBuilder:
    """The builder account for this key, created on first use."""
    builder, _ = SimBuilder.objects.get_or_create(
        key_hash=key_hash(api_key), defaults={"name": name, "key_prefix": api_key[:8]}
    )
    return builder


@transaction.atomic
def sim_builder_user_create(
    *, builder: SimBuilder, external_id: str, email: str = ""
) -> tuple[SimBuilderUser, str | None, bool]:
    """(user, api key shown once or None, created); idempotent on (builder, external_id)."""
    existing = SimBuilderUser.objects.filter(builder=builder, external_id=external_id).first()
    if existing is not None:
        return existing, sim_user_api_key(existing.customer_id), False
    customer_id = uuid.uuid4()
    api_key = sim_user_api_key(customer_id)
    user = SimBuilderUser(
        customer_id=customer_id,
        builder=builder,
        external_id=external_id,
        email=email,
        key_hash=key_hash(api_key),
        key_prefix=api_key[:12],
    )
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # A concurrent request with the same external_id won: answer what it created.
        existing = SimBuilderUser.objects.get(builder=builder, external_id=external_id)
        return existing, sim_user_api_key(existing.customer_id), False
    return user, api_key, True


def _onboarding_steps(*, exchange: str, mode: str, wallet_type: str) -> list[str]:
    if mode == "self":
        return ["account_created", "credentials_linked", f"{exchange}_linked"]
    if exchange == "kalshi":
        return ["account_created", "kalshi_linked"]
    steps = ["account_created", "wallet_registered"]
    if wallet_type == "safe":
        steps += ["safe_deployed", "approvals_set"]
    return [*steps, "polymarket_linked"]


@transaction.atomic
def sim_builder_user_onboard(
    *, customer: SimBuilderUser, exchange: str, mode: str, wallet_type: str, eoa_address: str | None
) -> tuple[SimBuilderUser, list[str]]:
    """Link an exchange for the end-user; idempotent and resumable, as Parsec's onboarding is."""
    if exchange not in ONBOARD_EXCHANGES:
        raise BadRequest(f"exchange must be one of {', '.join(ONBOARD_EXCHANGES)}", field="exchange")
    if mode not in ONBOARD_MODES:
        raise BadRequest(f"mode must be one of {', '.join(ONBOARD_MODES)}", field="mode")
    if wallet_type not in WALLET_TYPES:
        raise BadRequest(f"wallet_type must be one of {', '.join(WALLET_TYPES)}", field="wallet_type")
    if eoa_address is not None and not is_checksum_address(eoa_address):
        raise BadRequest("eoa_address must be an EIP-55 checksummed 0x address", field="eoa_address")
    if exchange == "polymarket" and eoa_address is None:
        raise MissingParameter("eoa_address is required to onboard on polymarket", field="eoa_address")

    user = SimBuilderUser.objects.select_for_update().get(pk=customer.pk)
    if eoa_address is not None:
        if user.eoa_address and user.eoa_address != eoa_address:
            raise BadRequest(
                "this end-user is already onboarded with a different eoa_address", field="eoa_address"
            )
        user.eoa_address = eoa_address
    if exchange == "polymarket" and mode == "managed" and wallet_type == "safe":
        user.safe_address = safe_address_for(user.eoa_address)
    if exchange == "polymarket" and not user.wallet_type:
        user.wallet_type = wallet_type
    if exchange not in user.linked_exchanges:
        user.linked_exchanges = [*user.linked_exchanges, exchange]
    user.save(update_fields=["eoa_address", "safe_address", "wallet_type", "linked_exchanges", "updated_at"])
    return user, _onboarding_steps(exchange=exchange, mode=mode, wallet_type=wallet_type)


# --------------------------------------------------------------------------------------------------
# Markets
# --------------------------------------------------------------------------------------------------


@transaction.atomic
def sim_markets_ensure() -> None:
    """Create the seeded markets that are missing; safe to call any number of times, concurrently."""
    SimMarket.objects.bulk_create(
        [
            SimMarket(
                exchange=seed.exchange,
                market_id=seed.market_id,
                question=seed.question,
                outcomes=list(seed.outcomes),
                tick_size=seed.tick_size,
                min_order_size=seed.min_order_size,
            )
            for seed in MARKET_SEEDS
        ],
        ignore_conflicts=True,
    )


def _market_for(exchange: str, market_id: str) -> SimMarket:
    market = SimMarket.objects.filter(exchange=exchange, market_id=market_id).first()
    if market is None:
        # Seeded on first use. Another request may be seeding right now: whether we seed or it did
        # between our two reads, the market is read again (a miss then is a real 404).
        if not SimMarket.objects.filter(exchange=exchange).exists():
            sim_markets_ensure()
        market = SimMarket.objects.filter(exchange=exchange, market_id=market_id).first()
    if market is None:
        raise ContractError(
            f"market {market_id} was not found on {exchange}", status=404, code=ErrorCode.MARKET_NOT_FOUND
        )
    return market


# --------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------


def _expiration(order_request: OrderRequest) -> datetime | None:
    if order_request.expiration is None:
        return None
    return datetime.fromtimestamp(order_request.expiration, tz=UTC)


def sim_builder_user_update(*, user: SimBuilderUser, changes: dict[str, int | None]) -> SimBuilderUser:
    """PATCH of a builder user: `fee_bps` (None: the escrow default; 0: attribution only, no fee_auth)
    and `qps_limit` (its share of the builder's QPS pool), each only when sent."""
    fields = {name: value for name, value in changes.items() if name in ("fee_bps", "qps_limit")}
    if fields:
        SimBuilderUser.objects.filter(pk=user.pk).update(**fields)
        for name, value in fields.items():
            setattr(user, name, value)
    return user


@transaction.atomic
def sim_order_create(*, customer: SimBuilderUser, order_request: OrderRequest, now: datetime) -> SimOrder:
    """Accept a validated order as Parsec and the escrow would, and match it on arrival."""
    exchange = order_request.exchange
    if not exchange_capabilities(exchange)["create_order"]:
        raise NotSupported(f"{exchange} is data-only: creating orders is not supported", field="exchange")
    market = _market_for(exchange, order_request.market_id)
    validate_order_for_market(
        exchange=exchange,
        outcome=order_request.outcome,
        price=order_request.price,
        size=order_request.size,
        outcomes=tuple(market.outcomes),
        tick_size=market.tick_size,
        min_order_size=market.min_order_size,
    )
    check_fee_auth(
        order=order_request,
        now=int(now.timestamp()),
        customer_eoa=customer.eoa_address or None,
        customer_safe=customer.safe_address or None,
        customer_fee_bps=customer.fee_bps,
    )
    fee_auth = order_request.fee_auth
    reused = BadRequest(ESCROW_ORDER_ID_REUSED_MESSAGE, field="fee_auth.order_id")
    if fee_auth is not None and SimOrder.objects.filter(escrow_order_id=fee_auth.order_id).exists():
        raise reused
    balance_check(customer=customer, order_request=order_request)

    order = SimOrder(
        id="ord_" + uuid.uuid4().hex,
        customer=customer,
        exchange=exchange,
        market=market,
        outcome=order_request.outcome,
        side=order_request.side,
        price=order_request.price,
        size=order_request.size,
        status=SimOrder.Status.OPEN,
        order_type=order_request.order_type,
        expiration=_expiration(order_request),
        escrow_order_id=fee_auth.order_id if fee_auth else None,
        fee_amount=fee_auth.fee_amount if fee_auth else None,
        payer_address=order_request.payer_address or "",
        signer_address=order_request.signer_address or "",
        affiliate=order_request.affiliate or "",
        created_at=now,
    )
    fills = match_new_order(order, now=now, engine=EngineSettings.current())
    if fee_auth is None:
        order.save(force_insert=True)  # a fresh random id: nothing to collide with
    else:
        try:
            with transaction.atomic():
                order.save(force_insert=True)
        except IntegrityError:
            if SimOrder.objects.filter(escrow_order_id=fee_auth.order_id).exists():
                raise reused from None  # a concurrent order with the same escrow order id won
            raise
    SimFill.objects.bulk_create(fills)
    balances_apply_fills(fills)
    if fee_auth is not None:
        # The escrow pulls the fee from the payer before the order goes out; an ioc or fok that ends
        # on arrival gets its unfilled part back at once.
        balance_apply(customer=customer, amount=-fee_auth.fee_amount)
        if order.status == SimOrder.Status.CANCELLED:
            balance_apply(customer=customer, amount=escrow_refund_base_units(order))
    return order


def _due_orders(
    *,
    now: datetime,
    customer: SimBuilderUser,
    exchange: str | None,
    market_id: str | None,
    order_id: str | None,
):
    orders = SimOrder.objects.filter(
        customer=customer, status__in=SimOrder.LIVE_STATUSES, next_event_at__lte=now
    )
    if exchange is not None:
        orders = orders.filter(exchange=exchange)
    if market_id is not None:
        orders = orders.filter(market__market_id=market_id)
    if order_id is not None:
        orders = orders.filter(id=order_id)
    return orders


@transaction.atomic
def sim_advance(
    *,
    now: datetime,
    customer: SimBuilderUser,
    exchange: str | None = None,
    market_id: str | None = None,
    order_id: str | None = None,
) -> int:
    """Bring the customer's live orders (optionally narrowed) up to ``now``; returns the fills made.

    Called lazily on every read and write of orders and fills, so no background process is needed.
    Rows are locked, so two concurrent reads cannot both apply the same chunk.
    """
    engine = EngineSettings.current()
    due = (
        _due_orders(now=now, customer=customer, exchange=exchange, market_id=market_id, order_id=order_id)
        .select_related("market")
        .select_for_update(of=("self",))
        .order_by("created_at", "id")
    )
    fills: list[SimFill] = []
    for order in due:
        fills += advance_order(order, now=now, engine=engine)
        order.save(update_fields=["status", "filled", "fill_count", "next_event_at", "updated_at"])
        if order.status == SimOrder.Status.CANCELLED:  # a gtd past its expiry
            balance_apply(customer=customer, amount=escrow_refund_base_units(order))
    SimFill.objects.bulk_create(fills)
    balances_apply_fills(fills)
    return len(fills)


def sim_catch_up(
    *,
    now: datetime,
    customer: SimBuilderUser,
    exchange: str | None = None,
    market_id: str | None = None,
    order_id: str | None = None,
) -> None:
    """sim_advance, but only when something is due, so plain reads take no write lock."""
    filters = {"exchange": exchange, "market_id": market_id, "order_id": order_id}
    if _due_orders(now=now, customer=customer, **filters).exists():
        sim_advance(now=now, customer=customer, **filters)


@transaction.atomic
def sim_order_cancel(*, customer: SimBuilderUser, exchange: str, order_id: str, now: datetime) -> SimOrder:
    order = (
        SimOrder.objects.select_related("market")
        .select_for_update(of=("self",))
        .filter(id=order_id, customer=customer, exchange=exchange)
        .first()
    )
    if order is None:
        raise order_not_found()
    # Fills due before the cancel happened first.
    fills = []
    if order.next_event_at is not None and order.next_event_at <= now:
        fills = advance_order(order, now=now, engine=EngineSettings.current())
    if not order.is_live:
        # The catch-up above is not saved here; the next read replays it identically.
        raise BadRequest(f"order is already {order.status} and can no longer be cancelled", field="order_id")
    order.status = SimOrder.Status.CANCELLED
    order.next_event_at = None
    order.updated_at = now
    order.save(update_fields=["status", "filled", "fill_count", "next_event_at", "updated_at"])
    SimFill.objects.bulk_create(fills)
    balances_apply_fills(fills)
    balance_apply(customer=customer, amount=escrow_refund_base_units(order))
    return order
