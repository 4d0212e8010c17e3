"""The web frontend's pages and the JSON endpoints their scripts call (mounted at /)."""

from django.urls import path

from web import apis, portfolio_apis, portfolio_pages, referral_links, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("markets", views.markets, name="markets"),
    path("trade", views.trade, name="trade"),
    path("orders", views.orders, name="orders"),
    path("orders/all", portfolio_pages.orders_page, name="orders_page"),
    path("orders/<uuid:order_id>", portfolio_pages.order_page, name="order_page"),
    path("portfolio", portfolio_pages.portfolio, name="portfolio"),
    path("markets/<str:exchange>/<str:market_id>", portfolio_pages.market_page, name="market_page"),
    path("fee-authorizations", views.fee_authorizations, name="fee_authorizations"),
    path("sign-out", views.sign_out, name="sign_out"),
    path("r/<str:code>", referral_links.referral_link, name="referral_link"),
    # JSON, for the pages' scripts
    path("app/session/challenge", apis.session_challenge, name="session_challenge"),
    path("app/session/verify", apis.session_verify, name="session_verify"),
    path("app/account", apis.account_status, name="account_status"),
    path("app/markets", apis.markets_for_ticket, name="markets_json"),
    path("app/quote", apis.quote, name="quote"),
    path("app/orderbook", portfolio_apis.orderbook_json, name="orderbook_json"),
    path("app/expected-fill", portfolio_apis.expected_fill_json, name="expected_fill_json"),
    path("app/orders", apis.orders_collection, name="orders_json"),
    path("app/orders/<str:order_id>", apis.order_detail, name="order_json"),
    path("app/orders/<str:order_id>/cancel", apis.order_cancel, name="order_cancel"),
    path(
        "app/orders/<str:order_id>/fee-authorization",
        apis.order_fee_authorization,
        name="order_fee_authorization",
    ),
]
