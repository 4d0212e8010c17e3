"""Fee writes: the escrow config, the partner fee policy, fee authorizations (EIP-712) and the fee ledger."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework import status

from builder_platform.api import ApiError
from customers import services as customer_services
from customers.models import BPS_MAX, Customer, Partner, Wallet
from fees.event_log import fee_event_record
from fees.models import BIGINT_MAX, EscrowConfig, FeeAuthorization, FeeLedgerEntry
from fees.money import bps_share, cumulative_share
from parsec import client as parsec_client
from parsec import conf as parsec_conf
from parsec.contract import (
    FEE_ESCROW_EXCHANGES,
    SignatureError,
    fee_amount_for,
    normalize_signature,
    pull_fee_typed_data,
    recover_pull_fee_signer,
    to_checksum,
)

logger = logging.getLogger(__name__)

MAX_FEE_AUTH_DEADLINE_SECONDS = 86_400  # the escrow refuses deadlines further out than a day
State = FeeAuthorization.State
Kind = FeeLedgerEntry.Kind


class FeeError(ApiError):
    """An expected refusal: an HTTP status, a machine code and a sentence the caller can act on.

    An ApiError, so an API view that lets it through answers in the platform's error shape; `status`,
    `code` and `message` are also plain attributes for callers that translate it themselves.
    """

    def __init__(self, message: str, *, code: str, status: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(status_code=status, code=code, message=message)
        self.status = status
        self.code = code


class EscrowConfigUnavailable(FeeError):
    """No usable escrow config (never fetched, or too old and Parsec cannot be reached): a 503."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="service_unavailable", status=status.HTTP_503_SERVICE_UNAVAILABLE)


class EscrowConfigInvalid(FeeError):
    """Parsec answered an escrow config we cannot use (a malformed address, bps out of range)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="escrow_config_invalid", status=status.HTTP_502_BAD_GATEWAY)


class FeeLedgerError(FeeError):
    """A ledger write that would break its invariants (more distributed than authorized, out of order)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="fee_ledger_conflict", status=status.HTTP_409_CONFLICT)


# --- Escrow config -----------------------------------------------------------------------------------


def _optional_address(value: str | None, name: str) -> str:
    if value is None or value == "":
        return ""
    try:
        return to_checksum(value)
    except ValueError:
        raise EscrowConfigInvalid(f"Parsec's escrow config has a malformed {name}.") from None


def _escrow_config_values(fetched: parsec_client.EscrowConfig) -> dict:
    """The row's values for a config Parsec answered; EscrowConfigInvalid when it cannot be used."""
    for name in ("fee_bps", "min_fee_bps", "affiliate_fee_bps"):
        value = getattr(fetched, name)
        if not 0 <= value <= BPS_MAX:
            raise EscrowConfigInvalid(f"Parsec's escrow config has {name}={value}, outside 0..10000.")
    if not 0 <= fetched.min_fee_usdc <= BIGINT_MAX:
        raise EscrowConfigInvalid("Parsec's escrow config has a min_fee_usdc out of range.")
    if not 0 < fetched.chain_id <= BIGINT_MAX:
        raise EscrowConfigInvalid("Parsec's escrow config has an invalid chain id.")
    contract = _optional_address(fetched.escrow_contract_address, "escrow_contract_address")
    if not contract:
        raise EscrowConfigInvalid("Parsec's escrow config names no escrow contract address.")
    return {
        "escrow_contract_address": contract,
        "chain_id": fetched.chain_id,
        "fee_escrow_enabled": fetched.fee_escrow_enabled,
        "fee_bps": fetched.fee_bps,
        "min_fee_bps": fetched.min_fee_bps,
        "min_fee_usdc": fetched.min_fee_usdc,
        "affiliate_fee_bps": fetched.affiliate_fee_bps,
        "affiliate_address": _optional_address(fetched.affiliate_address, "affiliate_address"),
        "treasury_address": _optional_address(fetched.treasury_address, "treasury_address"),
    }


@transaction.atomic
def escrow_config_store(*, config: parsec_client.EscrowConfig, now: datetime) -> EscrowConfig:
    """Make a config Parsec answered the current one (the single row, replaced in place)."""
    values = _escrow_config_values(config)
    stored, _ = EscrowConfig.objects.update_or_create(
        pk=EscrowConfig.SINGLETON_ID,
        defaults={**values, "fetched_at": now, "last_refresh_error": "", "last_refresh_failed_at": None},
    )
    return stored


def _escrow_config_record_failure(*, reason: str, now: datetime) -> None:
    # One UPDATE (its own transaction in autocommit); no row yet means nothing to annotate.
    EscrowConfig.objects.filter(pk=EscrowConfig.SINGLETON_ID).update(
        last_refresh_error=reason[:500], last_refresh_failed_at=now
    )


def escrow_config_refresh(*, now: datetime) -> EscrowConfig:
    """Read `GET /builder/escrow/config` and store it. HTTP, so never call it inside a transaction.

    Raises ParsecError or EscrowConfigInvalid; the last good config then stays, with the failure noted.
    """
    try:
        fetched = parsec_conf.get_client().get_escrow_config()
        return escrow_config_store(config=fetched, now=now)
    except (parsec_client.ParsecError, EscrowConfigInvalid) as error:
        _escrow_config_record_failure(reason=str(error), now=now)
        raise


def escrow_config_is_fresh(config: EscrowConfig | None, *, now: datetime) -> bool:
    if config is None:
        return False
    return now - config.fetched_at <= timedelta(seconds=settings.ESCROW_CONFIG_MAX_AGE_SECONDS)


def _inside_transaction() -> bool:
    """True inside an atomic block of the application's own (a test case's wrapping block does not count).

    A durable block refuses to nest in any atomic block but a test case's, which is exactly the
    question; it costs nothing when no query runs in it.
    """
    try:
        with transaction.atomic(durable=True):
            return False
    except RuntimeError:
        return True


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} seconds"
    if seconds < 7200:
        return f"{int(seconds // 60)} minutes"
    return f"{int(seconds // 3600)} hours"


def _unavailable(config: EscrowConfig | None, *, now: datetime, reason: str) -> EscrowConfigUnavailable:
    if config is None:
        state = "Parsec's fee escrow configuration has never been read"
    else:
        age = _age_text((now - config.fetched_at).total_seconds())
        limit = _age_text(settings.ESCROW_CONFIG_MAX_AGE_SECONDS)
        state = f"Parsec's fee escrow configuration was last read {age} ago, more than the {limit} allowed"
    return EscrowConfigUnavailable(
        f"Orders that carry a builder fee are paused: {state}, and {reason}. Retry in a few minutes."
    )


def escrow_config_current(*, now: datetime) -> EscrowConfig:
    """The escrow config, refreshed from Parsec once, synchronously, when it is missing or too old.

    The refresh is HTTP, so it happens only outside a transaction; inside one a stale config is refused
    as it is (call this before opening the transaction to get the refresh). Raises EscrowConfigUnavailable.
    """
    config = EscrowConfig.objects.filter(pk=EscrowConfig.SINGLETON_ID).first()
    if escrow_config_is_fresh(config, now=now):
        return config
    if _inside_transaction():
        reason = "it cannot be refreshed in the middle of this request"
        if config is not None and config.last_refresh_error:
            reason = f"the last refresh failed ({config.last_refresh_error})"
        raise _unavailable(config, now=now, reason=reason)
    try:
        return escrow_config_refresh(now=now)
    except parsec_client.ParsecError as error:
        logger.warning("escrow config refresh failed: %s", error)
        raise _unavailable(
            config, now=now, reason=f"Parsec cannot be reached to refresh it ({error})"
        ) from None
    except EscrowConfigInvalid as error:
        raise _unavailable(
            config, now=now, reason=f"Parsec's answer was not usable ({error.message})"
        ) from None


# --- Partner fee policy ------------------------------------------------------------------------------


def partner_fee_validate(*, fee_bps: int | None, config: EscrowConfig | None) -> None:
    """Refuse a partner fee outside the escrow's minimum and the builder tier's cap; never clamp it.

    None (use the escrow's default) and 0 (attribution only, no fee) are always allowed. Without a
    config (none fetched yet) the minimum is FEE_MIN_BPS_FALLBACK; an order re-checks against the config.
    """
    if fee_bps is None or fee_bps == 0:
        return
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, int) or not 0 < fee_bps <= BPS_MAX:
        raise FeeError(
            "fee_bps must be a whole number of basis points from 0 to 10000.", code="fee_bps_invalid"
        )
    tier_max = settings.BUILDER_TIER_MAX_FEE_BPS
    if fee_bps > tier_max:
        raise FeeError(
            f"A fee of {fee_bps} bps is above the builder tier's maximum of {tier_max} bps; "
            f"choose {tier_max} or less (0 for attribution only).",
            code="fee_above_tier_maximum",
        )
    minimum = config.min_fee_bps if config is not None else settings.FEE_MIN_BPS_FALLBACK
    if fee_bps < minimum:
        whose = "Parsec's escrow minimum" if config is not None else "the minimum (no escrow config read yet)"
        raise FeeError(
            f"A fee of {fee_bps} bps is below {whose} of {minimum} bps; "
            f"choose at least {minimum}, or 0 for attribution only.",
            code="fee_below_minimum",
        )


def partner_fee_set(*, partner: Partner, fee_bps: int | None, now: datetime | None = None) -> Partner:
    """Set the partner's fee after checking it against the current escrow config (fetched if stale)."""
    now = now or timezone.now()
    # A fee that needs the minimum checked needs a config: read it before the transaction (HTTP).
    config = escrow_config_current(now=now) if fee_bps not in (None, 0) else None
    partner_fee_validate(fee_bps=fee_bps, config=config)
    with transaction.atomic():
        changed = partner.fee_bps != fee_bps
        partner.fee_bps = fee_bps
        partner.save(update_fields=["fee_bps"])
        if changed:
            customer_services.partner_fee_changed(partner_id=partner.pk)
    return partner


# --- Quotes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeQuote:
    fee_bps: int
    fee_amount: int  # USDC base units
    minimum_applied: bool  # the escrow's min_fee_usdc, not the rate, set the amount

    @property
    def charged(self) -> bool:
        return self.fee_amount > 0


NO_FEE = FeeQuote(fee_bps=0, fee_amount=0, minimum_applied=False)


def fee_applies(*, partner: Partner, exchange: str) -> bool:
    """Whether an order may carry a fee at all, before any config is read: a fee escrow exists on the
    exchange and the partner's fee is not 0. Orders for which this is False never need the config."""
    return exchange in FEE_ESCROW_EXCHANGES and partner.fee_bps != 0


def fee_quote(
    *, partner: Partner, exchange: str, price: Decimal, size: Decimal, config: EscrowConfig | None
) -> FeeQuote:
    """The fee an order would carry: the partner's rate (or the escrow's default) on price x size.

    Rounded by Parsec's rule (`fee_amount_for`: up, to whole base units, at least min_fee_usdc).
    """
    if not fee_applies(partner=partner, exchange=exchange):
        return NO_FEE
    if config is None:
        raise EscrowConfigUnavailable(
            "Orders that carry a builder fee are paused: Parsec's fee escrow configuration is not known yet."
        )
    if not config.fee_escrow_enabled:
        return NO_FEE
    fee_bps = partner.fee_bps if partner.fee_bps is not None else config.fee_bps
    if fee_bps == 0:
        return NO_FEE
    amount = fee_amount_for(price=price, size=size, fee_bps=fee_bps, min_fee_usdc=config.min_fee_usdc)
    by_rate = fee_amount_for(price=price, size=size, fee_bps=fee_bps, min_fee_usdc=0)
    return FeeQuote(fee_bps=fee_bps, fee_amount=amount, minimum_applied=amount > by_rate)


# --- Fee authorizations ----------------------------------------------------------------------------


def _current_wallets(customer_id) -> dict[str, str]:
    """role -> address of the customer's current signer and payer."""
    return dict(
        Wallet.objects.filter(customer_id=customer_id, replaced_at__isnull=True).values_list(
            "role", "address"
        )
    )


def _deadline_seconds() -> int:
    seconds = settings.FEE_AUTH_DEADLINE_SECONDS
    if not 1 <= seconds <= MAX_FEE_AUTH_DEADLINE_SECONDS:
        raise ImproperlyConfigured(
            f"FEE_AUTH_DEADLINE_SECONDS must be from 1 to {MAX_FEE_AUTH_DEADLINE_SECONDS}."
        )
    return seconds


def fee_authorization_request(
    *, partner: Partner, customer: Customer, exchange: str, price: Decimal, size: Decimal, now: datetime
) -> FeeAuthorization | None:
    """The PullFee the customer must sign for a new order, or None when the order carries no fee.

    Reads the escrow config first (refreshing it when stale, outside a transaction only); raises
    EscrowConfigUnavailable (503) or FeeError for a partner fee outside the policy or a customer
    without a signer and a payer.
    """
    if not fee_applies(partner=partner, exchange=exchange):
        return None  # attribution only or no escrow: never blocked, not even by a stale config
    config = escrow_config_current(now=now)
    quote = fee_quote(partner=partner, exchange=exchange, price=price, size=size, config=config)
    if not quote.charged:
        return None
    try:
        partner_fee_validate(fee_bps=partner.fee_bps, config=config)
    except FeeError as error:
        # Set within the policy once, but the escrow's minimum (or the tier) moved since.
        raise FeeError(
            f"This partner's fee cannot be charged any more: {error.message}", code=error.code, status=409
        ) from None
    if quote.fee_amount > BIGINT_MAX:
        raise FeeError("The fee on this order is too large; reduce its size.", code="fee_too_large")
    wallets = _current_wallets(customer.pk)
    missing = [role for role in (Wallet.Role.SIGNER, Wallet.Role.PAYER) if role not in wallets]
    if missing:
        raise FeeError(
            f"The customer has no {' and no '.join(missing)} wallet yet, so no fee can be authorized.",
            code="customer_not_ready",
            status=409,
        )
    deadline = int(now.timestamp()) + _deadline_seconds()
    escrow_order_id = "0x" + secrets.token_bytes(32).hex()
    typed_data = pull_fee_typed_data(
        chain_id=config.chain_id,
        verifying_contract=config.escrow_contract_address,
        order_id=escrow_order_id,
        payer=wallets[Wallet.Role.PAYER],
        fee_amount=quote.fee_amount,
        deadline=deadline,
    )
    affiliate = partner.affiliate_address or config.affiliate_address
    with transaction.atomic():
        return FeeAuthorization.objects.create(
            partner=partner,
            customer=customer,
            exchange=exchange,
            escrow_order_id=escrow_order_id,
            chain_id=config.chain_id,
            verifying_contract=config.escrow_contract_address,
            payer=wallets[Wallet.Role.PAYER],
            signer=wallets[Wallet.Role.SIGNER],
            fee_bps=quote.fee_bps,
            fee_amount=quote.fee_amount,
            minimum_applied=quote.minimum_applied,
            affiliate_fee_bps=config.affiliate_fee_bps if affiliate else 0,
            affiliate_address=affiliate,
            # A partner with its own on-chain affiliate address is paid by the escrow directly.
            partner_share_bps=0 if partner.affiliate_address else partner.revenue_share_bps,
            deadline=datetime.fromtimestamp(deadline, tz=UTC),
            typed_data=typed_data,
            created_at=now,
        )


def _not_requested_error(state: str) -> FeeError:
    if state == State.EXPIRED:
        return FeeError("This fee authorization has expired; place the order again.", code="fee_auth_expired")
    return FeeError(
        "This fee authorization has already been signed and used; each one is accepted once.",
        code="fee_auth_used",
    )


def _signature_mismatch(*, authorization: FeeAuthorization, recovered: str, signer: str | None) -> FeeError:
    """Why a signature that recovers to someone other than the customer's signer is refused.

    Recovery always yields some address: a signature by the right wallet over altered typed data (a
    changed fee, deadline, payer, chain or contract) yields a random one, exactly as a signature by
    another wallet over the right data does, so the two cannot be told apart in general. They can when
    the address is one we know: the customer's own former signer, or the signer of another of the
    same partner's customers (the partner's own data: nothing leaks across partners).
    """
    expected = signer or "(none linked)"
    former = Wallet.objects.filter(
        customer_id=authorization.customer_id,
        role=Wallet.Role.SIGNER,
        address=recovered,
        replaced_at__isnull=False,
    ).exists()
    if former:
        return FeeError(
            f"The fee authorization was signed by {recovered}, this customer's former signer wallet; "
            f"its signer is now {expected}: sign the order's fee_authorization.typed_data with it.",
            code="signer_replaced",
        )
    other_customer = (
        Wallet.objects.filter(
            customer__partner_id=authorization.partner_id,
            role=Wallet.Role.SIGNER,
            address=recovered,
            replaced_at__isnull=True,
        )
        .exclude(customer_id=authorization.customer_id)
        .exists()
    )
    if other_customer:
        return FeeError(
            f"The fee authorization was signed by {recovered}, the signer wallet of another of your "
            f"customers; this order's customer signs with {expected}.",
            code="signer_of_another_customer",
        )
    return FeeError(
        "The signature does not match this order's fee authorization: either the signed typed data "
        "differs from the order's fee_authorization.typed_data (any changed field, domain included, "
        f"changes what is signed), or it was not signed by the customer's signer wallet {expected}. "
        "Sign the typed data exactly as issued, with that wallet.",
        code="signer_mismatch",
    )


@transaction.atomic
def fee_authorization_verify(*, fee_authorization_id: int, signature: str, now: datetime) -> FeeAuthorization:
    """Check the customer's signature of the PullFee and mark the authorization signed, once.

    Strict: the signature must recover (canonical low-s, v 27/28 or 0/1, 65 bytes) to the customer's
    verified signer wallet over exactly the typed data issued, for the customer's payer, before the
    deadline. Concurrent submissions race on a conditional UPDATE: one wins, the rest get fee_auth_used.
    """
    authorization = FeeAuthorization.objects.filter(pk=fee_authorization_id).first()
    if authorization is None:
        raise FeeError(
            "No fee authorization with this id.", code="not_found", status=status.HTTP_404_NOT_FOUND
        )
    if authorization.state != State.REQUESTED:
        raise _not_requested_error(authorization.state)
    if authorization.deadline <= now:
        raise FeeError(
            "This fee authorization's deadline has passed; place the order again for a new one.",
            code="fee_auth_expired",
        )
    try:
        recovered = recover_pull_fee_signer(
            typed_data=authorization.typed_data,
            signature=signature,
            chain_id=authorization.chain_id,
            verifying_contract=authorization.verifying_contract,
        )
    except SignatureError as error:
        raise FeeError(
            f"The fee signature is not acceptable: {error.message}.", code=str(error.code)
        ) from None
    wallets = _current_wallets(authorization.customer_id)
    signer = wallets.get(Wallet.Role.SIGNER)
    if recovered != signer:
        raise _signature_mismatch(authorization=authorization, recovered=recovered, signer=signer)
    payer = wallets.get(Wallet.Role.PAYER)
    if authorization.typed_data["message"]["payer"] != payer or authorization.payer != payer:
        raise FeeError(
            "The fee authorization names a payer that is no longer the customer's payer wallet; "
            "place the order again.",
            code="payer_mismatch",
        )
    claimed = FeeAuthorization.objects.filter(pk=authorization.pk, state=State.REQUESTED).update(
        state=State.SIGNED,
        signature=normalize_signature(signature),
        recovered_signer=recovered,
        signed_at=now,
    )
    if claimed != 1:
        # Another request signed it (or it expired) between our read and our update.
        state = FeeAuthorization.objects.filter(pk=authorization.pk).values_list("state", flat=True).first()
        raise _not_requested_error(state)
    fee_event_record(fee_authorization_id=authorization.pk, type="fee_authorization.signed", now=now)
    authorization.refresh_from_db()
    return authorization


def _transition(*, fee_authorization_id: int, from_states: tuple[str, ...], to_state: str, **fields) -> bool:
    changed = FeeAuthorization.objects.filter(pk=fee_authorization_id, state__in=from_states).update(
        state=to_state, **fields
    )
    return changed == 1


@transaction.atomic
def fee_authorization_mark_escrowed(*, fee_authorization_id: int, now: datetime) -> bool:
    """Parsec accepted the order, so the escrow holds the fee. False when it was not `signed`."""
    return _transition(
        fee_authorization_id=fee_authorization_id,
        from_states=(State.SIGNED,),
        to_state=State.ESCROWED,
        escrowed_at=now,
    )


@transaction.atomic
def fee_authorization_mark_expired(*, fee_authorization_id: int, now: datetime) -> bool:
    """The fee was never pulled and never will be (deadline passed, order failed or refused)."""
    return _transition(
        fee_authorization_id=fee_authorization_id,
        from_states=(State.REQUESTED, State.SIGNED),
        to_state=State.EXPIRED,
        finished_at=now,
    )


@transaction.atomic
def fee_authorization_mark_settled(*, fee_authorization_id: int, now: datetime) -> bool:
    """Final with fills: the filled part was distributed, the rest refunded (see fee_ledger_record_final)."""
    return _transition(
        fee_authorization_id=fee_authorization_id,
        from_states=(State.ESCROWED,),
        to_state=State.SETTLED,
        finished_at=now,
    )


@transaction.atomic
def fee_authorization_mark_refunded(*, fee_authorization_id: int, now: datetime) -> bool:
    """Final without fills: the whole fee went back to the payer (see fee_ledger_record_final)."""
    return _transition(
        fee_authorization_id=fee_authorization_id,
        from_states=(State.ESCROWED,),
        to_state=State.REFUNDED,
        finished_at=now,
    )


# --- Ledger ------------------------------------------------------------------------------------------


def _locked(fee_authorization: FeeAuthorization) -> FeeAuthorization:
    # Ledger writes for one authorization take turns (PostgreSQL row lock; SQLite's write lock).
    return FeeAuthorization.objects.select_for_update().get(pk=fee_authorization.pk)


def _booked(fee_authorization: FeeAuthorization) -> dict[str, int]:
    """kind -> total booked so far for this authorization (one query)."""
    rows = (
        FeeLedgerEntry.objects.filter(fee_authorization=fee_authorization)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals = {kind: 0 for kind in Kind.values}
    totals.update({row["kind"]: int(row["total"]) for row in rows})
    return totals


def _entry(authorization: FeeAuthorization, *, kind: str, amount: int, now: datetime, fill_id: str = ""):
    return FeeLedgerEntry(
        fee_authorization=authorization,
        kind=kind,
        fill_id=fill_id,
        amount=amount,
        partner_id=authorization.partner_id,
        customer_id=authorization.customer_id,
        exchange=authorization.exchange,
        created_at=now,
    )


def _check_fill_figures(*, filled_total: Decimal, size: Decimal) -> None:
    if not isinstance(filled_total, Decimal) or not isinstance(size, Decimal):
        raise TypeError("filled_total and size must be Decimal")
    if size <= 0 or filled_total < 0 or filled_total > size:
        raise FeeLedgerError(f"A filled total of {filled_total} is impossible for an order of size {size}.")


@transaction.atomic
def fee_ledger_record_authorized(
    *, fee_authorization: FeeAuthorization, now: datetime | None = None
) -> FeeLedgerEntry:
    """Book the fee Parsec pulled into escrow when it accepted the order; once per authorization."""
    authorization = _locked(fee_authorization)
    existing = FeeLedgerEntry.objects.filter(fee_authorization=authorization, kind=Kind.AUTHORIZED).first()
    if existing is not None:
        return existing
    if authorization.state not in (State.ESCROWED, State.SETTLED, State.REFUNDED):
        raise FeeLedgerError(
            f"A fee authorization that is {authorization.state} has not been pulled into escrow."
        )
    entry = _entry(
        authorization, kind=Kind.AUTHORIZED, amount=authorization.fee_amount, now=now or timezone.now()
    )
    entry.save()
    return entry


@transaction.atomic
def fee_ledger_record_fill(
    *,
    fee_authorization: FeeAuthorization,
    fill_id: str,
    filled_total: Decimal,
    size: Decimal,
    now: datetime | None = None,
) -> list[FeeLedgerEntry]:
    """Book the escrow's distribution for one new fill; a fill already booked adds nothing.

    `filled_total` is the order's cumulative filled size after this fill. The distributed total becomes
    floor(fee x filled_total / size) (never less than already booked), split between the affiliate
    (floor of its cumulative bps share) and the treasury (the rest); a partner without its own
    affiliate address is owed its revenue share of the affiliate part off-chain (`partner_share`).
    """
    if not isinstance(fill_id, str) or not fill_id or len(fill_id) > 128:
        raise FeeLedgerError("A fill id must be a non-empty string of at most 128 characters.")
    _check_fill_figures(filled_total=filled_total, size=size)
    now = now or timezone.now()
    authorization = _locked(fee_authorization)
    if FeeLedgerEntry.objects.filter(
        fee_authorization=authorization, kind=Kind.DISTRIBUTED_TREASURY, fill_id=fill_id
    ).exists():
        return []  # a replayed fill
    if authorization.state != State.ESCROWED:
        raise FeeLedgerError(
            f"Fill {fill_id} cannot be booked: the fee authorization is {authorization.state}, not escrowed."
        )
    booked = _booked(authorization)
    authorized = booked[Kind.AUTHORIZED]
    if authorized == 0:
        raise FeeLedgerError(f"Fill {fill_id} cannot be booked before the authorized fee is.")
    distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
    # max(): a fill reported late, after a larger cumulative total, must not take anything back.
    cumulative = max(cumulative_share(authorized, part=filled_total, whole=size), distributed)
    affiliate_cumulative = bps_share(cumulative, authorization.affiliate_fee_bps)
    affiliate_part = affiliate_cumulative - booked[Kind.DISTRIBUTED_AFFILIATE]
    treasury_part = (cumulative - distributed) - affiliate_part
    if affiliate_part < 0 or treasury_part < 0 or cumulative > authorized:
        raise FeeLedgerError(f"Fill {fill_id} would break the fee split; the ledger needs a look.")
    entries = [
        _entry(
            authorization, kind=Kind.DISTRIBUTED_AFFILIATE, amount=affiliate_part, now=now, fill_id=fill_id
        ),
        _entry(authorization, kind=Kind.DISTRIBUTED_TREASURY, amount=treasury_part, now=now, fill_id=fill_id),
    ]
    if authorization.partner_share_bps:
        share_cumulative = bps_share(affiliate_cumulative, authorization.partner_share_bps)
        entries.append(
            _entry(
                authorization,
                kind=Kind.PARTNER_SHARE,
                amount=share_cumulative - booked[Kind.PARTNER_SHARE],
                now=now,
                fill_id=fill_id,
            )
        )
    return FeeLedgerEntry.objects.bulk_create(entries)


@transaction.atomic
def fee_ledger_record_final(
    *, fee_authorization: FeeAuthorization, filled_total: Decimal, size: Decimal, now: datetime | None = None
) -> FeeLedgerEntry:
    """The order is final and every fill is booked: refund the rest and close the authorization.

    Afterwards distributed + refunded == authorized exactly; the state becomes settled (something
    filled) or refunded (nothing did). Calling it again returns the same refund.
    """
    _check_fill_figures(filled_total=filled_total, size=size)
    now = now or timezone.now()
    authorization = _locked(fee_authorization)
    existing = FeeLedgerEntry.objects.filter(fee_authorization=authorization, kind=Kind.REFUNDED).first()
    if existing is not None:
        return existing
    if authorization.state != State.ESCROWED:
        raise FeeLedgerError(f"A fee authorization that is {authorization.state} cannot be settled.")
    booked = _booked(authorization)
    authorized = booked[Kind.AUTHORIZED]
    if authorized == 0:
        raise FeeLedgerError("The authorized fee must be booked before the order's fee is settled.")
    distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
    expected = cumulative_share(authorized, part=filled_total, whole=size)
    if distributed != expected:
        raise FeeLedgerError(
            f"The fills booked distribute {distributed} base units, but a filled total of {filled_total} "
            f"distributes {expected}: book the missing fills before settling."
        )
    entry = _entry(authorization, kind=Kind.REFUNDED, amount=authorized - distributed, now=now)
    entry.save()
    closed = (fee_authorization_mark_settled if filled_total > 0 else fee_authorization_mark_refunded)(
        fee_authorization_id=authorization.pk, now=now
    )
    if not closed:  # unreachable while the row is locked; a guard against a silent half-close
        raise FeeLedgerError("The fee authorization changed state while it was being settled.")
    fee_event_record(
        fee_authorization_id=authorization.pk,
        type="fee.settled" if filled_total > 0 else "fee.refunded",
        now=now,
    )
    # The caller's instance reflects the new state, as after any other transition it asked for.
    fee_authorization.state = State.SETTLED if filled_total > 0 else State.REFUNDED
    fee_authorization.finished_at = now
    return entry
