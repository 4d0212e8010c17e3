"""Payout runs, payments and cancellations from the admin write one audit row per payout, naming the
staff user; the monthly run names the platform; a refused action writes none."""

from __future__ import annotations

import pytest
from affiliates_support import NOW, escrowed_order, fill, make_web_customer, refer, store_escrow_config
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from factories import make_partner

from affiliates.tasks import payout_run_task
from audit.models import AuditEntry
from fees.commission_models import Commission, Payout
from referrals import services as referral_services

pytestmark = pytest.mark.django_db

IP = "198.51.100.77"


@pytest.fixture
def booked(db):
    """Acme's referred customer with one filled order: a 12.5 USDC commission, available."""
    store_escrow_config()
    acme = make_partner(name="Acme Audited", revenue_share_bps=2000)
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    web = make_web_customer("audit")
    refer(web, "acme")
    order, authorization = escrowed_order(web, size="100000")
    fill(order, authorization, size="100000")
    Commission.objects.update(state=Commission.State.AVAILABLE)
    return acme


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("finance", "f@example.com", "pw")
    client.force_login(user)
    return client, user


def test_run_mark_paid_and_a_refused_cancel_from_the_admin(staff, booked):
    client, user = staff
    client.post("/admin/fees/payout/run/", {"period": "2026-03"}, REMOTE_ADDR=IP)
    client.post("/admin/fees/payout/run/", {"period": "2026-03"}, REMOTE_ADDR=IP)  # made already: no row
    payout = Payout.objects.get()
    form = {helpers.ACTION_CHECKBOX_NAME: [payout.pk], "post": "yes"}
    client.post("/admin/fees/payout/", {**form, "action": "mark_paid", "reference": "0xfeed"}, REMOTE_ADDR=IP)
    client.post("/admin/fees/payout/", {**form, "action": "cancel_payouts"}, REMOTE_ADDR=IP)  # paid: refused

    [created] = AuditEntry.objects.filter(action="payout.created")
    [paid] = AuditEntry.objects.filter(action="payout.paid")
    assert not AuditEntry.objects.filter(action="payout.cancelled").exists()
    for entry in (created, paid):
        assert (entry.actor_type, entry.actor_user_id, entry.ip) == ("staff", user.pk, IP)
        assert (entry.target_type, entry.target_id, entry.partner_id) == ("payout", str(payout.pk), booked.pk)
    assert created.after["amount"] == 12_500_000
    assert created.after["period"] == "2026-03"
    assert (paid.before, paid.after) == (
        {"state": "pending"},
        {"state": "paid", "reference": "0xfeed", "amount": 12_500_000},
    )


def test_a_cancel_from_the_admin_is_one_row(staff, booked):
    client, user = staff
    client.post("/admin/fees/payout/run/", {"period": "2026-03"}, REMOTE_ADDR=IP)
    payout = Payout.objects.get()

    client.post(
        "/admin/fees/payout/",
        {"action": "cancel_payouts", helpers.ACTION_CHECKBOX_NAME: [payout.pk], "post": "yes"},
        REMOTE_ADDR=IP,
    )

    [entry] = AuditEntry.objects.filter(action="payout.cancelled")
    assert (entry.actor_user_id, entry.target_id, entry.partner_id) == (user.pk, str(payout.pk), booked.pk)
    assert (entry.before, entry.after) == ({"state": "pending"}, {"state": "cancelled", "amount": 12_500_000})


def test_the_monthly_run_is_audited_as_the_platform(booked):
    assert payout_run_task("2026-03") == 1
    [entry] = AuditEntry.objects.filter(action="payout.created")
    assert (entry.actor_type, entry.actor_label, entry.partner_id) == (
        "system",
        "system: monthly payout run",
        booked.pk,
    )
