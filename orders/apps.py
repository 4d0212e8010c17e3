from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # customers cannot import orders (it builds on customers): it asks through its registry.
        from customers.services import signer_replacement_blockers
        from orders.selectors import orders_blocking_signer_replacement

        if orders_blocking_signer_replacement not in signer_replacement_blockers:
            signer_replacement_blockers.append(orders_blocking_signer_replacement)
