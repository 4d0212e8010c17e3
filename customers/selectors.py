"""Reads: API key lookup, a partner's customers with their current wallets, provisioning still to do."""

from __future__ import annotations

import uuid
from datetime import datetime

import django_filters
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from builder_platform.values import uuid_or_none
from customers.api_keys import api_key_hash, api_key_lookup_prefix, api_key_matches
from customers.models import Customer, Partner, PartnerApiKey, Wallet
from customers.task_names import CustomerTask
from generations.store import ReadCache

# Keys as partner requests find them, by the SHA-256 of the raw key (never the key itself).
_API_KEYS = ReadCache()


def partner_api_key_find(*, raw_key: str) -> PartnerApiKey | None:
    """The key (with its partner, and the partner's own rate limit if it has one) whose hash matches,
    revoked or not; None when no key matches. One query: the rate limit throttle of every partner
    request reads the override from here instead of with a query of its own."""
    candidates = PartnerApiKey.objects.select_related("partner", "partner__rate_limit").filter(
        prefix=api_key_lookup_prefix(raw_key)
    )
    found = None
    # Compare every candidate (prefixes may collide) without stopping early, in constant time each.
    for candidate in candidates:
        if api_key_matches(raw_key, candidate.key_hash):
            found = candidate
    return found


def partner_api_key_cached(*, raw_key: str) -> PartnerApiKey | None:
    """partner_api_key_find through this process's cache: read once per generation (generations.store),
    so a key revoked, a scope changed or a partner suspended in any process is seen by the next request.

    The key is shared by the process's requests: its last_used_at is the one field written to it
    (partner_api_key_touch), which is what keeps the touch to once per interval per process.
    """
    return _API_KEYS.get(api_key_hash(raw_key), lambda: partner_api_key_find(raw_key=raw_key))


def current_wallets_prefetch() -> Prefetch:
    """One query per page for the current signer and payer of every customer on it."""
    return Prefetch(
        "wallets",
        queryset=Wallet.objects.filter(replaced_at__isnull=True).order_by("role"),
        to_attr="current_wallets",
    )


def customer_get(*, partner: Partner, customer_id: str) -> Customer | None:
    """One of this partner's customers; None for a malformed id, a missing one or another partner's."""
    parsed = uuid_or_none(customer_id)
    if parsed is None:
        return None
    return (
        Customer.objects.filter(partner=partner, id=parsed)
        .prefetch_related(current_wallets_prefetch())
        .first()
    )


class CustomerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices)
    external_id = django_filters.CharFilter()

    class Meta:
        model = Customer
        fields = ["status", "external_id"]


def customer_list(*, partner: Partner) -> QuerySet[Customer]:
    """A partner's customers, newest first, with current wallets; filter and paginate on top of it."""
    return (
        Customer.objects.filter(partner=partner)
        .prefetch_related(current_wallets_prefetch())
        .order_by("-created_at", "-id")
    )


def has_current_wallet(role: str) -> Exists:
    return Exists(Wallet.objects.filter(customer=OuterRef("pk"), role=role, replaced_at__isnull=True))


def customers_awaiting_provisioning(*, requested_before: datetime, limit: int) -> dict[str, list[uuid.UUID]]:
    """Customers whose provisioning work was enqueued before `requested_before` and is still not done.

    Split by what they wait for: a Parsec builder user, or onboarding of an already linked signer.
    Customers with a recorded Parsec refusal wait for a person (admin retry or a new wallet), and
    customers with no signer wait for the partner; neither is re-enqueued.
    """
    stale = Customer.objects.filter(
        status=Customer.Status.PROVISIONING,
        provisioning_error="",
        provisioning_requested_at__lt=requested_before,
    ).order_by("provisioning_requested_at")
    needs_user = stale.filter(parsec_customer_id__isnull=True)
    # A customer with a payer already is included too: onboarding then only activates it.
    needs_onboarding = stale.filter(
        Q(parsec_customer_id__isnull=False), has_current_wallet(Wallet.Role.SIGNER)
    )
    return {
        CustomerTask.PROVISION: list(needs_user.values_list("id", flat=True)[:limit]),
        CustomerTask.ONBOARD: list(needs_onboarding.values_list("id", flat=True)[:limit]),
    }


def customers_with_stale_fee() -> QuerySet[Customer]:
    """Provisioned customers whose builder user does not carry their partner's current fee yet, and is to."""
    return (
        Customer.objects.filter(parsec_customer_id__isnull=False)
        .exclude(status=Customer.Status.DISABLED)
        .exclude(parsec_fee_version=F("partner__fee_version"))
        # A fee Parsec refused waits for a person, or for the next change of the partner's fee.
        .exclude(fee_sync_refused_version=F("partner__fee_version"))
    )
