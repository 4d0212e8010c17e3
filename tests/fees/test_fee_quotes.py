"""Fee quotes: Parsec's rounding rule on the partner's rate, the escrow minimum, and who pays no fee."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from factories import make_partner
from fees_support import store_escrow_config
from hypothesis import given, settings
from hypothesis import strategies as st

from fees.models import EscrowConfig
from fees.services import EscrowConfigUnavailable, fee_applies, fee_quote


@pytest.fixture
def partner(db):
    return make_partner(fee_bps=25)


def test_the_parsec_example_quotes_137500_base_units(partner, escrow_config):
    quote = fee_quote(
        partner=partner,
        exchange="polymarket",
        price=Decimal("0.55"),
        size=Decimal("100"),
        config=escrow_config,
    )
    assert (quote.fee_bps, quote.fee_amount, quote.minimum_applied, quote.charged) == (
        25,
        137_500,
        False,
        True,
    )


def test_a_partner_without_its_own_rate_pays_the_escrow_default(db):
    config = store_escrow_config(fee_bps=40)
    quote = fee_quote(
        partner=make_partner(),
        exchange="polymarket",
        price=Decimal("0.5"),
        size=Decimal("100"),
        config=config,
    )
    assert (quote.fee_bps, quote.fee_amount) == (40, 200_000)


def test_a_small_order_pays_the_escrow_minimum_and_says_so(partner, escrow_config):
    quote = fee_quote(
        partner=partner, exchange="polymarket", price=Decimal("0.10"), size=Decimal("1"), config=escrow_config
    )
    # 0.10 x 1 x 25 bps = 250 base units, below the 10_000 minimum.
    assert (quote.fee_amount, quote.minimum_applied) == (10_000, True)


@pytest.mark.parametrize("exchange", ["kalshi", "limitless", "opinion", "predictfun"])
def test_exchanges_without_a_fee_escrow_carry_no_fee(partner, escrow_config, exchange):
    quote = fee_quote(
        partner=partner, exchange=exchange, price=Decimal("0.5"), size=Decimal("10"), config=escrow_config
    )
    assert (quote.fee_bps, quote.fee_amount, quote.charged) == (0, 0, False)
    assert not fee_applies(partner=partner, exchange=exchange)


def test_a_zero_fee_partner_is_attribution_only_and_needs_no_config(db):
    partner = make_partner(fee_bps=0)
    assert not fee_applies(partner=partner, exchange="polymarket")
    quote = fee_quote(
        partner=partner, exchange="polymarket", price=Decimal("0.5"), size=Decimal("10"), config=None
    )
    assert quote.fee_amount == 0


def test_a_disabled_escrow_charges_nothing(partner, db):
    config = store_escrow_config(fee_escrow_enabled=False)
    quote = fee_quote(
        partner=partner, exchange="polymarket", price=Decimal("0.5"), size=Decimal("10"), config=config
    )
    assert quote.fee_amount == 0


def test_a_quote_that_needs_a_config_refuses_to_guess_without_one(partner):
    with pytest.raises(EscrowConfigUnavailable) as caught:
        fee_quote(
            partner=partner, exchange="polymarket", price=Decimal("0.5"), size=Decimal("10"), config=None
        )
    assert caught.value.status == 503


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4)
sizes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)


@settings(max_examples=300, deadline=None)
@given(
    price=prices, size=sizes, fee_bps=st.integers(min_value=1, max_value=150), minimum=st.integers(0, 50_000)
)
def test_a_quote_is_never_below_the_exact_fee_nor_a_unit_above_it_unless_the_minimum_applies(
    price, size, fee_bps, minimum
):
    # No database: the config is an unsaved row, the partner an unsaved model.
    from customers.models import Partner

    config = EscrowConfig(
        fee_escrow_enabled=True, fee_bps=25, min_fee_bps=1, min_fee_usdc=minimum, affiliate_fee_bps=0
    )
    quote = fee_quote(
        partner=Partner(fee_bps=fee_bps), exchange="polymarket", price=price, size=size, config=config
    )
    exact = Fraction(price) * Fraction(size) * fee_bps / 10_000 * 10**6
    if quote.minimum_applied:
        assert quote.fee_amount == minimum > exact
    else:
        assert exact <= quote.fee_amount < exact + 1
        assert quote.fee_amount >= minimum
