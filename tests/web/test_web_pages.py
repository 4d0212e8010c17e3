"""The server-rendered pages through the simulator: market filters and the order ticket's choices."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def market_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-market-id="[^"]+" data-exchange="([a-z]+)">', html)


def test_markets_lists_only_exchanges_that_take_orders(trader, parsec_sim):
    html = trader.client.get("/markets").content.decode()

    # The simulator trades on Polymarket and Kalshi only; the other three are data-only.
    assert sorted(set(market_rows(html))) == ["kalshi", "polymarket"]
    assert "Will the Fed cut rates at its next meeting?" in html


def test_markets_filter_by_exchange_and_search_by_text(trader, parsec_sim):
    kalshi = trader.client.get("/markets?exchange=kalshi").content.decode()
    bitcoin = trader.client.get("/markets?q=Bitcoin").content.decode()

    assert set(market_rows(kalshi)) == {"kalshi"}
    assert len(market_rows(bitcoin)) == 2
    assert "Premier League" not in bitcoin


def test_a_data_only_exchange_is_not_offered_and_says_so(trader, parsec_sim):
    html = trader.client.get("/markets?exchange=opinion").content.decode()

    assert "does not accept orders at the moment" in html
    assert "opinion" not in market_rows(html)


def test_the_ticket_offers_only_the_order_types_the_exchange_supports(trader, parsec_sim):
    kalshi = trader.client.get("/trade?exchange=kalshi").content.decode()
    polymarket = trader.client.get("/trade?exchange=polymarket").content.decode()

    def order_types(html: str) -> list[str]:
        select = re.search(r'<select id="field-order-type".*?</select>', html, re.S).group(0)
        return re.findall(r'<option value="([a-z]+)"', select)

    assert order_types(kalshi) == ["gtc", "ioc"]
    assert order_types(polymarket) == ["gtc", "ioc", "fok", "gtd"]
    assert "at least 60 seconds later" in polymarket


def test_the_ticket_preselects_the_market_chosen_on_the_markets_page(trader, parsec_sim):
    market = parsec_sim.list_markets(exchanges=["polymarket"], limit=5).markets[2]

    html = trader.client.get(f"/trade?exchange=polymarket&market_id={market.market_id}").content.decode()

    assert f'<option value="{market.market_id}" selected>' in html
