"""Partner API routes for orders, exchanges and markets, mounted at /api/v1/."""

from django.urls import path

from orders import apis, stopping_apis

urlpatterns = [
    path("orders", apis.OrderListCreateApi.as_view(), name="orders"),
    # Before orders/<order_id>, which would read "cancel-all" as an order id.
    path("orders/cancel-all", stopping_apis.OrderCancelAllApi.as_view(), name="orders-cancel-all"),
    path("orders/<str:order_id>", apis.OrderDetailApi.as_view(), name="order"),
    path(
        "orders/<str:order_id>/fee-authorization",
        apis.OrderFeeAuthorizationApi.as_view(),
        name="order-fee-authorization",
    ),
    path("heartbeat", stopping_apis.HeartbeatApi.as_view(), name="heartbeat"),
    path("exchanges", apis.ExchangeListApi.as_view(), name="exchanges"),
    path("markets", apis.MarketListApi.as_view(), name="markets"),
]
