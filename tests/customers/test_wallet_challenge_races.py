"""The cap on open wallet challenges holds when requests arrive at once, across connections."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connection
from django.utils import timezone
from factories import make_customer, make_eth_account

from customers import services
from customers.errors import CustomerError
from customers.models import WalletChallenge
from customers.services import wallets

THREADS = 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("for_customer", [True, False], ids=["wallet-link", "web-sign-in"])
def test_concurrent_requests_never_open_more_challenges_than_the_cap(settings, monkeypatch, for_customer):
    settings.WALLET_CHALLENGE_MAX_OPEN = 1
    customer = make_customer() if for_customer else None
    address = make_eth_account("raced challenges").address
    counted = threading.Barrier(THREADS)
    build = wallets.siwe_message_build

    def build_once_everyone_counted(**kwargs):
        # Between the count and the insert: wait for the other requests to have counted too. Where the
        # cap holds, they cannot count before this one commits, so the wait ends by its timeout.
        with contextlib.suppress(threading.BrokenBarrierError):
            counted.wait(timeout=1)
        return build(**kwargs)

    monkeypatch.setattr(wallets, "siwe_message_build", build_once_everyone_counted)
    answers: list[str] = []
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            services.wallet_challenge_create(customer=customer, address=address, now=timezone.now())
            answers.append("issued")
        except CustomerError as exc:
            answers.append(exc.code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread's assertion
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert WalletChallenge.objects.filter(address=address, customer=customer).count() == 1
    assert sorted(answers) == ["issued"] + ["too_many_challenges"] * (THREADS - 1)
