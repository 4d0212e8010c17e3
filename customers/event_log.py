"""The events customers record for partners (customer.active, customer.wallet_linked), in the change's
transaction, with the customer as GET /customers/{id} renders it."""

from __future__ import annotations

import uuid
from datetime import datetime

from customers.models import Customer
from customers.selectors import current_wallets_prefetch
from customers.serializers import CustomerOutputSerializer
from events.services import event_record


def customer_event_record(*, customer_id: uuid.UUID | str, type: str, now: datetime) -> None:  # noqa: A002
    customer = Customer.objects.prefetch_related(current_wallets_prefetch()).get(pk=customer_id)
    event_record(
        partner_id=customer.partner_id,
        type=type,
        object_type="customer",
        object_id=str(customer.pk),
        data=dict(CustomerOutputSerializer(customer).data),
        now=now,
    )
