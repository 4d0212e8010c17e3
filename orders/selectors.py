"""Order reads scoped to a partner: one order with its fills and events, filtered lists, dashboard sums."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Prefetch, QuerySet

from builder_platform.values import uuid_or_none
from customers.models import Customer, Partner, Wallet
from customers.selectors import has_current_wallet
from generations.store import ReadCache
from orders.models import Fill, Order, OrderEvent
from parsec.contract import EXCHANGES

# Customers as order creates read them (with has_signer, has_payer), by (partner id, customer id).
_TRADING_CUSTOMERS = ReadCache()


def trading_customer_get(*, partner: Partner, customer_id: str) -> Customer | None:
    """One of this partner's customers, with whether it has a current signer and payer (one query)."""
    parsed = uuid_or_none(customer_id)
    if parsed is None:
        return None
    return (
        Customer.objects.filter(partner=partner, id=parsed)
        .annotate(
            has_signer=has_current_wallet(Wallet.Role.SIGNER),
            has_payer=has_current_wallet(Wallet.Role.PAYER),
        )
        .first()
    )


def trading_customer_cached(*, partner: Partner, customer_id: str) -> Customer | None:
    """trading_customer_get through this process's cache, read once per generation (generations.store):
    a customer disabled, changed or given a wallet in any process is read again by the next request."""
    return _TRADING_CUSTOMERS.get(
        (partner.pk, customer_id), lambda: trading_customer_get(partner=partner, customer_id=customer_id)
    )


def orders_blocking_signer_replacement(customer: Customer) -> str | None:
    """Why the customer's signer cannot be replaced now: its orders that are not final, if any."""
    open_count = Order.objects.filter(customer=customer).exclude(status__in=Order.FINAL_STATUSES).count()
    if not open_count:
        return None
    return f"{open_count} of its orders {'is' if open_count == 1 else 'are'} not final yet"


def order_get(*, partner: Partner, order_id: str, detail: bool = False) -> Order | None:
    """One of this partner's orders; None for a malformed id, a missing one or another partner's."""
    parsed = uuid_or_none(order_id)
    if parsed is None:
        return None
    orders = Order.objects.filter(partner=partner, id=parsed).select_related("fee_authorization")
    if detail:
        orders = orders.prefetch_related(
            Prefetch("fills", queryset=Fill.objects.order_by("created_at", "id")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "id")),
        )
    return orders.first()


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, handed to the database in UTC.

    Python accepts offsets up to 23:59 but PostgreSQL refuses 16:00 and more, so a time sent with such
    an offset would fail in the database; in UTC it is an ordinary time (or, at the ends of the
    calendar, a 400 here).
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This date-time is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OrderFilter(django_filters.FilterSet):
    customer = django_filters.UUIDFilter(field_name="customer_id")
    exchange = django_filters.ChoiceFilter(choices=[(exchange, exchange) for exchange in EXCHANGES])
    status = django_filters.MultipleChoiceFilter(choices=Order.Status.choices)
    market_id = django_filters.CharFilter()
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["customer", "exchange", "status", "market_id", "created_after", "created_before"]


def order_list(*, partner: Partner) -> QuerySet[Order]:
    """A partner's orders, newest first, with their fee authorization joined (one query per page)."""
    return (
        Order.objects.filter(partner=partner)
        .select_related("fee_authorization")
        .order_by("-created_at", "-id")
    )
