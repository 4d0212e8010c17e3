"""The simulator's fee escrow: its configuration and the checks the escrow contract makes on a fee_auth."""

from __future__ import annotations

from django.conf import settings
from eth_hash.auto import keccak

from parsec.contract import (
    FEE_ESCROW_EXCHANGES,
    BadRequest,
    MissingParameter,
    OrderRequest,
    SignatureError,
    fee_amount_for,
    pull_fee_typed_data,
    recover_pull_fee_signer,
    to_checksum,
)

CHAIN_ID = 137  # Polygon, where Parsec's escrow lives


def escrow_config_json() -> dict:
    return {
        "fee_escrow_enabled": settings.PARSEC_SIM_FEE_ESCROW_ENABLED,
        "fee_bps": settings.PARSEC_SIM_FEE_BPS,
        "affiliate_address": settings.PARSEC_SIM_AFFILIATE_ADDRESS or None,
        "escrow_contract_address": settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS,
        # A string, as Parsec sends it: base units can outgrow a JSON number in some parsers.
        "min_fee_usdc": str(settings.PARSEC_SIM_MIN_FEE_USDC),
        "min_fee_bps": settings.PARSEC_SIM_MIN_FEE_BPS,
        "treasury_address": settings.PARSEC_SIM_TREASURY_ADDRESS or None,
        "affiliate_fee_bps": settings.PARSEC_SIM_AFFILIATE_FEE_BPS,
    }


def safe_address_for(eoa_address: str) -> str:
    """The managed Safe the simulator 'deploys' for an EOA: a stable address derived from it."""
    digest = keccak(b"parsec-sim-safe" + bytes.fromhex(eoa_address[2:]))
    return to_checksum("0x" + digest[-20:].hex())


def allowed_fee_amounts(order: OrderRequest) -> dict[int, int]:
    """The fee amounts the escrow honours for this order, by the basis points they correspond to.

    A builder may charge each end-user its own rate between the escrow's minimum and its tier's cap
    (Parsec keeps a fee_bps per builder user), so any exactly computed amount at a whole rate in that
    range is accepted; an amount rounded any other way is not.
    """
    return {
        fee_amount_for(
            price=order.price, size=order.size, fee_bps=bps, min_fee_usdc=settings.PARSEC_SIM_MIN_FEE_USDC
        ): bps
        for bps in range(max(settings.PARSEC_SIM_MIN_FEE_BPS, 1), settings.PARSEC_SIM_MAX_FEE_BPS + 1)
    }


def required_fee_amount(order: OrderRequest) -> int:
    """The fee at the escrow's default rate, the amount named when a fee_auth is refused."""
    return fee_amount_for(
        price=order.price,
        size=order.size,
        fee_bps=settings.PARSEC_SIM_FEE_BPS,
        min_fee_usdc=settings.PARSEC_SIM_MIN_FEE_USDC,
    )


def effective_fee_bps(customer_fee_bps: int | None) -> int:
    return settings.PARSEC_SIM_FEE_BPS if customer_fee_bps is None else customer_fee_bps


def fee_required(order: OrderRequest, *, customer_fee_bps: int | None = None) -> bool:
    return (
        order.exchange in FEE_ESCROW_EXCHANGES
        and settings.PARSEC_SIM_FEE_ESCROW_ENABLED
        and effective_fee_bps(customer_fee_bps) > 0
    )


def check_fee_auth(
    *,
    order: OrderRequest,
    now: int,
    customer_eoa: str | None,
    customer_safe: str | None,
    customer_fee_bps: int | None = None,
) -> None:
    """Refuse, with a sentence naming the failed check, a fee_auth the escrow would not honour.

    The once-only use of the escrow order id is checked by the caller against stored orders.
    """
    fee_auth = order.fee_auth
    if fee_auth is None:
        if fee_required(order, customer_fee_bps=customer_fee_bps):
            raise MissingParameter(
                f"fee_auth is required on {order.exchange}: the builder fee of "
                f"{effective_fee_bps(customer_fee_bps)} bps is collected through the fee escrow",
                field="fee_auth",
            )
        return
    signer = order.signer_address
    # validate_create_order has already required payer_address == fee_auth.payer and a signer_address.
    if fee_auth.deadline <= now:
        raise BadRequest(
            "fee_auth.deadline has passed; sign a new fee authorization", field="fee_auth.deadline"
        )
    typed_data = pull_fee_typed_data(
        chain_id=CHAIN_ID,
        verifying_contract=settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS,
        order_id=fee_auth.order_id,
        payer=fee_auth.payer,
        fee_amount=fee_auth.fee_amount,
        deadline=fee_auth.deadline,
    )
    try:
        recovered = recover_pull_fee_signer(
            typed_data=typed_data,
            signature=fee_auth.signature,
            chain_id=CHAIN_ID,
            verifying_contract=settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS,
        )
    except SignatureError as error:
        raise BadRequest(
            f"fee_auth.signature is invalid: {error.message}", field="fee_auth.signature"
        ) from None
    if recovered != signer:
        raise BadRequest(
            "fee_auth.signature was not made by signer_address for this PullFee message",
            field="fee_auth.signature",
        )
    payer_is_signer = fee_auth.payer == signer
    payer_is_signers_safe = bool(customer_safe) and fee_auth.payer == customer_safe and customer_eoa == signer
    if not (payer_is_signer or payer_is_signers_safe):
        raise BadRequest(
            "fee_auth.payer must be the signer itself or the customer's onboarded Safe owned by the signer",
            field="fee_auth.payer",
        )
    if fee_auth.fee_amount not in allowed_fee_amounts(order):
        raise BadRequest(
            f"fee_auth.fee_amount must be ceil(price x size x fee_bps / 10000) USDC base units at a rate "
            f"from {settings.PARSEC_SIM_MIN_FEE_BPS} to {settings.PARSEC_SIM_MAX_FEE_BPS} bps, and at least "
            f"{settings.PARSEC_SIM_MIN_FEE_USDC} (at the default {settings.PARSEC_SIM_FEE_BPS} bps: "
            f"{required_fee_amount(order)})",
            field="fee_auth.fee_amount",
        )
