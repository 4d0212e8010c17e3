"""The fee ledger: authorized, pro-rata distributions per fill, refunds, partner shares, invariants."""

from __future__ import annotations

import secrets
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from fees_support import NOW, escrowed, make_fee_customer, store_escrow_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fees import services
from fees.models import FeeAuthorization, FeeLedgerEntry
from fees.money import bps_share, cumulative_share, usdc_text

Kind = FeeLedgerEntry.Kind
State = FeeAuthorization.State


def totals(authorization: FeeAuthorization) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for kind, amount in FeeLedgerEntry.objects.filter(fee_authorization=authorization).values_list(
        "kind", "amount"
    ):
        sums[kind] += amount
    return dict(sums)


def fill(authorization, fill_id: str, filled_total: str, size: str = "100"):
    return services.fee_ledger_record_fill(
        fee_authorization=authorization,
        fill_id=fill_id,
        filled_total=Decimal(filled_total),
        size=Decimal(size),
        now=NOW,
    )


def final(authorization, filled_total: str, size: str = "100"):
    return services.fee_ledger_record_final(
        fee_authorization=authorization, filled_total=Decimal(filled_total), size=Decimal(size), now=NOW
    )


@pytest.fixture
def escrowed_fee(fee_customer, request_fee) -> FeeAuthorization:
    """137_500 base units in escrow (100 @ 0.55, 25 bps); the builder's affiliate gets 50%."""
    authorization = request_fee()
    return escrowed(authorization, signature=fee_customer.sign(authorization))


# --- The rounding rule ----------------------------------------------------------------------------------


def test_the_cumulative_share_is_an_exact_floor():
    assert cumulative_share(100, part=Decimal("1"), whole=Decimal("3")) == 33
    assert cumulative_share(100, part=Decimal("2"), whole=Decimal("3")) == 66
    assert cumulative_share(100, part=Decimal("3"), whole=Decimal("3")) == 100
    assert (
        cumulative_share(7, part=Decimal("0.1"), whole=Decimal("0.3")) == 2
    )  # binary floats would say 2.333..
    assert bps_share(137_501, 5000) == 68_750
    assert usdc_text(137_500) == "0.137500"
    assert usdc_text(12_000_001) == "12.000001"


# --- Booking ------------------------------------------------------------------------------------------------


def test_the_authorized_fee_is_booked_once(escrowed_fee):
    again = services.fee_ledger_record_authorized(fee_authorization=escrowed_fee, now=NOW)
    assert totals(escrowed_fee) == {Kind.AUTHORIZED: 137_500}
    assert again.amount == 137_500
    entry = FeeLedgerEntry.objects.get()
    assert (entry.partner_id, entry.customer_id, entry.exchange) == (
        escrowed_fee.partner_id,
        escrowed_fee.customer_id,
        "polymarket",
    )


def test_a_fee_not_yet_in_escrow_cannot_be_booked(fee_customer, request_fee):
    authorization = request_fee()
    with pytest.raises(services.FeeLedgerError):
        services.fee_ledger_record_authorized(fee_authorization=authorization)
    assert not FeeLedgerEntry.objects.exists()


def test_each_fill_distributes_its_pro_rata_part_split_between_affiliate_and_treasury(escrowed_fee):
    entries = fill(escrowed_fee, "f1", "33.3")
    # floor(137500 x 33.3 / 100) = 45787; the affiliate's 50% of it, rounded down: 22893.
    assert {entry.kind: entry.amount for entry in entries} == {
        Kind.DISTRIBUTED_AFFILIATE: 22_893,
        Kind.DISTRIBUTED_TREASURY: 22_894,
    }
    fill(escrowed_fee, "f2", "66.6")
    fill(escrowed_fee, "f3", "100")
    booked = totals(escrowed_fee)
    assert booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY] == 137_500
    assert booked[Kind.DISTRIBUTED_AFFILIATE] == 68_750


def test_replaying_a_fill_adds_nothing(escrowed_fee):
    fill(escrowed_fee, "f1", "40")
    before = totals(escrowed_fee)
    assert fill(escrowed_fee, "f1", "40") == []
    assert fill(escrowed_fee, "f1", "90") == []  # the same fill id, whatever it claims now
    assert totals(escrowed_fee) == before


def test_a_fill_reported_after_a_larger_total_takes_nothing_back(escrowed_fee):
    fill(escrowed_fee, "f2", "60")
    entries = fill(escrowed_fee, "f1", "30")
    assert [entry.amount for entry in entries] == [0, 0]
    assert (
        totals(escrowed_fee)[Kind.DISTRIBUTED_TREASURY] + totals(escrowed_fee)[Kind.DISTRIBUTED_AFFILIATE]
        == 82_500
    )


def test_a_filled_total_above_the_size_is_refused(escrowed_fee):
    with pytest.raises(services.FeeLedgerError):
        fill(escrowed_fee, "f1", "100.01")
    assert totals(escrowed_fee) == {Kind.AUTHORIZED: 137_500}


def test_the_final_refund_is_the_undistributed_rest_and_settles_the_fee(escrowed_fee):
    fill(escrowed_fee, "f1", "25")
    refund = final(escrowed_fee, "25")
    booked = totals(escrowed_fee)
    assert refund.amount == 137_500 - 34_375
    assert (
        booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY] + booked[Kind.REFUNDED]
        == 137_500
    )
    escrowed_fee.refresh_from_db()
    assert (escrowed_fee.state, escrowed_fee.finished_at) == (State.SETTLED, NOW)
    assert final(escrowed_fee, "25").pk == refund.pk  # idempotent


def test_an_order_that_never_filled_is_refunded_in_full(escrowed_fee):
    assert final(escrowed_fee, "0").amount == 137_500
    escrowed_fee.refresh_from_db()
    assert escrowed_fee.state == State.REFUNDED


def test_settling_before_every_fill_is_booked_is_refused(escrowed_fee):
    fill(escrowed_fee, "f1", "25")
    with pytest.raises(services.FeeLedgerError) as caught:
        final(escrowed_fee, "50")
    assert "missing fills" in caught.value.message
    assert Kind.REFUNDED not in totals(escrowed_fee)


def test_a_fill_after_settlement_is_refused(escrowed_fee):
    final(escrowed_fee, "0")
    with pytest.raises(services.FeeLedgerError):
        fill(escrowed_fee, "late", "10")


def test_a_partner_without_an_affiliate_address_earns_its_share_of_the_affiliate_part(db):
    store_escrow_config()
    who = make_fee_customer(label="share", revenue_share_bps=2000)
    authorization = services.fee_authorization_request(
        may_refresh_config=True,
        partner=who.partner,
        customer=who.customer,
        exchange="polymarket",
        price=Decimal("0.55"),
        size=Decimal("100"),
        now=NOW,
    )
    authorization = escrowed(authorization, signature=who.sign(authorization))
    fill(authorization, "f1", "100")
    booked = totals(authorization)
    assert booked[Kind.DISTRIBUTED_AFFILIATE] == 68_750
    assert booked[Kind.PARTNER_SHARE] == 13_750  # 20% of the affiliate part


def test_a_partner_with_its_own_affiliate_address_gets_no_off_chain_share(db):
    from factories import make_eth_account

    store_escrow_config()
    who = make_fee_customer(
        label="own-aff", revenue_share_bps=2000, affiliate_address=make_eth_account("own aff").address
    )
    authorization = services.fee_authorization_request(
        may_refresh_config=True,
        partner=who.partner,
        customer=who.customer,
        exchange="polymarket",
        price=Decimal("0.55"),
        size=Decimal("100"),
        now=NOW,
    )
    authorization = escrowed(authorization, signature=who.sign(authorization))
    fill(authorization, "f1", "100")
    assert Kind.PARTNER_SHARE not in totals(authorization)


# --- Database constraints -----------------------------------------------------------------------------------


def _raw_entry(authorization, **fields):
    values = {
        "fee_authorization": authorization,
        "kind": Kind.AUTHORIZED,
        "fill_id": "",
        "amount": 1,
        "partner_id": authorization.partner_id,
        "customer_id": authorization.customer_id,
        "exchange": authorization.exchange,
        "created_at": NOW,
    }
    values.update(fields)
    return FeeLedgerEntry(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": Kind.AUTHORIZED},  # a second authorized row
        {"kind": Kind.AUTHORIZED, "amount": -1, "fill_id": ""},
        {"kind": Kind.DISTRIBUTED_TREASURY, "fill_id": ""},  # a per-fill row without its fill
        {"kind": Kind.REFUNDED, "fill_id": "f1"},  # a once-only row naming a fill
        {"kind": "bonus"},
    ],
    ids=["authorized-twice", "negative", "fill-without-id", "refund-with-fill", "unknown-kind"],
)
def test_the_database_refuses_entries_that_break_the_ledgers_shape(escrowed_fee, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_entry(escrowed_fee, **fields).save()


def test_the_database_refuses_the_same_fill_twice(escrowed_fee):
    fill(escrowed_fee, "f1", "10")
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_entry(escrowed_fee, kind=Kind.DISTRIBUTED_AFFILIATE, fill_id="f1").save()


# --- Property: any sequence of fills ------------------------------------------------------------------


fill_sequences = st.lists(st.integers(min_value=1, max_value=1000), min_size=0, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunks=fill_sequences,
    fill_all=st.booleans(),
    replay=st.booleans(),
    affiliate_bps=st.integers(min_value=0, max_value=10_000),
    share_bps=st.integers(min_value=0, max_value=10_000),
    size_cents=st.integers(min_value=1, max_value=1_000_000),
    fee_amount=st.integers(min_value=1, max_value=10**12),
)
def test_for_any_fills_the_sums_always_hold(
    escrowed_fee, chunks, fill_all, replay, affiliate_bps, share_bps, size_cents, fee_amount
):
    # A fresh authorization per example with the generated terms (the fixture's row is a template).
    size = Decimal(size_cents) / 100
    with transaction.atomic():
        authorization = FeeAuthorization.objects.get(pk=escrowed_fee.pk)
        authorization.pk = None
        authorization.escrow_order_id = "0x" + secrets.token_bytes(32).hex()
        authorization.fee_amount = fee_amount
        authorization.affiliate_fee_bps = affiliate_bps
        authorization.partner_share_bps = share_bps
        authorization.save()
        services.fee_ledger_record_authorized(fee_authorization=authorization, now=NOW)
    # Cumulative totals that never exceed the size; chunks are thousandths of the size.
    filled = Decimal(0)
    history = []
    for index, chunk in enumerate(chunks):
        filled = min(size, filled + size * chunk / 1000)
        history.append((f"f{index}", filled))
    if fill_all:
        history.append(("last", size))
        filled = size
    for fill_id, total in history:
        services.fee_ledger_record_fill(
            fee_authorization=authorization, fill_id=fill_id, filled_total=total, size=size
        )
        booked = totals(authorization)
        distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
        assert distributed == cumulative_share(authorization.fee_amount, part=total, whole=size)
        assert distributed <= authorization.fee_amount
        assert booked[Kind.DISTRIBUTED_AFFILIATE] == bps_share(distributed, affiliate_bps)
    if replay and history:
        before = totals(authorization)
        for fill_id, total in history:
            services.fee_ledger_record_fill(
                fee_authorization=authorization, fill_id=fill_id, filled_total=total, size=size
            )
        assert totals(authorization) == before
    services.fee_ledger_record_final(fee_authorization=authorization, filled_total=filled, size=size, now=NOW)
    booked = defaultdict(int, totals(authorization))
    distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
    assert distributed + booked[Kind.REFUNDED] == booked[Kind.AUTHORIZED] == authorization.fee_amount
    assert booked[Kind.PARTNER_SHARE] == (
        bps_share(booked[Kind.DISTRIBUTED_AFFILIATE], share_bps) if share_bps else 0
    )
    if fill_all:
        assert booked[Kind.REFUNDED] == 0
