from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    """Positions, P&L, balances and market depth.

    Right of orders in the dependency order: parsec <- customers <- fees <- orders <- portfolio <- web.
    """

    name = "portfolio"
