"""The end-user pages for what a customer owns and what a market looks like: portfolio, one market with
its book beside the ticket, and one order in detail. The P&L itself comes from the portfolio app."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from customers.models import Customer
from orders.models import Order
from parsec.client import ParsecError
from parsec.contract import EXCHANGE_NAMES, FEE_ESCROW_EXCHANGES, MIN_GTD_LEAD_SECONDS
from portfolio import market_data as portfolio_market_data
from portfolio.market_data import MarketDataError
from portfolio.selectors import customer_positions
from web import markets as market_data
from web import selectors
from web.markets import QUESTION_CACHE_SECONDS
from web.presenters import (
    FEE_STATE_LABELS,
    ORDER_TYPE_LABELS,
    average_fill_price,
    order_end_reason,
    plain_number,
    usdc_display,
)
from web.session import page_requires_customer, session_customer
from web.views import ORDER_TYPE_HINTS, render_page

BOOK_LEVELS = 5  # levels of each side shown on the market page
ORDERS_PAGE_SIZE = 20


def _money(value: Decimal | None) -> str:
    """USDC for people: to the cent, rounded half to even, or to the base unit when less than a cent
    (a fee-sized loss must not read as 0.00); the exact figure is in the partner API."""
    if value is None:
        return "—"
    if value and abs(value) < Decimal("0.01"):
        return f"{value.quantize(Decimal('0.000001')).normalize():f}"
    return f"{value.quantize(Decimal('0.01')):,f}"


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = _money(value)
    return text if value < 0 or text.lstrip("-") == "0.00" else f"+{text}"


def _price(value: Decimal | None) -> str:
    return "—" if value is None else plain_number(value)


def customer_balances_display(customer: Customer) -> tuple[list[dict[str, Any]], str]:
    """(balances per exchange for people, a sentence when they cannot be read)."""
    try:
        balances = portfolio_market_data.customer_balances(customer=customer, exchange=None)
    except MarketDataError as error:
        if error.code == "customer_not_ready":
            return [], "Your balance shows once your trading account is set up."
        return [], "Your balance cannot be read from the exchange right now."
    return [
        {
            "exchange": item["exchange"],
            "exchange_name": EXCHANGE_NAMES.get(item["exchange"], item["exchange"]),
            "usdc": usdc_display(item["usdc"]),
            "base_units": item["usdc"],
        }
        for item in balances
    ], ""


@page_requires_customer
@require_GET
def portfolio(request: HttpRequest) -> HttpResponse:
    customer = session_customer(request)
    data = customer_positions(customer=customer)
    questions = market_data.market_questions({(p["exchange"], p["market_id"]) for p in data["positions"]})
    rows = []
    for item in data["positions"]:
        pnl = item["pnl"]
        rows.append(
            {
                "exchange_name": EXCHANGE_NAMES.get(item["exchange"], item["exchange"]),
                "question": questions.get((item["exchange"], item["market_id"])) or item["market_id"],
                "market_url": reverse(
                    "web:market_page", kwargs={"exchange": item["exchange"], "market_id": item["market_id"]}
                ),
                "outcome": item["outcome"],
                "size": plain_number(pnl.size),
                "closed": pnl.size == 0,
                "average_price": _price(pnl.average_price),
                "current_price": _price(pnl.current_price),
                "market_value": _money(pnl.market_value),
                "realised": _signed(pnl.realised),
                "unrealised": _signed(pnl.unrealised),
            }
        )
    totals = data["totals"]
    balances, balance_error = customer_balances_display(customer)
    return render_page(
        request,
        "web/portfolio.html",
        nav="portfolio",
        rows=rows,
        totals={
            "market_value": _money(totals["market_value"]),
            "net_cost": _money(totals["net_cost"]),
            "realised": _signed(totals["realised_pnl"]),
            "unrealised": _signed(totals["unrealised_pnl"]),
        },
        balances=balances,
        balance_error=balance_error,
    )


def book_rows(book: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {
        side: [
            {"price": plain_number(level["price"]), "size": plain_number(level["size"])}
            for level in book[side]
        ]
        for side in ("bids", "asks")
    }


@page_requires_customer
@require_GET
def market_page(request: HttpRequest, exchange: str, market_id: str) -> HttpResponse:
    customer = session_customer(request)
    try:
        exchanges = market_data.tradable_exchanges()
        listed = market_data.market_find(exchange=exchange, market_id=market_id)
        market = portfolio_market_data.market_detail(exchange=exchange, market_id=market_id)
    except (ParsecError, MarketDataError):
        listed, market, exchanges = None, None, []
    if listed is None or market is None:
        raise Http404("No such tradable market")
    # Remembered for the pages that name this market later (the portfolio, the orders).
    cache.set(market_data.question_cache_key(exchange, market_id), market["question"], QUESTION_CACHE_SECONDS)
    outcomes = [item["name"] for item in market["outcomes"]]
    selected_outcome = request.GET.get("outcome", "")
    if selected_outcome not in outcomes:
        selected_outcome = outcomes[0]
    book_error = ""
    books = {}
    try:
        for outcome in outcomes[:2]:
            books[outcome] = book_rows(
                portfolio_market_data.order_book(
                    exchange=exchange, market_id=market_id, outcome=outcome, depth=BOOK_LEVELS
                )
            )
    except MarketDataError:
        book_error = "The order book cannot be read right now."
    order_types = {item["id"]: item["order_types"] for item in exchanges}
    ticket_config = {
        "orderTypes": order_types,
        "orderTypeLabels": ORDER_TYPE_LABELS,
        "orderTypeHints": ORDER_TYPE_HINTS,
        "feeExchanges": sorted(FEE_ESCROW_EXCHANGES),
        "markets": [market_data.market_json(listed)],
        "minGtdLeadSeconds": MIN_GTD_LEAD_SECONDS,
    }
    prices = market_data.outcome_prices(listed)
    return render_page(
        request,
        "web/market.html",
        nav="markets",
        market=market,
        exchange_name=EXCHANGE_NAMES.get(exchange, exchange),
        outcome_rows=[
            {
                "name": item["name"],
                "price": _price(item["price"]),
                "cents": None if item["price"] is None else plain_number(item["price"] * 100),
            }
            for item in market["outcomes"]
        ],
        volume=_price(market["volume"]),
        books=books,
        book_error=book_error,
        book_levels=BOOK_LEVELS,
        trading_open=customer.status == Customer.Status.ACTIVE,
        exchanges=[item for item in exchanges if item["id"] == exchange],
        selected_exchange=exchange,
        markets=[listed],
        selected_market=listed,
        outcomes=outcomes,
        selected_outcome=selected_outcome,
        initial_price=prices.get(selected_outcome) or "",
        order_type_choices=[
            {"value": order_type, "label": ORDER_TYPE_LABELS[order_type]}
            for order_type in order_types.get(exchange, ["gtc"])
        ],
        order_type_hint=ORDER_TYPE_HINTS["gtc"],
        min_gtd_lead_seconds=MIN_GTD_LEAD_SECONDS,
        ticket_config=ticket_config,
        market_config={
            "exchange": exchange,
            "marketId": market_id,
            "outcomes": outcomes[:2],
            "bookUrl": reverse("web:orderbook_json"),
            "expectedFillUrl": reverse("web:expected_fill_json"),
            "levels": BOOK_LEVELS,
        },
    )


# --- One order ---------------------------------------------------------------------------------------

_STATUS_WORDS = {
    "awaiting_fee_auth": "It is waiting for your fee signature.",
    "queued": "It is queued to be sent to the exchange.",
    "submitting": "It is being sent to the exchange.",
    "pending": "The exchange accepted it and is placing it.",
    "open": "It is open on the exchange's book.",
    "partially_filled": "Part of it has filled.",
    "filled": "It has filled completely.",
    "cancelled": "It was cancelled.",
    "rejected": "The exchange rejected it.",
    "failed": "It could not be sent; nothing was traded.",
    "unknown": "The answer from the exchange was lost; checking whether it arrived.",
}
_CAUSE_WORDS = {
    "created": "You placed the order.",
    "fee_authorization_signed": "You signed its fee authorization.",
    "claimed": "Sending it to the exchange.",
    "cancelled_before_send": "You cancelled it before it was sent.",
    "parsec_cancelled": "The exchange confirmed the cancel.",
    "parsec_rejected": "The exchange refused it.",
    "fee_deadline_passed": "The fee was not signed in time.",
    "answer_lost": "The exchange's answer was lost on the way back.",
    "reconciled": "Checked against the exchange.",
    "adopted_from_listing": "Found at the exchange after its answer was lost.",
}


def event_sentence(from_status: str, to_status: str, cause: str) -> str:
    """An order event in plain words: what happened, then where that leaves the order."""
    what = _CAUSE_WORDS.get(cause, "")
    if cause.startswith("staff_"):
        what = "Our support team acted on it."
    where = _STATUS_WORDS.get(to_status, "") if to_status != from_status else ""
    return (
        " ".join(part for part in (what, where) if part)
        or f"Update from the exchange ({cause.replace('_', ' ')})."
    )


@page_requires_customer
@require_GET
def order_page(request: HttpRequest, order_id: str) -> HttpResponse:
    customer = session_customer(request)
    order = selectors.customer_order_get(customer=customer, order_id=order_id)
    if order is None:
        raise Http404("No such order in your account")
    fills = list(order.fills.all())
    events = list(order.events.order_by("created_at", "id"))
    questions = market_data.market_questions({(order.exchange, order.market_id)})
    authorization = order.fee_authorization
    average = average_fill_price(order)
    return render_page(
        request,
        "web/order_detail.html",
        nav="orders",
        order=order,
        question=questions.get((order.exchange, order.market_id)) or order.market_id,
        exchange_name=EXCHANGE_NAMES.get(order.exchange, order.exchange),
        market_url=reverse(
            "web:market_page", kwargs={"exchange": order.exchange, "market_id": order.market_id}
        ),
        price=plain_number(order.price),
        size=plain_number(order.size),
        filled=plain_number(order.filled),
        average_price=_price(average),
        end_reason=order_end_reason(order),
        order_type_label=ORDER_TYPE_LABELS.get(order.order_type, order.order_type),
        fills=[
            {
                "created_at": fill.created_at,
                "price": plain_number(fill.price),
                "size": plain_number(fill.size),
                "fee": plain_number(fill.fee),
                "role": "Taker" if fill.is_taker else "Maker",
            }
            for fill in fills
        ],
        events=[
            {
                "created_at": event.created_at,
                "sentence": event_sentence(event.from_status, event.to_status, event.cause),
            }
            for event in events
        ],
        fee=None
        if authorization is None
        else {
            "state_label": FEE_STATE_LABELS.get(authorization.state, authorization.state),
            "amount": usdc_display(authorization.fee_amount),
            "payer": authorization.payer,
            "deadline": authorization.deadline,
            "escrow_order_id": authorization.escrow_order_id,
        },
    )


@page_requires_customer
@require_GET
def orders_page(request: HttpRequest) -> HttpResponse:
    """My orders with status and exchange filters and pages (newest first; ?page=N)."""
    customer = session_customer(request)
    status = request.GET.get("status", "")
    exchange = request.GET.get("exchange", "")
    orders = selectors.customer_orders(customer=customer)
    if status in Order.Status.values:
        orders = orders.filter(status=status)
    else:
        status = ""
    if exchange in EXCHANGE_NAMES:
        orders = orders.filter(exchange=exchange)
    else:
        exchange = ""
    raw_page = request.GET.get("page", "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 6 else 1
    page = max(1, page)
    chunk = list(orders[(page - 1) * ORDERS_PAGE_SIZE : page * ORDERS_PAGE_SIZE + 1])
    has_next = len(chunk) > ORDERS_PAGE_SIZE
    chunk = chunk[:ORDERS_PAGE_SIZE]
    questions = market_data.market_questions({(order.exchange, order.market_id) for order in chunk})

    def link(number: int) -> str:
        query = "&".join(
            f"{name}={value}" for name, value in (("status", status), ("exchange", exchange)) if value
        )
        return f"?{query}&page={number}" if query else f"?page={number}"

    return render_page(
        request,
        "web/orders_list.html",
        nav="orders",
        rows=[
            {
                "order": order,
                "url": reverse("web:order_page", kwargs={"order_id": order.id}),
                "question": questions.get((order.exchange, order.market_id)) or order.market_id,
                "exchange_name": EXCHANGE_NAMES.get(order.exchange, order.exchange),
                "price": plain_number(order.price),
                "size": plain_number(order.size),
                "filled": plain_number(order.filled),
            }
            for order in chunk
        ],
        statuses=[(value, label) for value, label in Order.Status.choices],
        exchange_choices=sorted(EXCHANGE_NAMES.items()),
        selected_status=status,
        selected_exchange=exchange,
        page=page,
        next_url=link(page + 1) if has_next else "",
        previous_url=link(page - 1) if page > 1 else "",
    )
