"""The end-user pages: sign-in and account, markets, the order ticket, my orders, fee authorizations."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from customers.models import Customer, Wallet
from parsec.client import ParsecError
from parsec.contract import FEE_ESCROW_EXCHANGES, MIN_GTD_LEAD_SECONDS
from referrals.models import Referral
from web import markets as market_data
from web import selectors
from web.presenters import ORDER_TYPE_LABELS, account_json, fee_authorization_row
from web.referral_links import referral_invitation
from web.selectors import current_wallet
from web.session import page_requires_customer, session_customer, session_sign_out

CHAIN_NAMES = {1: "Ethereum", 137: "Polygon", 80002: "Polygon Amoy"}
MAX_SEARCH_LENGTH = 100


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """A same-site path to go to after sign-in; anything else (another host, a scheme) becomes ''."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def render_page(request: HttpRequest, template: str, *, nav: str = "", **context) -> HttpResponse:
    customer = session_customer(request)
    signer = current_wallet(customer, Wallet.Role.SIGNER) if customer else None
    base = {
        "site_name": settings.WEB_SITE_NAME,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "customer": customer,
        "signer_address": signer.address if signer else "",
        "nav": nav,
    }
    return render(request, template, {**base, **context})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    customer = session_customer(request)
    if customer is None:
        chain_id = settings.SIWE_CHAIN_ID
        return render_page(
            request,
            "web/signin.html",
            chain_id=chain_id,
            chain_name=CHAIN_NAMES.get(chain_id, f"chain {chain_id}"),
            next=safe_next(request, request.GET.get("next")),
            invitation=referral_invitation(request),
        )
    referral = Referral.objects.filter(customer=customer).select_related("partner").first()
    return render_page(request, "web/account.html", account=account_json(customer), referral=referral)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    session_sign_out(request)
    return redirect("web:home")


@require_GET
def markets(request: HttpRequest) -> HttpResponse:
    exchange = request.GET.get("exchange", "").strip()
    search = request.GET.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    cursor = request.GET.get("cursor", "").strip() or None
    error = ""
    exchanges = []
    listing = market_data.MarketListing(markets=(), next_cursor=None)
    try:
        exchanges = market_data.tradable_exchanges()
        if exchange and exchange not in {item["id"] for item in exchanges}:
            error = "That exchange does not accept orders at the moment; showing every tradable exchange."
            exchange = ""
        listing = market_data.market_listing(exchange=exchange, search=search, cursor=cursor)
    except ParsecError:
        error = "Markets cannot be loaded from Parsec right now. Try again in a moment."
    names = {item["id"]: item["name"] for item in exchanges}
    trade_url = reverse("web:trade")
    rows = [
        {
            "market": market,
            "exchange_name": names.get(market["exchange"], market["exchange"]),
            "price_cents": None if market["price"] is None else market["price"] * 100,
            "trade_url": trade_url
            + "?"
            + urlencode({"exchange": market["exchange"], "market_id": market["market_id"]}),
        }
        for market in listing.markets
    ]
    next_url = ""
    if listing.next_cursor:
        next_url = "?" + urlencode({"exchange": exchange, "q": search, "cursor": listing.next_cursor})
    return render_page(
        request,
        "web/markets.html",
        nav="markets",
        exchanges=exchanges,
        selected_exchange=exchange,
        search=search,
        rows=rows,
        next_url=next_url,
        first_page=cursor is None,
        error=error,
    )


ORDER_TYPE_HINTS = {
    "gtc": "Rests on the book until it fills or you cancel it.",
    "ioc": "Fills what it can at once; the rest is cancelled.",
    "fok": "Fills completely at once, or not at all.",
    "gtd": "Rests on the book until it fills or the time you choose.",
}


@page_requires_customer
@require_GET
def _ticket_markets(request: HttpRequest) -> tuple[str, list, str, list, dict | None]:
    """(error, exchanges, selected exchange, markets, selected market) for the order ticket."""
    error = ""
    exchanges: list = []
    listing = market_data.MarketListing(markets=(), next_cursor=None)
    selected_exchange = request.GET.get("exchange", "")
    selected_market = None
    try:
        exchanges = market_data.tradable_exchanges()
        if selected_exchange not in {item["id"] for item in exchanges}:
            selected_exchange = exchanges[0]["id"] if exchanges else ""
        if selected_exchange:
            listing = market_data.market_listing(
                exchange=selected_exchange, search=None, cursor=None, limit=market_data.TICKET_MARKETS_LIMIT
            )
            wanted = request.GET.get("market_id", "")
            selected_market = (
                market_data.market_find(exchange=selected_exchange, market_id=wanted) if wanted else None
            )
    except ParsecError:
        error = (
            "Markets cannot be loaded from Parsec right now, so no order can be placed. Try again shortly."
        )
    markets = list(listing.markets)
    if selected_market is not None and selected_market not in markets:
        markets.insert(0, selected_market)
    if selected_market is None and markets:
        selected_market = markets[0]
    return error, exchanges, selected_exchange, markets, selected_market


def trade(request: HttpRequest) -> HttpResponse:
    customer = session_customer(request)
    error, exchanges, selected_exchange, markets, selected_market = _ticket_markets(request)
    outcomes = list(selected_market["outcomes"]) if selected_market else []
    selected_outcome = request.GET.get("outcome", "")
    if selected_outcome not in outcomes:
        selected_outcome = outcomes[0] if outcomes else ""
    ticket_config = {
        "orderTypes": {item["id"]: item["order_types"] for item in exchanges},
        "orderTypeLabels": ORDER_TYPE_LABELS,
        "orderTypeHints": ORDER_TYPE_HINTS,
        "feeExchanges": sorted(FEE_ESCROW_EXCHANGES),
        "markets": [market_data.market_json(market) for market in markets],
        "minGtdLeadSeconds": MIN_GTD_LEAD_SECONDS,
    }
    return render_page(
        request,
        "web/trade.html",
        nav="trade",
        error=error,
        trading_open=customer.status == Customer.Status.ACTIVE,
        exchanges=exchanges,
        selected_exchange=selected_exchange,
        markets=markets,
        selected_market=selected_market,
        outcomes=outcomes,
        selected_outcome=selected_outcome,
        initial_price=(
            ""
            if selected_market is None
            else market_data.outcome_prices(selected_market).get(selected_outcome) or ""
        ),
        order_type_choices=[
            {"value": order_type, "label": ORDER_TYPE_LABELS[order_type]}
            for order_type in ticket_config["orderTypes"].get(selected_exchange, ["gtc"])
        ],
        order_type_hint=ORDER_TYPE_HINTS["gtc"],
        min_gtd_lead_seconds=MIN_GTD_LEAD_SECONDS,
        ticket_config=ticket_config,
    )


@page_requires_customer
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    return render_page(request, "web/orders.html", nav="orders")


@page_requires_customer
@require_GET
def fee_authorizations(request: HttpRequest) -> HttpResponse:
    authorizations = selectors.customer_fee_authorizations(customer=session_customer(request))
    questions = market_data.market_questions(
        {(authorization.exchange, authorization.order.market_id) for authorization in authorizations}
    )
    rows = [
        fee_authorization_row(
            authorization, question=questions.get((authorization.exchange, authorization.order.market_id))
        )
        for authorization in authorizations
    ]
    return render_page(request, "web/fee_authorizations.html", nav="fees", rows=rows)
