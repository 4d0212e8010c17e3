"""Partner API routes for positions, balances, fills, markets, order books and execution prices."""

from django.urls import path

from portfolio import apis

urlpatterns = [
    path(
        "customers/<str:customer_id>/positions",
        apis.CustomerPositionsApi.as_view(),
        name="customer-positions",
    ),
    path("customers/<str:customer_id>/balance", apis.CustomerBalanceApi.as_view(), name="customer-balance"),
    path("fills", apis.FillListApi.as_view(), name="fills"),
    path("markets/<str:exchange>/<str:market_id>", apis.MarketDetailApi.as_view(), name="market"),
    path(
        "markets/<str:exchange>/<str:market_id>/orderbook",
        apis.MarketOrderBookApi.as_view(),
        name="market-orderbook",
    ),
    path("execution-price", apis.ExecutionPriceApi.as_view(), name="execution-price"),
]
