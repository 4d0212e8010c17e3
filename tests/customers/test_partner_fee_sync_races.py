"""Two fee syncs of one partner take turns, so the last PATCH to land at Parsec carries the current fee."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from factories import make_customer, make_partner

from customers.models import Customer, Partner
from customers.services import fee_sync


def provisioned(partner: Partner, parsec_id: str) -> Customer:
    return make_customer(
        partner=partner, parsec_customer_id=parsec_id, parsec_fee_version=partner.fee_version
    )


class FirstPatchHeldBack:
    """Parsec where the first PATCH is held on its way until the test lets it land."""

    def __init__(self) -> None:
        self.landed: list[int | None] = []
        self.first_sent = threading.Event()
        self.let_first_land = threading.Event()

    def update_builder_user(self, customer_id: str, *, fee_bps: int | None):
        if not self.first_sent.is_set():
            self.first_sent.set()
            assert self.let_first_land.wait(timeout=20)
        self.landed.append(fee_bps)
        return SimpleNamespace(fee_bps=fee_bps)


@pytest.mark.django_db(transaction=True)
def test_a_second_sync_while_the_first_patch_is_on_its_way_does_not_overtake_it(monkeypatch):
    partner = make_partner(fee_bps=0)
    customer = provisioned(partner, "p-raced")
    Partner.objects.filter(pk=partner.pk).update(fee_bps=20, fee_version=1)
    parsec = FirstPatchHeldBack()
    monkeypatch.setattr(fee_sync, "get_client", lambda: parsec)
    failures: list[BaseException] = []

    def first_run() -> None:
        try:
            fee_sync.partner_fee_sync(partner_id=partner.pk, now=timezone.now())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread's assertion
            failures.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=first_run)
    first.start()
    assert parsec.first_sent.wait(timeout=20)
    # The fee changes again while the first PATCH (20 bps) is still on its way, and a second run starts.
    Partner.objects.filter(pk=partner.pk).update(fee_bps=40, fee_version=2)
    with pytest.raises(fee_sync.FeeSyncBusy):
        fee_sync.partner_fee_sync(partner_id=partner.pk, now=timezone.now())
    parsec.let_first_land.set()
    first.join(timeout=30)

    assert failures == []
    assert parsec.landed[-1] == 40  # what Parsec holds at the end is the current fee
    customer.refresh_from_db()
    assert (customer.parsec_fee_version, customer.parsec_fee_bps) == (2, 40)
    assert Partner.objects.get(pk=partner.pk).fee_sync_lease_until is None  # released


@pytest.mark.django_db
def test_a_lease_left_by_a_worker_that_died_expires(monkeypatch):
    partner = make_partner(fee_bps=0)
    customer = provisioned(partner, "p-1")
    now = timezone.now()
    Partner.objects.filter(pk=partner.pk).update(
        fee_bps=20, fee_version=1, fee_sync_lease_until=now - timedelta(seconds=1)
    )
    monkeypatch.setattr(
        fee_sync,
        "get_client",
        lambda: SimpleNamespace(
            update_builder_user=lambda customer_id, fee_bps: SimpleNamespace(fee_bps=fee_bps)
        ),
    )

    assert fee_sync.partner_fee_sync(partner_id=partner.pk, now=now) == 1
    assert Customer.objects.get(pk=customer.pk).parsec_fee_version == 1


@pytest.mark.django_db
def test_a_sync_finds_the_partner_busy_while_another_holds_a_live_lease(monkeypatch):
    partner = make_partner(fee_bps=0)
    provisioned(partner, "p-1")
    now = timezone.now()
    Partner.objects.filter(pk=partner.pk).update(
        fee_bps=20, fee_version=1, fee_sync_lease_until=now + timedelta(seconds=30)
    )
    monkeypatch.setattr(fee_sync, "get_client", lambda: pytest.fail("no PATCH while another run holds it"))

    with pytest.raises(fee_sync.FeeSyncBusy):
        fee_sync.partner_fee_sync(partner_id=partner.pk, now=now)


@pytest.mark.django_db
def test_the_sync_task_retries_while_another_run_holds_the_partner(monkeypatch):
    from customers import tasks

    partner = make_partner(fee_bps=0)
    provisioned(partner, "p-1")
    Partner.objects.filter(pk=partner.pk).update(
        fee_bps=20, fee_version=1, fee_sync_lease_until=timezone.now() + timedelta(minutes=1)
    )
    monkeypatch.setattr(fee_sync, "get_client", lambda: pytest.fail("no PATCH while another run holds it"))
    attempts: list[int] = []

    def counted(**kwargs) -> int:
        attempts.append(kwargs["partner_id"])
        return fee_sync.partner_fee_sync(**kwargs)

    monkeypatch.setattr(tasks.services, "partner_fee_sync", counted)

    result = tasks.partner_fee_sync_task.apply(args=[partner.pk])

    # apply() runs the retries at once, ignoring their countdown: each found the partner busy.
    assert isinstance(result.result, fee_sync.FeeSyncBusy)
    assert attempts == [partner.pk] * (tasks.MAX_RETRIES + 1)
