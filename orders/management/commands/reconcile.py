"""Reconcile orders with Parsec now: every (customer, exchange) with something to reconcile, or one."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from builder_platform.values import uuid_or_none
from orders.models import Order
from orders.services import reconcile, reconcile_schedule
from parsec.client import ParsecError

BAR_WIDTH = 30


def _progress(done: int, total: int) -> str:
    filled = BAR_WIDTH * done // max(total, 1)
    return f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"


class Command(BaseCommand):
    help = (
        "Reconcile orders with Parsec now (one listing of orders and one of fills per customer and exchange)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", help="Only this customer (our customer id).")

    def handle(self, *args, customer: str | None = None, **options) -> None:
        pairs = reconcile_schedule.reconcile_pairs()
        if customer:
            customer_id = uuid_or_none(customer)
            if customer_id is None:
                raise CommandError(f"{customer!r} is not a customer id (a UUID).")
            pairs = pairs.filter(customer_id=customer_id)
            if not Order.objects.filter(customer_id=customer).exists():
                raise CommandError(f"No orders for customer {customer}.")
        pairs = list(pairs)
        totals = {"orders": 0, "adopted": 0, "updated": 0, "new_fills": 0, "settled": 0, "resent": 0}
        failures = 0
        for done, (customer_id, exchange) in enumerate(pairs, start=1):
            try:
                report = reconcile.reconcile_customer_exchange(
                    customer_id=customer_id, exchange=exchange, now=timezone.now()
                )
            except ParsecError as error:
                failures += 1
                self.stderr.write(f"\n{customer_id} on {exchange}: {error}")
            else:
                for name in totals:
                    totals[name] += getattr(report, name)
            self.stderr.write(_progress(done, len(pairs)), ending="")
            self.stderr.flush()
        if pairs:
            self.stderr.write("")
        summary = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in totals.items())
        self.stdout.write(
            f"Reconciled {len(pairs) - failures} of {len(pairs)} customer-exchange pairs: {summary}."
        )
        if failures:
            raise CommandError(f"{failures} pairs could not be read from Parsec; run again later.")
