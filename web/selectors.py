"""Reads for the web pages: the signed-in customer and what its pages show."""

from __future__ import annotations

from django.db.models import QuerySet, Sum

from builder_platform.values import uuid_or_none
from customers.models import Customer, Wallet
from customers.selectors import current_wallets_prefetch
from fees.models import FeeAuthorization, FeeLedgerEntry
from orders.models import Order


def web_customer_get(*, customer_id: object) -> Customer | None:
    """A web user of the built-in partner by id, with its current wallets; None if unknown or disabled."""
    parsed = uuid_or_none(customer_id)
    if parsed is None:
        return None
    return (
        Customer.objects.filter(id=parsed, partner__is_builtin=True)
        .exclude(status=Customer.Status.DISABLED)
        .prefetch_related(current_wallets_prefetch())
        .first()
    )


def current_wallet(customer: Customer, role: str) -> Wallet | None:
    """The customer's current wallet for a role, from the prefetch when there is one."""
    wallets = getattr(customer, "current_wallets", None)
    if wallets is None:
        wallets = list(customer.wallets.filter(replaced_at__isnull=True))
    return next((wallet for wallet in wallets if wallet.role == role), None)


def customer_orders(*, customer: Customer) -> QuerySet[Order]:
    """The customer's own orders, newest first, with the fee authorization joined and the fills
    prefetched (two queries, whatever the number of orders)."""
    return (
        Order.objects.filter(customer=customer)
        .select_related("fee_authorization")
        .prefetch_related("fills")
        .order_by("-created_at", "-id")
    )


def customer_order_get(*, customer: Customer, order_id: object) -> Order | None:
    """One of the customer's orders; None for a malformed id, a missing one or someone else's."""
    parsed = uuid_or_none(order_id)
    if parsed is None:
        return None
    return customer_orders(customer=customer).filter(id=parsed).first()


def customer_fee_authorizations(*, customer: Customer, limit: int = 100) -> list[FeeAuthorization]:
    """The customer's fee authorizations, newest first, each with its order and ledger totals by kind.

    Two queries whatever the number of rows: the authorizations (order joined), then one grouped sum.
    """
    authorizations = list(
        FeeAuthorization.objects.filter(customer=customer, order__isnull=False)
        .select_related("order")
        .order_by("-created_at", "-id")[:limit]
    )
    totals: dict[int, dict[str, int]] = {authorization.pk: {} for authorization in authorizations}
    rows = (
        FeeLedgerEntry.objects.filter(fee_authorization_id__in=totals)
        .values("fee_authorization_id", "kind")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        totals[row["fee_authorization_id"]][row["kind"]] = row["total"]
    for authorization in authorizations:
        authorization.ledger_totals = totals[authorization.pk]
    return authorizations
