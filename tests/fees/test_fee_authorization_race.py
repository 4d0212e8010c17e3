"""Concurrent submissions of one signature: exactly one request marks the authorization signed."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from fees_support import NOW, make_fee_customer, store_escrow_config

from fees import services
from fees.models import FeeAuthorization

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_the_same_signature_have_exactly_one_winner():
    store_escrow_config()
    who = make_fee_customer(label="race")
    authorization = services.fee_authorization_request(
        may_refresh_config=True,
        partner=who.partner,
        customer=who.customer,
        exchange="polymarket",
        price=Decimal("0.55"),
        size=Decimal("100"),
        now=NOW,
    )
    signature = who.sign(authorization)
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            start.wait(timeout=10)
            services.fee_authorization_verify(
                fee_authorization_id=authorization.pk, signature=signature, now=NOW
            )
            outcome = "signed"
        except services.FeeError as error:
            outcome = error.code
        finally:
            connection.close()  # each thread has its own connection; do not leave it open
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["fee_auth_used"] * (THREADS - 1) + ["signed"]
    authorization.refresh_from_db()
    assert authorization.state == FeeAuthorization.State.SIGNED
