"""Commissions from fees distributed to referred customers, self-referral, the lifecycle, payout runs."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from affiliates_support import NOW, escrowed_order, fill, make_web_customer, refer, store_escrow_config
from django.db import IntegrityError, connection, transaction
from factories import make_customer, make_partner, make_wallet

from affiliates import services
from audit.services import Actor
from customers.models import Wallet
from fees import services as fee_services
from fees.commission_models import Commission, Payout
from fees.models import FeeLedgerEntry
from fees.money import bps_share
from referrals import services as referral_services
from referrals.models import Referral

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)
APRIL_RUN = NOW.replace(month=4, day=1)
ONE_USDC = 1_000_000
# 100,000 @ 0.5 at 25 bps: a fee of 125 USDC, half of it the builder's affiliate income.
SIZE = "100000"


@pytest.fixture
def acme(db):
    store_escrow_config()
    partner = make_partner(name="Acme Referrals", revenue_share_bps=2000)
    referral_services.referral_code_create(partner=partner, code="acme", now=NOW)
    return partner


@pytest.fixture
def referred(acme):
    web = make_web_customer("referred")
    assert refer(web, "acme") is not None
    return web


def test_a_referred_customers_fills_earn_the_referring_partner_its_share_of_what_was_distributed(
    acme, referred
):
    order, authorization = escrowed_order(referred, size=SIZE)
    assert (authorization.beneficiary_id, authorization.partner_share_bps) == (acme.pk, 2000)
    assert authorization.partner_id == referred.customer.partner_id  # still the web partner's customer

    fill(order, authorization, size="30000")
    fill(order, authorization, size="10000")
    fee_services.fee_ledger_record_final(
        fee_authorization=authorization, filled_total=order.filled, size=order.size, now=NOW
    )

    affiliate = sum(
        FeeLedgerEntry.objects.filter(
            fee_authorization=authorization, kind=FeeLedgerEntry.Kind.DISTRIBUTED_AFFILIATE
        ).values_list("amount", flat=True)
    )
    assert affiliate == 25_000_000  # 40% of the 125 USDC fee filled, half of it the affiliate's
    commissions = list(Commission.objects.order_by("id"))
    assert [commission.partner_id for commission in commissions] == [acme.pk, acme.pk]
    assert sum(commission.amount for commission in commissions) == bps_share(affiliate, 2000) == 5_000_000
    assert {commission.state for commission in commissions} == {Commission.State.PENDING}
    assert commissions[0].available_at == NOW + timedelta(days=7)
    shares = FeeLedgerEntry.objects.filter(kind=FeeLedgerEntry.Kind.PARTNER_SHARE)
    assert set(shares.values_list("beneficiary_id", flat=True)) == {acme.pk}
    assert [commission.ledger_entry_id for commission in commissions] == list(
        shares.order_by("id").values_list("id", flat=True)
    )


def test_a_partners_own_api_customers_still_earn_it_its_revenue_share(acme):
    customer = make_customer(partner=acme, status="active", parsec_customer_id="own-1")
    from affiliates_support import WebCustomer
    from factories import make_eth_account

    signer = make_eth_account("own api customer")
    payer = make_eth_account("own api payer").address
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=payer, role=Wallet.Role.PAYER)
    order, authorization = escrowed_order(
        WebCustomer(customer=customer, signer=signer, payer=payer), size=SIZE
    )
    fill(order, authorization, size=SIZE)
    assert Commission.objects.get().partner_id == acme.pk
    assert Commission.objects.get().amount == 12_500_000


def test_a_self_referral_is_flagged_and_earns_nothing(acme):
    own = make_customer(partner=acme)
    web = make_web_customer("self")
    make_wallet(customer=own, address=web.signer.address, role=Wallet.Role.SIGNER)

    referral = refer(web, "acme")
    assert referral.is_flagged
    assert "operates through the API" in referral.flagged_reason

    order, authorization = escrowed_order(web, size=SIZE)
    fill(order, authorization, size=SIZE)
    assert authorization.partner_share_bps == 0
    assert not Commission.objects.exists()


def test_a_payer_that_is_the_partners_payout_address_is_flagged_when_the_fee_is_requested(acme):
    web = make_web_customer("payout address payer")
    referral_services.payout_details_set(
        partner=acme, payout_address=web.payer, payout_note="", changed_by="staff", now=NOW
    )
    referral = refer(web, "acme")
    assert not referral.is_flagged  # the signer is not the partner's; the payer is checked at fee time

    order, authorization = escrowed_order(web, size=SIZE)
    fill(order, authorization, size=SIZE)
    referral.refresh_from_db()
    assert "payout address" in referral.flagged_reason
    assert not Commission.objects.exists()


def test_first_touch_wins_and_unknown_or_inactive_codes_change_nothing(acme, referred):
    other = make_partner(name="Other Partner", revenue_share_bps=3000)
    referral_services.referral_code_create(partner=other, code="other", now=NOW)
    assert refer(referred, "other") is None
    assert Referral.objects.get(customer=referred.customer).partner_id == acme.pk

    newcomer = make_web_customer("newcomer")
    assert refer(newcomer, "no-such-code") is None
    code = referral_services.referral_code_usable("acme")
    referral_services.referral_code_update(referral_code=code, active=False)
    assert refer(newcomer, "acme") is None
    assert not Referral.objects.filter(customer=newcomer.customer).exists()


def test_terms_are_frozen_at_attribution(acme):
    web = make_web_customer("frozen")
    refer(web, "acme")
    acme.revenue_share_bps = 100
    acme.save(update_fields=["revenue_share_bps"])
    _order, authorization = escrowed_order(web, size=SIZE)
    assert authorization.partner_share_bps == 2000


# --- Lifecycle and payouts -----------------------------------------------------------------------------


def book(web, size=SIZE, now=NOW):
    order, authorization = escrowed_order(web, size=size, now=now)
    fill(order, authorization, size=size, now=now)
    return Commission.objects.filter(fee_authorization=authorization).get()


def test_commissions_become_available_after_the_hold_and_are_paid_by_a_payout_run(acme, referred):
    commission = book(referred)
    assert services.commissions_release(now=NOW + timedelta(days=6)) == 0
    assert services.commissions_release(now=NOW + timedelta(days=7)) == 1

    result = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN)
    (payout,) = result.created
    assert (payout.partner_id, payout.amount, payout.state) == (acme.pk, 12_500_000, Payout.State.PENDING)
    again = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN)
    assert again.created == []
    assert Payout.objects.count() == 1

    paid = services.payout_mark_paid(
        actor=Actor.system("test"), payout=payout, reference="0xabc", paid_by="staff", now=APRIL_RUN
    )
    commission.refresh_from_db()
    assert (paid.state, commission.state, commission.payout_id) == (Payout.State.PAID, "paid", payout.pk)
    with pytest.raises(services.AffiliateError) as refused:
        services.payout_cancel(actor=Actor.system("test"), payout=paid, cancelled_by="staff", now=APRIL_RUN)
    assert refused.value.status == 409


def test_below_the_minimum_everything_carries_over(acme, referred, settings):
    settings.PAYOUT_MINIMUM_USDC = 20
    book(referred)  # 12.5 USDC
    assert services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created == []
    book(referred, now=NOW.replace(month=4, day=2))
    (payout,) = services.payout_run(
        actor=Actor.system("test"), period=date(2026, 4, 1), now=NOW.replace(month=5, day=1)
    ).created
    assert (payout.amount, payout.commission_count) == (25_000_000, 2)


def test_a_run_for_a_period_not_over_is_refused(acme):
    with pytest.raises(services.AffiliateError) as refused:
        services.payout_run(actor=Actor.system("test"), period=MARCH, now=NOW)
    assert refused.value.code == "period_not_closed"


def test_a_cancelled_payout_makes_its_commissions_available_again(acme, referred):
    commission = book(referred)
    (payout,) = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created
    services.payout_cancel(actor=Actor.system("test"), payout=payout, cancelled_by="staff", now=APRIL_RUN)
    commission.refresh_from_db()
    assert (commission.state, commission.payout_id) == ("available", None)
    (second,) = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created
    assert second.pk != payout.pk
    assert second.amount == payout.amount


def test_reversing_an_unpaid_commission_nets_it_to_zero(acme, referred):
    commission = book(referred)
    reversal = services.commission_reverse(
        commission=commission, reason="chargeback", reversed_by="ann", now=NOW
    )
    assert (reversal.amount, reversal.state, reversal.created_by) == (-12_500_000, "pending", "ann")
    assert services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created == []
    with pytest.raises(services.AffiliateError):
        services.commission_reverse(commission=commission, reason="again", reversed_by="ann", now=NOW)


def test_reversing_a_paid_commission_is_clawed_back_from_the_next_payout(acme, referred):
    first = book(referred)
    (march,) = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created
    services.payout_mark_paid(
        actor=Actor.system("test"), payout=march, reference="tx-1", paid_by="staff", now=APRIL_RUN
    )
    services.commission_reverse(commission=first, reason="fraud", reversed_by="ann", now=APRIL_RUN)
    april_day = NOW.replace(month=4, day=5)
    book(referred, now=april_day)
    book(referred, now=april_day)
    (april,) = services.payout_run(
        actor=Actor.system("test"), period=date(2026, 4, 1), now=NOW.replace(month=5, day=1)
    ).created
    assert april.amount == 2 * 12_500_000 - 12_500_000
    march.refresh_from_db()
    assert (march.amount, march.state) == (12_500_000, "paid")  # paid payouts never change


def test_a_commission_in_a_pending_payout_cannot_be_reversed(acme, referred):
    commission = book(referred)
    services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN)
    with pytest.raises(services.AffiliateError) as refused:
        services.commission_reverse(commission=commission, reason="x", reversed_by="ann", now=APRIL_RUN)
    assert refused.value.code == "commission_in_pending_payout"


@pytest.mark.django_db(transaction=True)
def test_concurrent_payout_runs_create_each_payout_once():
    store_escrow_config()
    partners = [make_partner(name=f"Racer {index}", revenue_share_bps=2000) for index in range(4)]
    for index, partner in enumerate(partners):
        referral_services.referral_code_create(partner=partner, code=f"racer-{index}", now=NOW)
        web = make_web_customer(f"racer {index}")
        refer(web, f"racer-{index}")
        book(web)
    # Released first, so that the runs do not queue behind one another's release of held commissions:
    # they all read the same payable sums and race on inserting the same payouts.
    services.commissions_release(now=APRIL_RUN)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN))
        except Exception as error:  # noqa: BLE001 - reported below: a failed thread must fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(len(result.created) for result in results) == 4
    assert Payout.objects.count() == 4
    for payout in Payout.objects.all():
        assert payout.amount == sum(payout.commissions.values_list("amount", flat=True)) == 12_500_000
    assert not Commission.objects.filter(payout__isnull=True).exists()


def test_the_database_refuses_a_second_live_payout_for_a_partner_and_period(acme):
    Payout.objects.create(partner=acme, period=MARCH, amount=1, created_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.create(partner=acme, period=MARCH, amount=2, created_at=NOW)
    Payout.objects.filter(partner=acme).update(state=Payout.State.CANCELLED)
    Payout.objects.create(partner=acme, period=MARCH, amount=3, created_at=NOW)  # a cancelled one is not live
    assert Payout.objects.filter(partner=acme).count() == 2


def test_the_beat_tasks_release_held_commissions_and_run_the_month_before(acme, referred, settings):
    from affiliates.tasks import payout_run_task, release_commissions_task

    settings.CELERY_TASK_ALWAYS_EAGER = True
    book(referred)  # booked on 2 March 2026, held for a week: long over by now
    assert release_commissions_task.delay().get() == 1
    assert payout_run_task.delay("2026-03").get() == 1
    assert Payout.objects.get().period == MARCH
    assert payout_run_task.delay().get() == 0  # the month before today: nothing left to pay
    assert settings.CELERY_BEAT_SCHEDULE["affiliates.payout_run"]["schedule"].day_of_month == {1}


def test_a_booked_commission_and_a_paid_payout_are_announced_as_events_of_the_partner(acme, referred):
    from events.models import Event

    order, authorization = escrowed_order(referred, size=SIZE)
    fill(order, authorization, size="30000")
    commission = Commission.objects.get()

    booked = Event.objects.get(type="commission.booked")
    assert booked.partner_id == acme.pk  # the referring partner's event, not the web partner's
    assert booked.object_id == str(commission.pk)
    data = json.loads(booked.body)["data"]
    assert data["amount"] == commission.amount > 0
    assert data["order_id"] == str(order.pk)
    assert data["state"] == "pending"

    fee_services.fee_ledger_record_final(
        fee_authorization=authorization, filled_total=order.filled, size=order.size, now=NOW
    )
    services.commissions_release(now=NOW + timedelta(days=8))
    (payout,) = services.payout_run(
        actor=Actor.system("test"), period=MARCH, now=APRIL_RUN, minimum=1
    ).created
    assert not Event.objects.filter(type="payout.paid").exists()  # made, not yet paid
    services.payout_mark_paid(
        actor=Actor.system("test"), payout=payout, reference="0xabc", paid_by="staff", now=APRIL_RUN
    )

    paid = Event.objects.get(type="payout.paid")
    assert paid.partner_id == acme.pk
    data = json.loads(paid.body)["data"]
    assert data["amount"] == payout.amount == commission.amount
    assert data["reference"] == "0xabc"
    assert data["state"] == "paid"
