"""The simulator's routes, mirroring Parsec's /api/v1 paths (mounted at /sim/api/v1/)."""

from django.urls import path

from parsec.sim import views

urlpatterns = [
    path("exchanges", views.exchanges, name="sim-exchanges"),
    path("markets", views.markets, name="sim-markets"),
    path("builder/users", views.builder_users, name="sim-builder-users"),
    path("builder/users/<str:customer_id>", views.builder_user_detail, name="sim-builder-user"),
    path("builder/onboard", views.builder_onboard, name="sim-builder-onboard"),
    path("builder/escrow/config", views.escrow_config, name="sim-escrow-config"),
    path("orders", views.orders, name="sim-orders"),
    path("orders/<str:order_id>", views.order_detail, name="sim-order"),
    path("fills", views.fills, name="sim-fills"),
    path("positions", views.positions, name="sim-positions"),
    path("balance", views.balance, name="sim-balance"),
    path("orderbook", views.orderbook, name="sim-orderbook"),
    path("execution-price", views.execution_price_view, name="sim-execution-price"),
    # The simulator's own, not Parsec's: what its rate limits counted.
    path("sim/rate-stats", views.rate_stats, name="sim-rate-stats"),
]
