"""Writes: partners and keys, idempotent customers, wallet challenges and links, provisioning at Parsec."""

from __future__ import annotations

import contextlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from kombu.exceptions import OperationalError as BrokerUnavailable

from customers import selectors
from customers.addresses import InvalidAddress, checksum_address
from customers.api_keys import api_key_generate, api_key_hash, api_key_lookup_prefix
from customers.event_log import customer_event_record
from customers.models import Customer, Partner, PartnerApiKey, Wallet, WalletChallenge
from customers.siwe import (
    SignatureError,
    SiweMessageError,
    personal_sign_recover,
    siwe_message_build,
    siwe_message_parse,
)
from parsec.client import ParsecRejected
from parsec.conf import get_client

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX_LENGTH = 128
# Fee escrow, the reason a customer needs a payer, exists on Polymarket only.
ONBOARDING_EXCHANGE = "polymarket"
LINK_STATEMENT = "Link this wallet to your trading account. Signing costs nothing and sends no transaction."
SIGN_IN_STATEMENT = "Sign in with this wallet. Signing costs nothing and sends no transaction."


class CustomerError(Exception):
    """An expected refusal, with a machine code and a sentence the caller can act on."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WalletProofError(CustomerError):
    """A signed wallet challenge that does not prove what it should."""


# --- Partners and API keys ----------------------------------------------------------------------


@transaction.atomic
def partner_create(
    *,
    name: str,
    fee_bps: int | None = None,
    affiliate_address: str = "",
    revenue_share_bps: int = 0,
    is_builtin: bool = False,
) -> Partner:
    """A new partner; raises django's ValidationError on a taken name or a value out of range."""
    if affiliate_address:
        # A bad address is left as given: full_clean() names the field and says what is wrong.
        with contextlib.suppress(InvalidAddress):
            affiliate_address = checksum_address(affiliate_address)
    partner = Partner(
        name=name.strip(),
        fee_bps=fee_bps,
        affiliate_address=affiliate_address,
        revenue_share_bps=revenue_share_bps,
        is_builtin=is_builtin,
    )
    partner.full_clean()
    partner.save()
    return partner


@transaction.atomic
def partner_api_key_create(*, partner: Partner, name: str = "") -> tuple[PartnerApiKey, str]:
    """A new key for the partner and its raw text, which exists only in this return value."""
    raw_key = api_key_generate()
    api_key = PartnerApiKey.objects.create(
        partner=partner, name=name, prefix=api_key_lookup_prefix(raw_key), key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


@transaction.atomic
def partner_api_key_revoke(*, api_key: PartnerApiKey, now: datetime) -> bool:
    """Revoke a key for good; False when it was already revoked."""
    revoked = PartnerApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        api_key.revoked_at = now
    return revoked == 1


def partner_api_key_touch(*, api_key: PartnerApiKey, now: datetime) -> bool:
    """Record that the key was used, at most once per API_KEY_TOUCH_INTERVAL_SECONDS.

    Called on every request, so it writes only when the loaded value is stale (and opens a
    transaction only then), with a conditional UPDATE so concurrent requests write it once.
    """
    cutoff = now - timedelta(seconds=settings.API_KEY_TOUCH_INTERVAL_SECONDS)
    if api_key.last_used_at is not None and api_key.last_used_at > cutoff:
        return False
    with transaction.atomic():
        touched = (
            PartnerApiKey.objects.filter(pk=api_key.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff))
            .update(last_used_at=now)
        )
    if touched:
        api_key.last_used_at = now
    return touched == 1


# --- Customers -------------------------------------------------------------------------------------


def external_id_problem(value: str) -> str | None:
    """Why a partner's external id is unacceptable, or None. Shared by the API and the service."""
    if not value:
        return "Enter the id your system uses for this user (1 to 128 characters)."
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        return f"Use at most {EXTERNAL_ID_MAX_LENGTH} characters."
    if not value.isprintable():
        return "Use printable characters only (no control characters, tabs or line breaks)."
    if value != value.strip():
        return "Remove the spaces at the start or end."
    return None


def _enqueue_after_commit(task_name: str, customer_ids: Iterable[uuid.UUID]) -> None:
    """Queue provisioning work once the rows it reads are committed.

    A broker outage must not fail the request that already committed: the customer row is the record
    of the work, and the sweep re-enqueues what was not sent.
    """
    ids = [str(customer_id) for customer_id in customer_ids]

    def send() -> None:
        from customers import tasks  # tasks import this module

        task = {"provision": tasks.customer_provision_task, "onboard": tasks.wallet_onboard_task}[task_name]
        for customer_id in ids:
            try:
                task.delay(customer_id)
            except BrokerUnavailable:
                logger.warning("broker unavailable; customer %s left for the provisioning sweep", customer_id)

    if ids:
        transaction.on_commit(send)


@transaction.atomic
def customer_create(
    *, partner: Partner, external_id: str, email: str = "", now: datetime
) -> tuple[Customer, bool]:
    """The partner's customer with this external id, created if new; (customer, created).

    Idempotent on external_id, as Parsec's builder users are: a repeat answers the existing customer
    unchanged. A repeat that sends another email is refused (customer_email_differs) rather than
    answered as if it had been applied: a create never changes a customer, PATCH does. Concurrent
    first requests race on the unique constraint; the losers read the winner's row.
    """
    problem = external_id_problem(external_id)
    if problem:
        raise CustomerError(problem, code="invalid_external_id")
    existing = Customer.objects.filter(partner=partner, external_id=external_id).first()
    if existing is not None:
        return _customer_repeat(existing, email=email), False
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives the lost race
            customer = Customer.objects.create(
                partner=partner, external_id=external_id, email=email or "", provisioning_requested_at=now
            )
    except IntegrityError:
        existing = Customer.objects.filter(partner=partner, external_id=external_id).first()
        if existing is None:
            raise  # some other constraint: a bug, not a race
        return _customer_repeat(existing, email=email), False
    _enqueue_after_commit("provision", [customer.id])
    return customer, True


def _customer_repeat(existing: Customer, *, email: str) -> Customer:
    if email and email.lower() != existing.email.lower():
        raise CustomerError(
            f"A customer with external_id {existing.external_id!r} already exists with another email, "
            f"which was not changed. To change it, send PATCH /api/v1/customers/{existing.id} with "
            "the new email.",
            code="customer_email_differs",
        )
    return existing


_UNSET = object()


@transaction.atomic
def customer_update(
    *, customer: Customer, email: str | object | None = _UNSET, status: str | object = _UNSET, now: datetime
) -> Customer:
    """A partner's change of its customer: the email, or its status between active and disabled.

    Disabling stops new trading (orders, fee signatures, wallet links are refused with
    customer_disabled); orders already placed are left as they are, for the partner to cancel if it
    wants. Parsec is not told: every order reaches it through us. Enabling again makes the customer
    active when it is fully provisioned, or resumes provisioning where it stopped.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    fields: dict[str, object] = {}
    if email is not _UNSET:
        fields["email"] = email or ""
    if status is not _UNSET and status != customer.status:
        if status == Customer.Status.DISABLED:
            fields["status"] = Customer.Status.DISABLED
        elif status == Customer.Status.ACTIVE and customer.status == Customer.Status.DISABLED:
            fields.update(_customer_enable(customer=customer, now=now))
        elif status == Customer.Status.ACTIVE:
            raise CustomerError(
                "This customer is still provisioning; it becomes active by itself once its Parsec "
                "account and wallets are ready (see provisioning_step).",
                code="customer_still_provisioning",
            )
        else:
            raise CustomerError("status must be active or disabled.", code="invalid_status")
    if fields:
        Customer.objects.filter(pk=customer.pk).update(**fields, updated_at=now)
        customer.refresh_from_db()
        if fields.get("status") == Customer.Status.ACTIVE:
            customer_event_record(customer_id=customer.pk, type="customer.active", now=now)
    return customer


def _customer_enable(*, customer: Customer, now: datetime) -> dict[str, object]:
    """The fields that take a disabled customer back: active when ready, else provisioning again."""
    wallets = set(customer.wallets.filter(replaced_at__isnull=True).values_list("role", flat=True))
    if customer.parsec_customer_id and {Wallet.Role.SIGNER, Wallet.Role.PAYER} <= wallets:
        return {"status": Customer.Status.ACTIVE}
    if not customer.parsec_customer_id:
        _enqueue_after_commit("provision", [customer.pk])
    elif Wallet.Role.SIGNER in wallets:
        _enqueue_after_commit("onboard", [customer.pk])
    return {"status": Customer.Status.PROVISIONING, "provisioning_requested_at": now}


@transaction.atomic
def customer_provisioning_retry(*, customer: Customer, now: datetime) -> bool:
    """Clear a recorded Parsec refusal and queue the missing step again (an admin action)."""
    updated = Customer.objects.filter(pk=customer.pk, status=Customer.Status.PROVISIONING).update(
        provisioning_error="", provisioning_requested_at=now, updated_at=now
    )
    if not updated:
        return False
    if not customer.parsec_customer_id:
        _enqueue_after_commit("provision", [customer.pk])
    elif customer.wallets.filter(role=Wallet.Role.SIGNER, replaced_at__isnull=True).exists():
        _enqueue_after_commit("onboard", [customer.pk])
    # Otherwise the next step is the partner's: linking a wallet queues onboarding.
    return True


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
            "This customer is disabled; wallets cannot be linked to it.", code="customer_disabled"
        )
    try:
        address = checksum_address(address)
    except InvalidAddress as exc:
        raise CustomerError(str(exc), code="invalid_address") from None
    still_open = WalletChallenge.objects.filter(
        address=address, customer=customer, used_at__isnull=True, expires_at__gt=now
    ).count()
    if still_open >= settings.WALLET_CHALLENGE_MAX_OPEN:
        raise CustomerError(
            f"{still_open} messages for this address are still waiting to be signed: sign one of them, "
            f"or ask again once they expire (within {settings.WALLET_CHALLENGE_TTL_SECONDS} s).",
            code="too_many_challenges",
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


def wallet_challenge_verify(
    *, customer: Customer | None = None, address: str, message: str, signature: str, now: datetime
) -> WalletChallenge:
    """Check a signed challenge and consume it; raises WalletProofError with a code saying what failed.

    `customer` scopes the lookup: a challenge issued for one customer (or for web sign-in, None)
    proves nothing for another. Exactly one concurrent caller consumes a given challenge.
    """
    try:
        address = checksum_address(address)
    except InvalidAddress as exc:
        raise WalletProofError(str(exc), code="invalid_address") from None
    try:
        parsed = siwe_message_parse(message)
    except SiweMessageError as exc:
        raise WalletProofError(
            f"The message is not a valid sign-in message: {exc}", code="message_malformed"
        ) from None
    try:
        recovered = personal_sign_recover(message=message, signature=signature)
    except SignatureError as exc:
        raise WalletProofError(str(exc), code=exc.code) from None
    if parsed.address != address:
        raise WalletProofError("The message was issued for a different address.", code="address_mismatch")
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
                code="message_mismatch",
            )

    challenge = WalletChallenge.objects.filter(nonce=parsed.nonce, customer=customer).first()
    if challenge is None:
        raise WalletProofError(
            "No challenge was issued with this nonce; request a new one.", code="challenge_not_found"
        )
    if challenge.address != address:
        raise WalletProofError("The challenge was issued for a different address.", code="address_mismatch")
    if challenge.message != message:
        raise WalletProofError(
            "The message differs from the one issued; sign the issued message exactly.",
            code="message_mismatch",
        )
    if challenge.used_at is not None:
        raise WalletProofError("This challenge was already used; request a new one.", code="challenge_used")
    if challenge.expires_at <= now:
        raise WalletProofError("This challenge has expired; request a new one.", code="challenge_expired")
    if recovered != address:
        raise WalletProofError("The signature was not made by this address's key.", code="signer_mismatch")

    consumed = WalletChallenge.objects.filter(
        pk=challenge.pk, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if consumed != 1:
        raise WalletProofError("This challenge was already used; request a new one.", code="challenge_used")
    challenge.used_at = now
    return challenge


def _wallet_make_current(*, customer: Customer, role: str, address: str, now: datetime) -> Wallet:
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
            "This customer is disabled; wallets cannot be linked to it.", code="customer_disabled"
        )
    challenge = wallet_challenge_verify(
        customer=customer, address=address, message=message, signature=signature, now=now
    )
    # Raising rolls the transaction back, so the challenge is not consumed by a refusal.
    other = (
        Customer.objects.filter(
            partner_id=customer.partner_id,
            wallets__role=Wallet.Role.SIGNER,
            wallets__address=challenge.address,
            wallets__replaced_at__isnull=True,
        )
        .exclude(pk=customer.pk)
        .first()
    )
    if other is not None:
        raise CustomerError(
            f"{challenge.address} is already the signer wallet of your customer {other.id} "
            f"(external_id {other.external_id!r}); a wallet signs for one customer only.",
            code="signer_linked_to_another_customer",
        )
    current = Wallet.objects.filter(
        customer=customer, role=Wallet.Role.SIGNER, replaced_at__isnull=True
    ).first()
    if current is not None and current.address != challenge.address:
        if not replace:
            raise CustomerError(
                f"This customer's signer is already {current.address}; a customer has one signer. To "
                "replace it, send the new wallet's signed challenge again with replace_signer: true.",
                code="signer_already_linked",
            )
        wallet = _wallet_signer_replace(customer=customer, address=challenge.address, now=now)
        customer_event_record(customer_id=customer.pk, type="customer.wallet_linked", now=now)
        return wallet, True
    if current is not None:
        current.verified_at = now
        current.save(update_fields=["verified_at"])
        wallet, linked = current, False
    else:
        wallet = _wallet_make_current(
            customer=customer, role=Wallet.Role.SIGNER, address=challenge.address, now=now
        )
        linked = True
    requeued = Customer.objects.filter(pk=customer.pk, status=Customer.Status.PROVISIONING).update(
        provisioning_error="", provisioning_requested_at=now, updated_at=now
    )
    if requeued:
        _enqueue_after_commit("onboard", [customer.pk])
    if linked:
        customer_event_record(customer_id=customer.pk, type="customer.wallet_linked", now=now)
    return wallet, linked


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
                code="customer_has_open_orders",
            )
    Wallet.objects.filter(customer=customer, replaced_at__isnull=True).update(replaced_at=now)
    wallet = _wallet_make_current(customer=customer, role=Wallet.Role.SIGNER, address=address, now=now)
    previous = list(customer.previous_parsec_customer_ids)
    if customer.parsec_customer_id:
        previous.append(customer.parsec_customer_id)
    Customer.objects.filter(pk=customer.pk).update(
        status=Customer.Status.PROVISIONING,
        parsec_customer_id=None,
        parsec_generation=F("parsec_generation") + 1,
        parsec_fee_version=0,
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
    _enqueue_after_commit("provision", [customer.pk])
    return wallet


# --- Provisioning at Parsec ----------------------------------------------------------------------------
# These two make an HTTP call, so they are not one transaction: they read, call Parsec outside any
# transaction, then record the answer in a short transaction of its own.


def parsec_external_id(customer: Customer) -> str:
    """The id Parsec knows this customer by.

    Parsec's external_id is unique per builder, and ours only per partner, so two partners' "user-1"
    must not meet there: our own customer UUID is stable and unique across partners. A customer whose
    signer was replaced needs a new builder user, hence a new id: the UUID and its generation.
    """
    if customer.parsec_generation:
        return f"{customer.id}.{customer.parsec_generation}"
    return str(customer.id)


@transaction.atomic
def customer_provisioning_error_record(
    *, customer_id: uuid.UUID | str, message: str, now: datetime
) -> Customer:
    """Keep Parsec's refusal on the customer, which stays provisioning until someone acts on it."""
    Customer.objects.filter(pk=customer_id).update(provisioning_error=message[:2000], updated_at=now)
    return Customer.objects.get(pk=customer_id)


def _customer_activate_if_ready(*, customer_id: uuid.UUID | str, now: datetime) -> None:
    ready = (
        Q(parsec_customer_id__isnull=False)
        & selectors.has_current_wallet(Wallet.Role.SIGNER)
        & selectors.has_current_wallet(Wallet.Role.PAYER)
    )
    if Customer.objects.filter(ready, pk=customer_id, status=Customer.Status.PROVISIONING).update(
        status=Customer.Status.ACTIVE, provisioning_error="", updated_at=now
    ):
        customer_event_record(customer_id=customer_id, type="customer.active", now=now)


@transaction.atomic
def customer_parsec_id_record(
    *,
    customer_id: uuid.UUID | str,
    parsec_customer_id: str,
    now: datetime,
    parsec_fee_version: int = 0,
    parsec_generation: int | None = None,
) -> Customer:
    """Store the builder user's id (and the partner fee version it was given); queue onboarding when a
    signer is already linked. A builder user created for an earlier generation (the signer was replaced
    while it was being created) is not recorded."""
    current = Q() if parsec_generation is None else Q(parsec_generation=parsec_generation)
    recorded = Customer.objects.filter(current, pk=customer_id, parsec_customer_id__isnull=True).update(
        parsec_customer_id=parsec_customer_id,
        parsec_fee_version=parsec_fee_version,
        provisioning_error="",
        updated_at=now,
    )
    customer = Customer.objects.get(pk=customer_id)
    has_signer = customer.wallets.filter(role=Wallet.Role.SIGNER, replaced_at__isnull=True).exists()
    if recorded and has_signer:
        _enqueue_after_commit("onboard", [customer.pk])
    return customer


def customer_provision(*, customer_id: uuid.UUID | str, now: datetime) -> Customer:
    """Create the customer's builder user at Parsec and keep its id.

    Raises ParsecUnavailable / ParsecInDoubt for the task to retry: POST /builder/users is idempotent
    on external_id, so sending it again after a timeout answers the same user instead of a second one.
    """
    customer = Customer.objects.get(pk=customer_id)
    if customer.status == Customer.Status.DISABLED or customer.parsec_customer_id:
        return customer
    partner_fee_bps, partner_fee_version = Partner.objects.values_list("fee_bps", "fee_version").get(
        pk=customer.partner_id
    )
    try:
        user = get_client().create_builder_user(
            external_id=parsec_external_id(customer), email=customer.email or None
        )
        # Parsec keeps the builder's fee per end-user; the partner's own rate (0: attribution only, no
        # fee_auth) must be set there too, or Parsec expects its default fee. None keeps the default.
        if partner_fee_bps is not None and user.fee_bps != partner_fee_bps:
            user = get_client().update_builder_user(user.customer_id, fee_bps=partner_fee_bps)
    except ParsecRejected as exc:
        logger.warning("Parsec refused the builder user of customer %s: %s", customer.pk, exc.code)
        return customer_provisioning_error_record(
            customer_id=customer.pk,
            message=f"Parsec refused the builder user ({exc.code}): {exc.message}",
            now=now,
        )
    # A fee changed meanwhile leaves an older version recorded: the provisioning sweep syncs it.
    return customer_parsec_id_record(
        customer_id=customer.pk,
        parsec_customer_id=user.customer_id,
        now=now,
        parsec_fee_version=partner_fee_version,
        parsec_generation=customer.parsec_generation,
    )


# --- The partner's fee at Parsec ----------------------------------------------------------------------

FEE_SYNC_ROUNDS = 5


def partner_fee_changed(*, partner_id: int) -> None:
    """The partner's fee has just changed (in the caller's transaction): its builder users follow.

    Bumps the partner's fee version, which puts every provisioned customer out of date until its
    builder user at Parsec carries the new fee. A task does that after commit; the provisioning sweep
    catches whatever it leaves undone.
    """
    Partner.objects.filter(pk=partner_id).update(fee_version=F("fee_version") + 1)

    def send() -> None:
        from customers import tasks  # tasks import this module

        try:
            tasks.partner_fee_sync_task.delay(partner_id)
        except BrokerUnavailable:
            logger.warning("broker unavailable; partner %s fee sync left for the sweep", partner_id)

    transaction.on_commit(send)


def customer_fee_sync(*, customer_id: uuid.UUID | str) -> bool:
    """Give the customer's builder user its partner's current fee at Parsec; True once it has it.

    The fee can change again while the PATCH is on its way, so the version is read again afterwards
    and a newer fee is sent too: the last PATCH that lands carries the current fee. Raises
    ParsecUnavailable / ParsecInDoubt for the task to retry (a PATCH sets a value: resending is safe).
    """
    for _ in range(FEE_SYNC_ROUNDS):
        row = (
            Customer.objects.filter(pk=customer_id)
            .values(
                "parsec_customer_id",
                "parsec_fee_version",
                "partner_id",
                "partner__fee_bps",
                "partner__fee_version",
            )
            .first()
        )
        if row is None or not row["parsec_customer_id"]:
            return False
        version = row["partner__fee_version"]
        if row["parsec_fee_version"] == version:
            return True
        get_client().update_builder_user(row["parsec_customer_id"], fee_bps=row["partner__fee_bps"])
        if Partner.objects.filter(pk=row["partner_id"], fee_version=version).exists():
            Customer.objects.filter(pk=customer_id).update(parsec_fee_version=version)
            return True
    return False


def customers_with_stale_fee() -> QuerySet[Customer]:
    """Provisioned customers whose builder user does not carry their partner's current fee yet."""
    return (
        Customer.objects.filter(parsec_customer_id__isnull=False)
        .exclude(status=Customer.Status.DISABLED)
        .exclude(parsec_fee_version=F("partner__fee_version"))
    )


def partner_fee_sync(*, partner_id: int) -> int:
    """Bring the builder users of this partner's customers to its current fee; how many were synced.

    A builder user Parsec refuses to update (gone, say) is logged as an error and not tried again until
    the fee changes again: a refusal does not pass by itself.
    """
    synced = 0
    stale = customers_with_stale_fee().filter(partner_id=partner_id).order_by("pk")
    for customer_id in stale.values_list("pk", flat=True).iterator():
        try:
            synced += customer_fee_sync(customer_id=customer_id)
        except ParsecRejected as exc:
            logger.error("Parsec refused the fee of customer %s: %s %s", customer_id, exc.code, exc.message)
            version = Partner.objects.values_list("fee_version", flat=True).get(pk=partner_id)
            Customer.objects.filter(pk=customer_id).update(parsec_fee_version=version)
    return synced


@transaction.atomic
def wallet_payer_record(
    *, customer_id: uuid.UUID | str, signer_address: str, payer_address: str, now: datetime
) -> Customer:
    """Keep the payer Parsec onboarding returned for this signer, and activate the customer."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    still_current = customer.wallets.filter(
        role=Wallet.Role.SIGNER, address=signer_address, replaced_at__isnull=True
    ).exists()
    if not still_current:
        return customer  # the signer changed meanwhile; its own onboarding is queued
    _wallet_make_current(customer=customer, role=Wallet.Role.PAYER, address=payer_address, now=now)
    _customer_activate_if_ready(customer_id=customer.pk, now=now)
    customer.refresh_from_db()
    return customer


def wallet_onboard(*, customer_id: uuid.UUID | str, now: datetime) -> Customer:
    """Onboard the customer's signer at Parsec (a managed Safe it owns) and keep the Safe as payer.

    Raises ParsecUnavailable / ParsecInDoubt for the task to retry: onboarding is idempotent and
    resumable at Parsec, so a repeat after a timeout answers the same Safe.
    """
    customer = Customer.objects.get(pk=customer_id)
    if customer.status == Customer.Status.DISABLED or not customer.parsec_customer_id:
        return customer  # provisioning queues onboarding once the builder user exists
    current = {
        wallet.role: wallet for wallet in customer.wallets.filter(replaced_at__isnull=True).order_by("role")
    }
    signer = current.get(Wallet.Role.SIGNER)
    if signer is None:
        return customer
    if Wallet.Role.PAYER in current:
        with transaction.atomic():
            _customer_activate_if_ready(customer_id=customer.pk, now=now)
        customer.refresh_from_db()
        return customer
    try:
        onboarding = get_client().onboard(
            customer_id=customer.parsec_customer_id,
            exchange=ONBOARDING_EXCHANGE,
            eoa_address=signer.address,
            mode="managed",
            wallet_type="safe",
        )
    except ParsecRejected as exc:
        logger.warning("Parsec refused onboarding customer %s: %s", customer.pk, exc.code)
        return customer_provisioning_error_record(
            customer_id=customer.pk, message=f"Parsec refused onboarding ({exc.code}): {exc.message}", now=now
        )
    try:
        payer_address = checksum_address(onboarding.safe_address or "")
    except InvalidAddress:
        return customer_provisioning_error_record(
            customer_id=customer.pk,
            message="Parsec onboarding answered without a valid Safe address.",
            now=now,
        )
    return wallet_payer_record(
        customer_id=customer.pk, signer_address=signer.address, payer_address=payer_address, now=now
    )


@transaction.atomic
def customers_provisioning_sweep(*, now: datetime, stale_after: timedelta, limit: int = 500) -> int:
    """Re-enqueue provisioning that a lost message or an exhausted retry left undone; how many."""
    cutoff = now - stale_after
    waiting = selectors.customers_awaiting_provisioning(requested_before=cutoff, limit=limit)
    enqueued = 0
    for task_name, customer_ids in waiting.items():
        # Claim by bumping provisioning_requested_at, so overlapping sweeps enqueue each customer once.
        claimed = [
            customer_id
            for customer_id in customer_ids
            if Customer.objects.filter(pk=customer_id, provisioning_requested_at__lt=cutoff).update(
                provisioning_requested_at=now
            )
        ]
        _enqueue_after_commit(task_name, claimed)
        enqueued += len(claimed)
    return enqueued
