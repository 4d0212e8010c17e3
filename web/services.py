"""Writes for the web frontend: signing a wallet in, which creates its customer on first use."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from builder_platform.failures import DomainError
from customers.models import Customer, Partner, Wallet
from customers.services import customer_create, partner_create, wallet_challenge_verify
from referrals.services import referral_attribute
from web.errors import WebErrorCode

BUILTIN_PARTNER_NAME = "Web (built-in)"


class SignInRefused(DomainError):
    """The signature was fine, but this wallet may not sign in (its customer is disabled): a 403."""

    status = 403


def web_external_id(address: str) -> str:
    """The built-in partner's id for a web user: the wallet it signs in with, checksummed."""
    return f"wallet:{address}"


def _builtin_partner() -> Partner:
    partner = Partner.objects.filter(is_builtin=True).first()
    if partner is not None:
        return partner
    # `make run` seeds it; a deployment that skipped the seed still lets its first visitor in.
    try:
        with transaction.atomic():
            return partner_create(name=BUILTIN_PARTNER_NAME, is_builtin=True)
    except IntegrityError:  # another first visitor created it at the same moment
        return Partner.objects.get(is_builtin=True)


@transaction.atomic
def web_sign_in(
    *, address: str, message: str, signature: str, now: datetime, referral_code: str | None = None
) -> tuple[Customer, bool]:
    """Verify a signed sign-in challenge and return the wallet's customer, created on first sign-in.

    The challenge is checked and consumed by the same service that checks a partner's wallet link
    (raises customers.services.WalletProofError). A new customer gets the wallet as its signer, and
    its provisioning at Parsec is queued once this transaction commits.
    """
    challenge = wallet_challenge_verify(
        customer=None, address=address, message=message, signature=signature, now=now
    )
    partner = _builtin_partner()
    customer, created = customer_create(
        partner=partner, external_id=web_external_id(challenge.address), now=now
    )
    if customer.status == Customer.Status.DISABLED:
        raise SignInRefused(
            "This account has been disabled. Contact support if you think this is a mistake.",
            code=WebErrorCode.CUSTOMER_DISABLED,
        )
    has_signer = Wallet.objects.filter(
        customer=customer, role=Wallet.Role.SIGNER, address=challenge.address, replaced_at__isnull=True
    ).exists()
    if not has_signer:
        # Only on first sign-in: the customer was created a moment ago in this transaction, under an
        # external id derived from this very address, so no other signer can exist to replace.
        Wallet.objects.create(
            customer=customer, role=Wallet.Role.SIGNER, address=challenge.address, verified_at=now
        )
    if created and referral_code:
        # The first sign-in only: an existing customer is never attributed (first touch wins).
        referral_attribute(customer=customer, raw_code=referral_code, signer=challenge.address, now=now)
    return customer, created
