"""P&L by average cost: realised + unrealised = market value - net cost, exactly, whatever the trades."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.pnl import Trade, position_pnl

prices = st.integers(min_value=1, max_value=999).map(lambda cents: Decimal(cents).scaleb(-3))
sizes = st.integers(min_value=1, max_value=10**8).map(lambda hundredths: Decimal(hundredths).scaleb(-2))
fees = st.integers(min_value=0, max_value=10**7).map(lambda units: Decimal(units).scaleb(-6))
trades = st.lists(
    st.builds(Trade, side=st.sampled_from(["buy", "sell"]), price=prices, size=sizes, fee=fees),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(trades=trades, current=prices)
def test_realised_plus_unrealised_is_market_value_less_net_cost_exactly(trades, current):
    pnl = position_pnl(trades, current_price=current)

    paid = sum((t.price * t.size + t.fee for t in trades if t.side == "buy"), Decimal(0))
    received = sum((t.price * t.size - t.fee for t in trades if t.side == "sell"), Decimal(0))
    held = sum((t.size if t.side == "buy" else -t.size for t in trades), Decimal(0))
    assert pnl.net_cost == paid - received
    assert pnl.size == held
    assert pnl.market_value == held * current
    assert pnl.realised + pnl.unrealised == pnl.market_value - pnl.net_cost


@settings(max_examples=200, deadline=None)
@given(buys=st.lists(st.tuples(prices, sizes), min_size=1, max_size=20), current=prices)
def test_only_buys_realise_nothing_and_average_the_price(buys, current):
    pnl = position_pnl([Trade("buy", price, size) for price, size in buys], current_price=current)

    cost = sum((price * size for price, size in buys), Decimal(0))
    assert pnl.realised == 0
    assert pnl.open_cost == cost
    assert pnl.unrealised == pnl.size * current - cost


def test_selling_part_realises_the_gain_on_that_part_at_the_average_cost():
    trades = [Trade("buy", Decimal("0.40"), Decimal(10)), Trade("buy", Decimal("0.60"), Decimal(10))]
    trades.append(Trade("sell", Decimal("0.70"), Decimal(5), fee=Decimal("0.01")))

    pnl = position_pnl(trades, current_price=Decimal("0.55"))

    assert pnl.average_price == Decimal("0.5")  # 10 at 0.40 and 10 at 0.60
    assert pnl.size == Decimal(15)
    assert pnl.realised == Decimal("0.99")  # 5 x (0.70 - 0.50) less the 0.01 fee
    assert pnl.open_cost == Decimal("7.5")
    assert pnl.unrealised == Decimal("0.75")  # 15 x 0.55 - 7.5


def test_selling_everything_leaves_only_realised_pnl():
    trades = [Trade("buy", Decimal("0.30"), Decimal(3)), Trade("sell", Decimal("0.20"), Decimal(3))]

    pnl = position_pnl(trades, current_price=None)

    assert (pnl.size, pnl.market_value, pnl.unrealised, pnl.average_price) == (0, 0, 0, None)
    assert pnl.realised == Decimal("-0.30")


def test_an_unknown_price_leaves_unrealised_unknown_for_an_open_position():
    pnl = position_pnl([Trade("buy", Decimal("0.30"), Decimal(3))], current_price=None)

    assert (pnl.market_value, pnl.unrealised, pnl.realised) == (None, None, 0)
