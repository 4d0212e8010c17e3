"""EIP-6963 wallet discovery in Chromium: several injected wallets are offered by name and the chosen
one signs; a browser with only window.ethereum keeps working (the other browser tests use that)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Two wallets that announce themselves by EIP-6963 and set no window.ethereum; both answer through the
# test wallet, and every request records which one carried it.
ANNOUNCING_WALLETS = """
(() => {
  const wallet = (name, rdns) => ({
    info: { uuid: crypto.randomUUID(), name, icon: "data:image/svg+xml,<svg/>", rdns },
    provider: {
      async request({ method, params }) {
        const carry = window[`__request${name.split(" ")[0]}`];
        const answer = await carry(method, params === undefined ? null : params);
        if (answer.error) {
          const error = new Error(answer.error.message);
          error.code = answer.error.code;
          throw error;
        }
        return answer.result;
      },
      on() { return this; },
      removeListener() { return this; },
    },
  });
  const wallets = [wallet("Alpha Wallet", "com.example.alpha"), wallet("Beta Wallet", "com.example.beta")];
  const announce = () => wallets.forEach((detail) =>
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze(detail) })));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


def test_several_wallets_are_offered_by_name_and_the_chosen_one_signs_in(
    chromium, site, wallet, celery_worker
):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    used: list[str] = []
    for name in ("Alpha", "Beta"):

        def carried(method, params, name=name):
            used.append(name)
            return wallet.handle(method, params)

        context.expose_function(f"__request{name}", carried)
    context.add_init_script(ANNOUNCING_WALLETS)
    page = context.new_page()
    try:
        page.goto(site + "/")
        choice = page.get_by_role("group", name="Choose a wallet")
        expect(choice.get_by_role("radio")).to_have_count(2)
        assert page.evaluate("() => window.ethereum") is None

        choice.get_by_label("Beta Wallet").check()
        page.get_by_role("button", name="Connect wallet").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()

        assert used
        assert set(used) == {"Beta"}
        assert "personal_sign" in wallet.calls
    finally:
        context.close()
