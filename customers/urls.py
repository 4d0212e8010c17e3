"""Partner API routes for customers and wallets, mounted at /api/v1/."""

from django.urls import path

from customers import apis, key_apis

urlpatterns = [
    path("customers", apis.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:customer_id>", apis.CustomerDetailApi.as_view(), name="customer"),
    path(
        "customers/<str:customer_id>/wallet-challenges",
        apis.WalletChallengeCreateApi.as_view(),
        name="customer-wallet-challenges",
    ),
    path("customers/<str:customer_id>/wallets", apis.WalletLinkApi.as_view(), name="customer-wallets"),
    path("api-keys", key_apis.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>", key_apis.ApiKeyDetailApi.as_view(), name="api-key"),
]
