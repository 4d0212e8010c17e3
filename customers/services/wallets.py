"""Wallet challenges (Sign-In with Ethereum), their proof, and the customer's signer wallet link."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from builder_platform.enqueue import enqueue_on_commit
from builder_platform.locks import transaction_lock
from customers.addresses import InvalidAddress, checksum_address
from customers.errors import CustomerError, CustomerErrorCode, WalletProofError, WalletProofErrorCode
from customers.event_log import customer_event_record
from customers.models import Customer, Partner, Wallet, WalletChallenge
from customers.siwe import (
    SignatureError,
    SiweMessage,
    SiweMessageError,
    personal_sign_recover,
    siwe_message_build,
    siwe_message_parse,
)
from customers.task_names import CustomerTask

logger = logging.getLogger(__name__)


LINK_STATEMENT = "Link this wallet to your trading account. Signing costs nothing and sends no transaction."
SIGN_IN_STATEMENT = "Sign in with this wallet. Signing costs nothing and sends no transaction."


# --- Wallet challenges (Sign-In with Ethereum) ----------------------------------------------------------


@transaction.atomic
def wallet_challenge_create(
    *, customer: Customer | None = None, address: str, now: datetime
) -> WalletChallenge:
    """An EIP-4361 message for `address` to sign, usable once within WALLET_CHALLENGE_TTL_SECONDS.

    With a customer it links a wallet to that customer; without one it is a web sign-in challenge.
    """
    if customer is not None and customer.status == Customer.Status.DISABLED:
        raise CustomerError(
            "This customer is disabled; wallets cannot be linked to it.",
            code=CustomerErrorCode.CUSTOMER_DISABLED,
            status=409,
        )
    try:
        address = checksum_address(address)
    except InvalidAddress as exc:
        raise CustomerError(str(exc), code=CustomerErrorCode.INVALID_ADDRESS) from None
    # Count-then-insert: the cap holds only if concurrent requests for this address take turns.
    transaction_lock(f"wallet-challenges:{customer.pk if customer is not None else 'sign-in'}:{address}")
    still_open = WalletChallenge.objects.filter(
        address=address, customer=customer, used_at__isnull=True, expires_at__gt=now
    ).count()
    if still_open >= settings.WALLET_CHALLENGE_MAX_OPEN:
        raise CustomerError(
            f"{still_open} messages for this address are still waiting to be signed: sign one of them, "
            f"or ask again once they expire (within {settings.WALLET_CHALLENGE_TTL_SECONDS} s).",
            code=CustomerErrorCode.TOO_MANY_CHALLENGES,
            status=429,
        )
    # Whole seconds, so the timestamps in the text and in the row are the same instant.
    issued_at = now.replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=settings.WALLET_CHALLENGE_TTL_SECONDS)
    nonce = secrets.token_hex(16)  # 128 random bits, alphanumeric as EIP-4361 requires
    message = siwe_message_build(
        domain=settings.SIWE_DOMAIN,
        address=address,
        uri=settings.SIWE_URI,
        chain_id=settings.SIWE_CHAIN_ID,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expires_at,
        statement=LINK_STATEMENT if customer is not None else SIGN_IN_STATEMENT,
    )
    return WalletChallenge.objects.create(
        nonce=nonce,
        customer=customer,
        address=address,
        message=message,
        issued_at=issued_at,
        expires_at=expires_at,
    )


@transaction.atomic
def wallet_challenges_purge(*, now: datetime) -> int:
    """Delete challenges nobody needs any more; how many.

    Unused ones go an hour after they expire (they can never be used), used web sign-in ones after
    WALLET_CHALLENGE_RETENTION_DAYS. Used wallet-link challenges stay: each is the message a customer's
    wallet signed to link it.
    """
    unused = Q(used_at__isnull=True, expires_at__lt=now - timedelta(hours=1))
    old_sign_in = Q(
        customer__isnull=True,
        used_at__isnull=False,
        expires_at__lt=now - timedelta(days=settings.WALLET_CHALLENGE_RETENTION_DAYS),
    )
    deleted, _ = WalletChallenge.objects.filter(unused | old_sign_in).delete()
    return deleted


def _signed_message_read(*, address: str, message: str, signature: str) -> tuple[str, SiweMessage, str]:
    """(checksummed address, parsed message, recovered signer) of a signed sign-in message this
    platform could have issued; raises WalletProofError for anything malformed or foreign."""
    try:
        address = checksum_address(address)
    except InvalidAddress as exc:
        raise WalletProofError(str(exc), code=WalletProofErrorCode.INVALID_ADDRESS) from None
    try:
        parsed = siwe_message_parse(message)
    except SiweMessageError as exc:
        raise WalletProofError(
            f"The message is not a valid sign-in message: {exc}", code=WalletProofErrorCode.MESSAGE_MALFORMED
        ) from None
    try:
        recovered = personal_sign_recover(message=message, signature=signature)
    except SignatureError as exc:
        raise WalletProofError(str(exc), code=exc.code) from None
    if parsed.address != address:
        raise WalletProofError(
            "The message was issued for a different address.", code=WalletProofErrorCode.ADDRESS_MISMATCH
        )
    expected = {
        "domain": settings.SIWE_DOMAIN,
        "URI": settings.SIWE_URI,
        "chain id": settings.SIWE_CHAIN_ID,
    }
    actual = {"domain": parsed.domain, "URI": parsed.uri, "chain id": parsed.chain_id}
    for name, value in expected.items():
        if actual[name] != value:
            raise WalletProofError(
                f"The message names {name} {actual[name]!s}; this platform issues {value!s}.",
                code=WalletProofErrorCode.MESSAGE_MISMATCH,
            )
    return address, parsed, recovered


def wallet_challenge_verify(
    *, customer: Customer | None = None, address: str, message: str, signature: str, now: datetime
) -> WalletChallenge:
    """Check a signed challenge and consume it; raises WalletProofError with a code saying what failed.

    `customer` scopes the lookup: a challenge issued for one customer (or for web sign-in, None)
    proves nothing for another. Exactly one concurrent caller consumes a given challenge.
    """
    address, parsed, recovered = _signed_message_read(address=address, message=message, signature=signature)
    challenge = WalletChallenge.objects.filter(nonce=parsed.nonce, customer=customer).first()
    if challenge is None:
        raise WalletProofError(
            "No challenge was issued with this nonce; request a new one.",
            code=WalletProofErrorCode.CHALLENGE_NOT_FOUND,
        )
    if challenge.address != address:
        raise WalletProofError(
            "The challenge was issued for a different address.", code=WalletProofErrorCode.ADDRESS_MISMATCH
        )
    if challenge.message != message:
        raise WalletProofError(
            "The message differs from the one issued; sign the issued message exactly.",
            code=WalletProofErrorCode.MESSAGE_MISMATCH,
        )
    if challenge.used_at is not None:
        raise WalletProofError(
            "This challenge was already used; request a new one.",
            code=WalletProofErrorCode.CHALLENGE_USED,
            status=409,
        )
    if challenge.expires_at <= now:
        raise WalletProofError(
            "This challenge has expired; request a new one.", code=WalletProofErrorCode.CHALLENGE_EXPIRED
        )
    if recovered != address:
        raise WalletProofError(
            "The signature was not made by this address's key.", code=WalletProofErrorCode.SIGNER_MISMATCH
        )

    consumed = WalletChallenge.objects.filter(
        pk=challenge.pk, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if consumed != 1:
        raise WalletProofError(
            "This challenge was already used; request a new one.",
            code=WalletProofErrorCode.CHALLENGE_USED,
            status=409,
        )
    challenge.used_at = now
    return challenge


def wallet_make_current(*, customer: Customer, role: str, address: str, now: datetime) -> Wallet:
    """Make `address` the customer's current wallet for `role`, keeping earlier ones as history."""
    Wallet.objects.filter(customer=customer, role=role, replaced_at__isnull=True).exclude(
        address=address
    ).update(replaced_at=now)
    wallet, _ = Wallet.objects.update_or_create(
        customer=customer, role=role, address=address, defaults={"replaced_at": None, "verified_at": now}
    )
    return wallet


# Other apps' reasons why a customer's signer cannot be replaced right now (orders registers one:
# orders not final yet). Each takes the customer and returns a sentence, or None. A registry, because
# customers may not import the apps that build on it.
signer_replacement_blockers: list[Callable[[Customer], str | None]] = []


@transaction.atomic
def wallet_signer_link(
    *,
    customer: Customer,
    address: str,
    message: str,
    signature: str,
    now: datetime,
    replace: bool = False,
) -> tuple[Wallet, bool]:
    """Link the address that signed the customer's challenge as its signer; (wallet, newly linked).

    One signer per customer, and one customer per signer within a partner. Parsec's managed Safe is
    created for, and owned by, that EOA, and onboarding refuses a different EOA for a builder user
    already onboarded, so a different address is refused unless `replace` asks for a replacement (see
    _wallet_signer_replace). Proving the current signer again re-queues onboarding while the customer
    is still provisioning (a partner's way to retry after a refusal).
    """
    # Lock the partner, then the customer: two links at once can neither both become the customer's
    # signer nor make one address the signer of two of the partner's customers.
    Partner.objects.select_for_update().filter(pk=customer.partner_id).first()
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.DISABLED:
        raise CustomerError(
            "This customer is disabled; wallets cannot be linked to it.",
            code=CustomerErrorCode.CUSTOMER_DISABLED,
            status=409,
        )
    challenge = wallet_challenge_verify(
        customer=customer, address=address, message=message, signature=signature, now=now
    )
    # Raising rolls the transaction back, so the challenge is not consumed by a refusal.
    _signer_of_another_customer_refuse(customer=customer, address=challenge.address)
    current = Wallet.objects.filter(
        customer=customer, role=Wallet.Role.SIGNER, replaced_at__isnull=True
    ).first()
    if current is not None and current.address != challenge.address:
        if not replace:
            raise CustomerError(
                f"This customer's signer is already {current.address}; a customer has one signer. To "
                "replace it, send the new wallet's signed challenge again with replace_signer: true.",
                code=CustomerErrorCode.SIGNER_ALREADY_LINKED,
                status=409,
            )
        wallet = _wallet_signer_replace(customer=customer, address=challenge.address, now=now)
        customer_event_record(customer_id=customer.pk, type="customer.wallet_linked", now=now)
        return wallet, True
    if current is not None:
        current.verified_at = now
        current.save(update_fields=["verified_at"])
        wallet, linked = current, False
    else:
        wallet = wallet_make_current(
            customer=customer, role=Wallet.Role.SIGNER, address=challenge.address, now=now
        )
        linked = True
    requeued = Customer.objects.filter(pk=customer.pk, status=Customer.Status.PROVISIONING).update(
        provisioning_error="", provisioning_requested_at=now, updated_at=now
    )
    if requeued:
        enqueue_on_commit(CustomerTask.ONBOARD, str(customer.pk))
    if linked:
        customer_event_record(customer_id=customer.pk, type="customer.wallet_linked", now=now)
    return wallet, linked


def _signer_of_another_customer_refuse(*, customer: Customer, address: str) -> None:
    """A wallet signs for one customer of a partner: refuse it as the signer of a second one."""
    other = (
        Customer.objects.filter(
            partner_id=customer.partner_id,
            wallets__role=Wallet.Role.SIGNER,
            wallets__address=address,
            wallets__replaced_at__isnull=True,
        )
        .exclude(pk=customer.pk)
        .first()
    )
    if other is not None:
        raise CustomerError(
            f"{address} is already the signer wallet of your customer {other.id} "
            f"(external_id {other.external_id!r}); a wallet signs for one customer only.",
            code=CustomerErrorCode.SIGNER_LINKED_TO_ANOTHER_CUSTOMER,
            status=409,
        )


def _wallet_signer_replace(*, customer: Customer, address: str, now: datetime) -> Wallet:
    """Make a proven new address the customer's signer, in place of its current signer and payer.

    Parsec binds a builder user to one EOA for good (onboarding refuses another), and the payer is the
    Safe that EOA owns, so the customer starts again at Parsec: a new builder user (the next
    generation of its external id), onboarded with the new signer, gives it a new Safe. Until then it
    is provisioning and cannot trade. Refused while any order of the customer is not final: those
    orders live under the old builder user (its reconciliation and cancels need it), and a fee
    awaiting a signature names the old payer, which the new signer does not own.
    """
    for blocker in signer_replacement_blockers:
        reason = blocker(customer)
        if reason:
            raise CustomerError(
                f"The signer cannot be replaced now: {reason}. Cancel them or wait until they are final.",
                code=CustomerErrorCode.CUSTOMER_HAS_OPEN_ORDERS,
                status=409,
            )
    Wallet.objects.filter(customer=customer, replaced_at__isnull=True).update(replaced_at=now)
    wallet = wallet_make_current(customer=customer, role=Wallet.Role.SIGNER, address=address, now=now)
    previous = list(customer.previous_parsec_customer_ids)
    if customer.parsec_customer_id:
        previous.append(customer.parsec_customer_id)
    Customer.objects.filter(pk=customer.pk).update(
        status=Customer.Status.PROVISIONING,
        parsec_customer_id=None,
        parsec_generation=F("parsec_generation") + 1,
        parsec_fee_version=0,
        parsec_fee_bps=None,
        parsec_fee_read_at=None,
        fee_sync_refused_version=None,
        fee_sync_error="",
        previous_parsec_customer_ids=previous,
        provisioning_error="",
        provisioning_requested_at=now,
        updated_at=now,
    )
    logger.info(
        "customer %s signer replaced; builder user %s left behind, a new one is being provisioned",
        customer.pk,
        customer.parsec_customer_id,
    )
    enqueue_on_commit(CustomerTask.PROVISION, str(customer.pk))
    return wallet
