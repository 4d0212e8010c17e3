"""Browser fixtures: headless Chromium against the live server, with an injected test wallet."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
USER_REJECTED = 4001
UNSUPPORTED_METHOD = 4200

# An EIP-1193 provider whose every request is answered by TestWallet.handle in Python.
PROVIDER_SCRIPT = """
(() => {
  const listeners = {};
  const emit = (event, value) => (listeners[event] || []).forEach((handler) => handler(value));
  window.ethereum = {
    isTestWallet: true,
    async request({ method, params }) {
      const answer = await window.__testWalletRequest(method, params === undefined ? null : params);
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        throw error;
      }
      if (answer.event) emit(answer.event.name, answer.event.value);
      return answer.result;
    },
    on(event, handler) { (listeners[event] = listeners[event] || []).push(handler); return this; },
    removeListener(event, handler) {
      listeners[event] = (listeners[event] || []).filter((item) => item !== handler);
      return this;
    },
  };
})();
"""


class TestWallet:
    """The wallet behind the injected provider: a local key, a chain, and requests the user refuses."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, account: LocalAccount, *, chain_id: int = 137) -> None:
        self.account = account
        self.chain_id = chain_id
        self.refuse: set[str] = set()  # methods the "user" declines (EIP-1193 error 4001)
        self.calls: list[str] = []

    @property
    def address(self) -> str:
        return self.account.address

    def _error(self, code: int, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message}}

    def handle(self, method: str, params: Any) -> dict[str, Any]:
        self.calls.append(method)
        if method in self.refuse:
            return self._error(USER_REJECTED, "User rejected the request.")
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.address]}
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            self.chain_id = int(params[0]["chainId"], 16)
            return {"result": None, "event": {"name": "chainChanged", "value": hex(self.chain_id)}}
        if method == "personal_sign":
            message_hex, address = params
            assert address.lower() == self.address.lower(), "personal_sign asked for another account"
            text = bytes.fromhex(message_hex.removeprefix("0x")).decode()
            signed = Account.sign_message(encode_defunct(text=text), self.account.key)
            return {"result": "0x" + bytes(signed.signature).hex()}
        if method == "eth_signTypedData_v4":
            address, typed_data = params
            assert address.lower() == self.address.lower(), "eth_signTypedData_v4 asked for another account"
            signed = Account.sign_typed_data(self.account.key, full_message=json.loads(typed_data))
            return {"result": "0x" + bytes(signed.signature).hex()}
        return self._error(UNSUPPORTED_METHOD, f"{method} is not supported by the test wallet.")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous code, so Django's async-safety guard must not mistake them for coroutine code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(live_server, settings) -> str:
    """The live server's address, with the settings that name it (sign-in messages carry the domain)."""
    url = live_server.url
    settings.SITE_URL = url
    settings.SIWE_DOMAIN = urlsplit(url).netloc
    settings.SIWE_URI = url
    settings.CSRF_TRUSTED_ORIGINS = [url]
    return url


@pytest.fixture
def wallet_account() -> LocalAccount:
    from factories import make_eth_account

    return make_eth_account("web browser wallet")


@pytest.fixture
def wallet(wallet_account) -> TestWallet:
    return TestWallet(wallet_account)


def _new_page(chromium, *, wallet: TestWallet | None, viewport: dict[str, int]):
    context = chromium.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    if wallet is not None:
        context.expose_function("__testWalletRequest", wallet.handle)
        context.add_init_script(PROVIDER_SCRIPT)
    page = context.new_page()
    # Every top-level navigation is recorded, so a test can prove a page updated without reloading.
    page.navigations = []
    page.on("framenavigated", lambda frame: frame.parent_frame is None and page.navigations.append(frame.url))
    return context, page


@pytest.fixture
def page(chromium, wallet) -> Iterator[Any]:
    """A desktop-sized page whose window.ethereum is the test wallet."""
    context, page = _new_page(chromium, wallet=wallet, viewport={"width": 1280, "height": 900})
    yield page
    context.close()


@pytest.fixture
def page_without_wallet(chromium) -> Iterator[Any]:
    """A phone-sized page with no window.ethereum at all."""
    context, page = _new_page(chromium, wallet=None, viewport={"width": 390, "height": 844})
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/ (gitignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page, name: str) -> Path:
        path = ARTIFACTS / f"web-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


# --- Signed-in customers for the Django test client ------------------------------------------------------


class Trader:
    """A web user of the built-in partner, active at Parsec, and a test client signed in as it."""

    __test__ = False

    def __init__(self, *, customer, account: LocalAccount, client) -> None:
        self.customer = customer
        self.account = account
        self.client = client

    def csrf(self) -> dict[str, str]:
        from django.conf import settings

        if settings.CSRF_COOKIE_NAME not in self.client.cookies:
            self.client.get("/orders")  # any page sets the CSRF cookie
        return {"HTTP_X_CSRFTOKEN": self.client.cookies[settings.CSRF_COOKIE_NAME].value}

    def post(self, path: str, body: dict | None = None, *, csrf: bool = True):
        headers = self.csrf() if csrf else {}
        return self.client.post(path, body or {}, content_type="application/json", **headers)


@pytest.fixture
def make_web_trader(db):
    """Build a signed-in web user; `active=False` leaves it provisioning at Parsec."""
    from django.test import Client
    from factories import make_customer, make_eth_account, make_wallet

    from customers.models import Customer, Partner, Wallet
    from web.session import SESSION_CUSTOMER_KEY

    def make(label: str, *, active: bool = True) -> Trader:
        partner = Partner.objects.filter(is_builtin=True).first() or Partner.objects.create(
            name="Web (built-in)", is_builtin=True
        )
        account = make_eth_account(f"web trader {label}")
        customer = make_customer(
            partner=partner,
            external_id=f"wallet:{account.address}",
            status=Customer.Status.ACTIVE if active else Customer.Status.PROVISIONING,
            parsec_customer_id=f"parsec-{label}" if active else None,
        )
        make_wallet(customer=customer, address=account.address, role=Wallet.Role.SIGNER)
        if active:
            make_wallet(
                customer=customer, address=make_eth_account(f"safe {label}").address, role=Wallet.Role.PAYER
            )
        client = Client(enforce_csrf_checks=True)
        session = client.session
        session[SESSION_CUSTOMER_KEY] = str(customer.pk)
        session.save()
        return Trader(customer=customer, account=account, client=client)

    return make


@pytest.fixture
def trader(make_web_trader) -> Trader:
    return make_web_trader("alice")
