"""A partner's fee change reaches its customers' builder users at Parsec, durably and in order."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from factories import make_customer, make_partner
from polling import wait_until

from audit.services import Actor
from customers import selectors, services, tasks
from customers.models import Customer, Partner
from customers.services import fee_sync, provisioning
from customers.task_names import CustomerTask
from fees import services as fee_services
from parsec.client import ParsecRejected


class RecordingParsec:
    """Stands in for the client: records each PATCH, and can run something while one is on its way."""

    def __init__(self, during_patch=None, refuse: bool = False) -> None:
        self.patches: list[tuple[str, int | None]] = []
        self.during_patch = during_patch
        self.refuse = refuse

    def update_builder_user(self, customer_id: str, *, fee_bps: int | None):
        self.patches.append((customer_id, fee_bps))
        if self.refuse:
            raise ParsecRejected(status=404, code="not_found", message="end-user not found")
        if self.during_patch is not None:
            action, self.during_patch = self.during_patch, None
            action()
        return SimpleNamespace(fee_bps=fee_bps)


def fee_syncs(queued: list[tuple]) -> list[int]:
    """The partners whose fee sync was sent, from the `customer_tasks` recording."""
    return [args[0] for name, *args in queued if name == CustomerTask.SYNC_PARTNER_FEE]


def provisioned(partner: Partner, parsec_id: str) -> Customer:
    return make_customer(
        partner=partner, parsec_customer_id=parsec_id, parsec_fee_version=partner.fee_version
    )


@pytest.mark.django_db(transaction=True)
def test_a_fee_change_reaches_the_builder_users_at_the_simulator(parsec_sim, celery_worker):
    partner = make_partner(fee_bps=0)
    customer = make_customer(partner=partner)
    services.customer_provision(customer_id=customer.pk, now=timezone.now())
    customer.refresh_from_db()
    assert parsec_sim.get_builder_user(customer.parsec_customer_id).fee_bps == 0

    fee_services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=25)

    wait_until(lambda: parsec_sim.get_builder_user(customer.parsec_customer_id).fee_bps == 25, timeout=30)
    wait_until(
        lambda: (
            Customer.objects.get(pk=customer.pk).parsec_fee_version
            == Partner.objects.get(pk=partner.pk).fee_version
        ),
        timeout=10,
    )
    assert Partner.objects.get(pk=partner.pk).fee_version == 1


@pytest.mark.django_db
def test_setting_the_same_fee_changes_nothing(customer_tasks, django_capture_on_commit_callbacks):
    partner = make_partner(fee_bps=0)
    with django_capture_on_commit_callbacks(execute=True):
        fee_services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=0)
    assert Partner.objects.get(pk=partner.pk).fee_version == 0
    assert fee_syncs(customer_tasks) == []


@pytest.mark.django_db
def test_a_fee_changed_in_the_admin_is_synced(client, customer_tasks, django_capture_on_commit_callbacks):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    partner = make_partner(fee_bps=0, name="Acme")
    form = {
        "name": "Acme",
        "status": "active",
        "fee_bps": "",  # the escrow default
        "affiliate_address": "",
        "revenue_share_bps": "0",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:customers_partner_change", args=[partner.pk]), form)
        unchanged = client.post(reverse("admin:customers_partner_change", args=[partner.pk]), form)

    assert (response.status_code, unchanged.status_code) == (302, 302)
    partner.refresh_from_db()
    assert (partner.fee_bps, partner.fee_version) == (None, 1)  # the second save changed no fee
    assert fee_syncs(customer_tasks) == [partner.pk]


@pytest.mark.django_db
def test_the_sync_sends_the_current_fee_and_records_its_version(monkeypatch):
    partner = make_partner(fee_bps=0)
    synced_one = provisioned(partner, "p-1")
    other = provisioned(partner, "p-2")
    unprovisioned = make_customer(partner=partner)
    Partner.objects.filter(pk=partner.pk).update(fee_bps=30, fee_version=1)
    Customer.objects.filter(pk=synced_one.pk).update(parsec_fee_version=1)  # already up to date
    parsec = RecordingParsec()
    monkeypatch.setattr(fee_sync, "get_client", lambda: parsec)

    assert services.partner_fee_sync(partner_id=partner.pk, now=timezone.now()) == 1
    assert services.partner_fee_sync(partner_id=partner.pk, now=timezone.now()) == 0  # nothing stale any more

    assert parsec.patches == [("p-2", 30)]
    assert Customer.objects.get(pk=other.pk).parsec_fee_version == 1
    assert Customer.objects.get(pk=unprovisioned.pk).parsec_fee_version == 0


@pytest.mark.django_db
def test_a_fee_changed_again_while_its_patch_is_on_the_way_is_sent_too(monkeypatch):
    partner = make_partner(fee_bps=0)
    customer = provisioned(partner, "p-1")
    Partner.objects.filter(pk=partner.pk).update(fee_bps=20, fee_version=1)

    def change_again() -> None:
        Partner.objects.filter(pk=partner.pk).update(fee_bps=40, fee_version=2)

    parsec = RecordingParsec(during_patch=change_again)
    monkeypatch.setattr(fee_sync, "get_client", lambda: parsec)

    assert services.customer_fee_sync(customer_id=customer.pk, now=timezone.now())

    assert parsec.patches == [("p-1", 20), ("p-1", 40)]  # the last one to land is the current fee
    assert Customer.objects.get(pk=customer.pk).parsec_fee_version == 2


@pytest.mark.django_db
def test_a_refused_update_is_recorded_and_not_tried_again_until_the_fee_changes(monkeypatch, caplog):
    partner = make_partner(fee_bps=0)
    customer = provisioned(partner, "p-gone")
    Partner.objects.filter(pk=partner.pk).update(fee_bps=20, fee_version=1)
    parsec = RecordingParsec(refuse=True)
    monkeypatch.setattr(fee_sync, "get_client", lambda: parsec)

    with caplog.at_level(logging.ERROR, logger="customers.services"):
        assert services.partner_fee_sync(partner_id=partner.pk, now=timezone.now()) == 0
    services.partner_fee_sync(partner_id=partner.pk, now=timezone.now())

    assert len(parsec.patches) == 1
    assert "not_found" in caplog.text
    customer.refresh_from_db()
    # Parsec still carries the fee of version 0: the customer is not recorded as synced.
    assert customer.parsec_fee_version == 0
    assert customer.fee_sync_refused_version == 1
    assert "not_found" in customer.fee_sync_error
    assert not selectors.customers_with_stale_fee().exists()  # the sweep leaves it for a person

    # A new fee is tried again, and once Parsec takes it the refusal is gone.
    Partner.objects.filter(pk=partner.pk).update(fee_bps=30, fee_version=2)
    parsec.refuse = False
    assert services.partner_fee_sync(partner_id=partner.pk, now=timezone.now()) == 1
    customer.refresh_from_db()
    assert (customer.parsec_fee_version, customer.parsec_fee_bps, customer.fee_sync_error) == (2, 30, "")
    assert customer.fee_sync_refused_version is None


@pytest.mark.django_db
def test_the_customer_admin_shows_a_refused_fee_and_what_parsec_still_carries(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    partner = make_partner(fee_bps=0)
    customer = provisioned(partner, "p-gone")
    Partner.objects.filter(pk=partner.pk).update(fee_bps=20, fee_version=1)
    Customer.objects.filter(pk=customer.pk).update(
        parsec_fee_bps=0,
        parsec_fee_read_at=timezone.now(),
        fee_sync_refused_version=1,
        fee_sync_error="Parsec refused the fee (not_found): end-user not found",
    )

    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()

    assert "Parsec refused the partner&#x27;s current fee" in page
    assert "end-user not found" in page
    assert "Parsec carries 0 bps" in page


@pytest.mark.django_db
def test_the_provisioning_sweep_syncs_partners_whose_customers_are_behind(customer_tasks):
    behind = make_partner(fee_bps=0)
    in_step = make_partner(fee_bps=0)
    provisioned(behind, "p-1")
    provisioned(in_step, "p-2")
    make_customer(partner=behind)  # not provisioned: provisioning sets its fee
    Partner.objects.filter(pk=behind.pk).update(fee_bps=20, fee_version=1)

    tasks.customers_provisioning_sweep_task.run()

    assert fee_syncs(customer_tasks) == [behind.pk]


@pytest.mark.django_db
def test_provisioning_records_the_fee_version_it_set(monkeypatch, customer_tasks):
    partner = make_partner(fee_bps=0)
    Partner.objects.filter(pk=partner.pk).update(fee_version=3)

    class NewUser:
        def create_builder_user(self, **kwargs):
            from parsec.client import BuilderUser

            return BuilderUser(
                customer_id="p-new",
                external_id=kwargs["external_id"],
                status="active",
                linked_exchanges=(),
                wallet=None,
                fee_escrow_enabled=True,
                fee_bps=0,
                affiliate_address=None,
                created=True,
            )

    monkeypatch.setattr(provisioning, "get_client", NewUser)
    customer = services.customer_provision(customer_id=make_customer(partner=partner).pk, now=timezone.now())

    assert (customer.parsec_customer_id, customer.parsec_fee_version) == ("p-new", 3)
    assert not selectors.customers_with_stale_fee().exists()


@pytest.mark.django_db
def test_the_customer_admin_says_whether_the_builder_user_has_the_current_fee(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    partner = make_partner(fee_bps=0)
    in_step = provisioned(partner, "p-1")
    behind = provisioned(partner, "p-2")
    Customer.objects.filter(pk=behind.pk).update(parsec_fee_version=0)
    Partner.objects.filter(pk=partner.pk).update(fee_bps=20, fee_version=1)
    Customer.objects.filter(pk=in_step.pk).update(parsec_fee_version=1)

    def page(customer: Customer) -> str:
        return client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()

    assert "the partner&#x27;s current fee" in page(in_step)
    assert "a change of the partner&#x27;s fee is on its way" in page(behind)


@pytest.mark.django_db
def test_saving_a_partner_read_before_a_fee_change_never_writes_its_older_fee_version_back():
    partner = make_partner(fee_bps=0)
    stale = Partner.objects.get(pk=partner.pk)
    fee_services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=None)

    stale.name = "Renamed"
    stale.save()

    assert Partner.objects.values_list("name", "fee_version").get(pk=partner.pk) == ("Renamed", 1)
