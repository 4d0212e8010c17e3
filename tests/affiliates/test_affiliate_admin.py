"""The affiliate admin: code figures, flagged attributions, reversals, payout runs, paying, cancelling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from affiliates_support import NOW, escrowed_order, fill, make_web_customer, refer, store_escrow_config
from django.contrib.admin import helpers
from factories import make_customer, make_partner, make_wallet

from audit.models import AuditAction, AuditEntry
from customers.models import Wallet
from fees.commission_models import Commission, Payout
from referrals import services as referral_services
from referrals.models import AffiliateProfile, PayoutDetailsChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(db):
    """Acme's referred customer with one filled order: a 12.5 USDC commission booked on 2 March."""
    store_escrow_config()
    acme = make_partner(name="Acme Referrals", revenue_share_bps=2000)
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    web = make_web_customer("admin")
    refer(web, "acme")
    order, authorization = escrowed_order(web, size="100000")
    fill(order, authorization, size="100000")
    Commission.objects.update(state=Commission.State.AVAILABLE)
    return acme


def test_codes_show_clicks_sign_ups_and_commission(admin_client, booked):
    referral_services.referral_click_record(raw_code="acme", now=NOW)
    page = admin_client.get("/admin/referrals/referralcode/").content.decode()
    assert "acme" in page
    assert "12.500000" in page


def test_attributions_filter_by_flagged(admin_client, booked):
    own = make_customer(partner=booked)
    web = make_web_customer("flagged in admin")
    make_wallet(customer=own, address=web.signer.address, role=Wallet.Role.SIGNER)
    refer(web, "acme")
    flagged = admin_client.get("/admin/referrals/referral/?flagged=yes").content.decode()
    assert str(web.customer.pk) in flagged
    clean = admin_client.get("/admin/referrals/referral/?flagged=no").content.decode()
    assert str(web.customer.pk) not in clean


def test_a_reversal_needs_a_reason_and_records_who_did_it(admin_client, admin_user, booked):
    commission = Commission.objects.get()
    form = {"action": "reverse_commissions", helpers.ACTION_CHECKBOX_NAME: [commission.pk]}
    asked = admin_client.post("/admin/fees/commission/", form)
    assert b"Reason" in asked.content
    assert Commission.objects.count() == 1
    admin_client.post("/admin/fees/commission/", {**form, "post": "yes", "reason": "chargeback"})
    reversal = Commission.objects.get(kind=Commission.Kind.REVERSAL)
    assert (reversal.amount, reversal.reason, reversal.created_by) == (
        -12_500_000,
        "chargeback",
        admin_user.username,
    )
    entry = AuditEntry.objects.get(action=AuditAction.COMMISSION_REVERSED)
    assert (entry.actor_user_id, entry.partner_id, entry.target_id) == (
        admin_user.pk,
        commission.partner_id,
        str(commission.pk),
    )
    assert entry.after["reversal_amount"] == -12_500_000


def test_a_payout_run_from_the_admin_then_mark_paid_and_a_paid_payout_cannot_be_cancelled(
    admin_client, booked
):
    response = admin_client.post("/admin/fees/payout/run/", {"period": "2026-03"})
    assert response.status_code == 302
    payout = Payout.objects.get()
    assert (payout.partner_id, payout.amount) == (booked.pk, 12_500_000)
    admin_client.post("/admin/fees/payout/run/", {"period": "2026-03"})
    assert Payout.objects.count() == 1

    form = {"action": "mark_paid", helpers.ACTION_CHECKBOX_NAME: [payout.pk], "post": "yes"}
    admin_client.post("/admin/fees/payout/", {**form, "reference": "0xfeed"})
    payout.refresh_from_db()
    assert (payout.state, payout.reference) == ("paid", "0xfeed")
    admin_client.post(
        "/admin/fees/payout/",
        {"action": "cancel_payouts", helpers.ACTION_CHECKBOX_NAME: [payout.pk], "post": "yes"},
    )
    payout.refresh_from_db()
    assert payout.state == "paid"


def test_the_dashboard_charts_commissions_per_month_and_tabulates_what_is_owed(admin_client, booked):
    page = admin_client.get("/admin/fees/commission/dashboard/").content.decode()
    assert "Acme Referrals" in page
    assert "data-owed>12.500000<" in page
    assert "<rect" in page


def test_payout_address_changes_are_recorded_with_who_and_when(admin_client, admin_user, booked):
    address = "0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e"
    response = admin_client.post(
        "/admin/referrals/affiliateprofile/add/",
        {
            "partner": booked.pk,
            "payout_address": address.lower(),
            "payout_note": "",
            "max_revenue_share_bps": "3000",
        },
    )
    assert response.status_code == 302, response.content
    profile = AffiliateProfile.objects.get(partner=booked)
    assert (profile.payout_address, profile.max_revenue_share_bps) == (address, 3000)
    change = PayoutDetailsChange.objects.get()
    assert (change.new_address, change.changed_by) == (address, admin_user.username)
    assert change.changed_at > datetime(2026, 1, 1, tzinfo=UTC)
    entry = AuditEntry.objects.get(action=AuditAction.PAYOUT_DETAILS_CHANGED)
    assert (entry.partner_id, entry.actor_user) == (booked.pk, admin_user)
    assert (entry.before["payout_address"], entry.after["payout_address"]) == ("", address)


def test_a_payout_address_with_a_wrong_checksum_is_refused(admin_client, booked):
    response = admin_client.post(
        "/admin/referrals/affiliateprofile/add/",
        {
            "partner": booked.pk,
            "payout_address": "0x24ff2f416594bEF1d4FC99BC47e239BA1FfFA81e",
            "payout_note": "",
        },
    )
    assert response.status_code == 200
    assert b"checksum" in response.content
    assert not AffiliateProfile.objects.exists()
