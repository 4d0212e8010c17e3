"""Sign-in with Ethereum in a real browser: no wallet, a refused signature, the wrong chain."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from customers.models import Customer, WalletChallenge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_browser_without_a_wallet_is_told_to_install_one(site, page_without_wallet, screenshot):
    page = page_without_wallet
    page.goto(site + "/")
    page.get_by_role("button", name="Connect wallet").click()

    error = page.locator("#signin-error")
    expect(error).to_contain_text("No Ethereum wallet was found in this browser")
    expect(error).to_be_focused()
    screenshot(page, "signin-no-wallet-phone")
    assert not Customer.objects.exists()


def test_refusing_to_sign_the_message_explains_that_nothing_happened(site, page, wallet, screenshot):
    wallet.refuse.add("personal_sign")
    page.goto(site + "/")
    page.get_by_role("button", name="Connect wallet").click()

    error = page.locator("#signin-error")
    expect(error).to_contain_text("You declined to sign the sign-in message, so you are not signed in")
    expect(error).to_have_attribute("data-kind", "rejected")
    screenshot(page, "signin-refused")
    assert "personal_sign" in wallet.calls
    assert not Customer.objects.exists()
    # The issued challenge was never used.
    assert WalletChallenge.objects.get().used_at is None


def test_a_wallet_on_another_chain_is_offered_a_switch_and_then_signs_in(site, page, wallet, screenshot):
    wallet.chain_id = 1
    page.goto(site + "/")
    page.get_by_role("button", name="Connect wallet").click()

    warning = page.locator("#wrong-chain")
    expect(warning).to_contain_text("Your wallet is on Ethereum (chain id 1)")
    expect(warning).to_contain_text("Polygon (chain id 137)")
    assert "personal_sign" not in wallet.calls
    screenshot(page, "signin-wrong-chain")

    page.get_by_role("button", name="Switch to Polygon").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert wallet.chain_id == 137
    customer = Customer.objects.get()
    assert customer.external_id == f"wallet:{wallet.address}"
    assert customer.partner.is_builtin
