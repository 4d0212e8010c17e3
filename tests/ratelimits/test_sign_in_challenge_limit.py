"""The anonymous web sign-in challenge is limited per client address (REMOTE_ADDR, or X-Forwarded-For
only behind trusted proxies), whatever wallet address is asked for."""

from __future__ import annotations

import pytest
from django.test import Client
from factories import make_eth_account

from builder_platform.client_addresses import client_ip
from ratelimits.buckets import bucket_reset
from ratelimits.limits import sign_in_challenge_bucket_key

pytestmark = pytest.mark.django_db


def ask(client: Client, *, remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(
        "/app/session/challenge",
        {"address": make_eth_account().address, "chain_id": 137},
        content_type="application/json",
        **extra,
    )


@pytest.fixture
def limited(settings):
    settings.RATE_LIMITS_ENABLED = True
    settings.SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE = 2
    for address in ("198.51.100.7", "198.51.100.8", "203.0.113.9"):
        bucket_reset(key=sign_in_challenge_bucket_key(address))
    return settings


def test_one_address_asking_for_many_wallets_is_refused_with_retry_after(limited):
    client = Client()
    assert [ask(client, remote="198.51.100.7").status_code for _ in range(2)] == [201, 201]
    refused = ask(client, remote="198.51.100.7")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limit_exceeded"
    assert refused.json()["request_id"] == refused["X-Request-Id"]
    assert 1 <= int(refused["Retry-After"]) <= 30  # 2 a minute: one more every 30 s

    assert ask(client, remote="198.51.100.8").status_code == 201  # another address has its own budget


def test_a_forged_forwarded_for_does_not_buy_a_new_budget_without_trusted_proxies(limited):
    client = Client()
    answers = [ask(client, remote="198.51.100.7", forwarded=f"10.0.0.{n}").status_code for n in range(3)]
    assert answers == [201, 201, 429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(limited):
    limited.TRUSTED_PROXY_COUNT = 1
    client = Client()
    # The proxy (REMOTE_ADDR) appends the client it saw; what the client wrote to the left is ignored.
    answers = [
        ask(client, remote="10.0.0.1", forwarded=f"1.2.3.{n}, 203.0.113.9").status_code for n in range(3)
    ]
    assert answers == [201, 201, 429]


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.1"),
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "6.6.6.6, 1.1.1.1", "1.1.1.1"),
        (2, "6.6.6.6, 1.1.1.1, 172.16.0.2", "1.1.1.1"),
        (2, "1.1.1.1", "1.1.1.1"),
        (1, "not-an-ip", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_address_is_read_from_the_right_place(trusted, forwarded, expected):
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_ip(meta, trusted_proxies=trusted) == expected
