"""Fee authorizations: the PullFee a customer signs (EIP-712), its verification, and its states."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from customers.models import Customer, Partner, Wallet
from fees.errors import FeeError, FeeErrorCode
from fees.event_log import fee_event_record
from fees.models import BIGINT_MAX, EscrowConfig, FeeAuthorization
from fees.policy import FeeQuote, fee_applies, fee_quote, partner_fee_validate
from fees.services.escrow_config import escrow_config_current
from parsec.contract import (
    SignatureError,
    normalize_signature,
    pull_fee_typed_data,
    recover_pull_fee_signer,
)
from referrals import services as referral_services

State = FeeAuthorization.State


MAX_FEE_AUTH_DEADLINE_SECONDS = 86_400  # the escrow refuses deadlines further out than a day


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
    *,
    partner: Partner,
    customer: Customer,
    exchange: str,
    price: Decimal,
    size: Decimal,
    now: datetime,
    may_refresh_config: bool,
) -> FeeAuthorization | None:
    """The PullFee the customer must sign for a new order, or None when the order carries no fee.

    Reads the escrow config first (refreshing it when stale if `may_refresh_config`: a caller inside a
    transaction passes False, see escrow_config_current); raises
    EscrowConfigUnavailable (503) or FeeError for a partner fee outside the policy or a customer
    without a signer and a payer.
    """
    if not fee_applies(partner=partner, exchange=exchange):
        return None  # attribution only or no escrow: never blocked, not even by a stale config
    config = escrow_config_current(now=now, may_refresh=may_refresh_config)
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
        raise FeeError(
            "The fee on this order is too large; reduce its size.", code=FeeErrorCode.FEE_TOO_LARGE
        )
    wallets = _current_wallets(customer.pk)
    missing = [role for role in (Wallet.Role.SIGNER, Wallet.Role.PAYER) if role not in wallets]
    if missing:
        raise FeeError(
            f"The customer has no {' and no '.join(missing)} wallet yet, so no fee can be authorized.",
            code=FeeErrorCode.CUSTOMER_NOT_READY,
            status=409,
        )
    return _fee_authorization_create(
        partner=partner,
        customer=customer,
        exchange=exchange,
        quote=quote,
        config=config,
        wallets=wallets,
        now=now,
    )


def _fee_authorization_create(
    *,
    partner: Partner,
    customer: Customer,
    exchange: str,
    quote: FeeQuote,
    config: EscrowConfig,
    wallets: dict[str, str],
    now: datetime,
) -> FeeAuthorization:
    """The authorization row and the EIP-712 PullFee it asks the customer's signer to sign."""
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
    terms = referral_services.commission_terms(
        partner=partner,
        customer=customer,
        signer=wallets[Wallet.Role.SIGNER],
        payer=wallets[Wallet.Role.PAYER],
        now=now,
    )
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
            # A referred customer's referring partner, else the partner unless the escrow pays it directly.
            partner_share_bps=terms.share_bps,
            beneficiary_id=terms.beneficiary_id,
            deadline=datetime.fromtimestamp(deadline, tz=UTC),
            typed_data=typed_data,
            created_at=now,
        )


def _not_requested_error(state: str) -> FeeError:
    if state == State.EXPIRED:
        return FeeError(
            "This fee authorization has expired; place the order again.", code=FeeErrorCode.FEE_AUTH_EXPIRED
        )
    return FeeError(
        "This fee authorization has already been signed and used; each one is accepted once.",
        code=FeeErrorCode.FEE_AUTH_USED,
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
            code=FeeErrorCode.SIGNER_REPLACED,
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
            code=FeeErrorCode.SIGNER_OF_ANOTHER_CUSTOMER,
        )
    return FeeError(
        "The signature does not match this order's fee authorization: either the signed typed data "
        "differs from the order's fee_authorization.typed_data (any changed field, domain included, "
        f"changes what is signed), or it was not signed by the customer's signer wallet {expected}. "
        "Sign the typed data exactly as issued, with that wallet.",
        code=FeeErrorCode.SIGNER_MISMATCH,
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
        raise FeeError("No fee authorization with this id.", code=FeeErrorCode.NOT_FOUND, status=404)
    if authorization.state != State.REQUESTED:
        raise _not_requested_error(authorization.state)
    if authorization.deadline <= now:
        raise FeeError(
            "This fee authorization's deadline has passed; place the order again for a new one.",
            code=FeeErrorCode.FEE_AUTH_EXPIRED,
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
            code=FeeErrorCode.PAYER_MISMATCH,
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
