from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        from customers.models import Customer, Partner, PartnerApiKey, Wallet
        from generations.store import generation_bumped_by

        # Read through per-process caches on every partner request (the key, the customer with its
        # wallets): a save or delete, admin's included, must be seen by every process at once.
        generation_bumped_by(Partner, PartnerApiKey, Customer, Wallet)
