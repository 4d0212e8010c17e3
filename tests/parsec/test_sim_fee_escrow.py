"""The simulator checks every fee_auth as the escrow would, over HTTP through the real client."""

import time
from decimal import Decimal

import pytest

from parsec.client import ParsecRejected
from parsec.sim.models import SimOrder

PRICE = Decimal("0.55")
SIZE = Decimal(100)
FEE = 137_500  # 100 @ 0.55 at 25 bps, in USDC base units


@pytest.fixture
def escrow_setup(parsec_sim, wallets):
    """A customer onboarded with a managed Safe owned by its EOA, a Polymarket market, the escrow config."""
    owner = wallets("fee-escrow-owner")
    customer = parsec_sim.create_builder_user(external_id="fee-payer")
    onboarding = parsec_sim.onboard(
        customer_id=customer.customer_id, exchange="polymarket", eoa_address=owner.address
    )
    market_id = parsec_sim.list_markets(exchanges=["polymarket"], limit=1).markets[0].market_id
    return {
        "client": parsec_sim,
        "customer_id": customer.customer_id,
        "owner": owner,
        "safe": onboarding.safe_address,
        "market_id": market_id,
        "config": parsec_sim.get_escrow_config(),
    }


def place(setup, fee_auth, *, signer_address, payer_address=None):
    body = {
        "market_id": setup["market_id"],
        "outcome": "Yes",
        "side": "buy",
        "price": PRICE,
        "size": SIZE,
        "payer_address": payer_address or fee_auth["payer"],
        "signer_address": signer_address,
        "fee_auth": fee_auth,
    }
    return setup["client"].create_order(exchange="polymarket", customer_id=setup["customer_id"], body=body)


def test_a_fee_auth_signed_by_the_safes_owner_is_accepted_and_recorded(escrow_setup, sign_fee_auth):
    fee_auth = sign_fee_auth(
        escrow_setup["owner"], config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=FEE
    )

    order = place(escrow_setup, fee_auth, signer_address=escrow_setup["owner"].address)

    assert order.status in ("open", "partially_filled", "filled")
    stored = SimOrder.objects.get(id=order.id)
    assert stored.escrow_order_id == fee_auth["order_id"]
    assert (stored.fee_amount, stored.payer_address) == (FEE, escrow_setup["safe"])


def test_a_fee_auth_paid_by_the_signer_itself_is_accepted(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    fee_auth = sign_fee_auth(owner, config=escrow_setup["config"], payer=owner.address, fee_amount=FEE)

    order = place(escrow_setup, fee_auth, signer_address=owner.address)

    assert SimOrder.objects.filter(id=order.id, payer_address=owner.address).exists()


def _refusal(setup, fee_auth, **addresses) -> ParsecRejected:
    with pytest.raises(ParsecRejected) as caught:
        place(setup, fee_auth, **addresses)
    assert caught.value.status == 400
    assert not SimOrder.objects.exists()
    return caught.value


def test_a_fee_auth_signed_by_someone_else_is_refused(escrow_setup, sign_fee_auth, wallets):
    intruder = wallets("intruder")
    fee_auth = sign_fee_auth(
        intruder, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=FEE
    )

    refusal = _refusal(escrow_setup, fee_auth, signer_address=escrow_setup["owner"].address)

    assert "not made by signer_address" in refusal.message


def test_a_payer_that_is_neither_the_signer_nor_its_safe_is_refused(escrow_setup, sign_fee_auth, wallets):
    stranger = wallets("stranger").address
    owner = escrow_setup["owner"]
    fee_auth = sign_fee_auth(owner, config=escrow_setup["config"], payer=stranger, fee_amount=FEE)

    refusal = _refusal(escrow_setup, fee_auth, signer_address=owner.address)

    assert "payer must be the signer itself or the customer's onboarded Safe" in refusal.message


def test_the_customers_safe_signed_by_another_wallet_is_refused(escrow_setup, sign_fee_auth, wallets):
    intruder = wallets("intruder")
    fee_auth = sign_fee_auth(
        intruder, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=FEE
    )

    refusal = _refusal(escrow_setup, fee_auth, signer_address=intruder.address)

    assert "payer must be the signer itself" in refusal.message


def test_an_expired_fee_auth_is_refused(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    fee_auth = sign_fee_auth(
        owner,
        config=escrow_setup["config"],
        payer=escrow_setup["safe"],
        fee_amount=FEE,
        deadline=int(time.time()) - 5,
    )

    refusal = _refusal(escrow_setup, fee_auth, signer_address=owner.address)

    assert "deadline has passed" in refusal.message


def test_a_fee_amount_rounded_another_way_is_refused_naming_the_right_one(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    fee_auth = sign_fee_auth(
        owner, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=FEE - 1
    )

    refusal = _refusal(escrow_setup, fee_auth, signer_address=owner.address)

    assert "at the default 25 bps: 137500" in refusal.message


def test_a_partner_rate_within_the_tier_cap_is_honoured(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    at_40_bps = 220_000  # ceil(0.55 * 100 * 40 / 10000 * 10**6)
    fee_auth = sign_fee_auth(
        owner, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=at_40_bps
    )

    order = place(escrow_setup, fee_auth, signer_address=owner.address)

    assert SimOrder.objects.get(id=order.id).fee_amount == at_40_bps


def test_a_rate_above_the_tier_cap_is_refused(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    at_51_bps = 280_500
    fee_auth = sign_fee_auth(
        owner, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=at_51_bps
    )

    refusal = _refusal(escrow_setup, fee_auth, signer_address=owner.address)

    assert "from 1 to 50 bps" in refusal.message


def test_an_escrow_order_id_pays_for_one_order_only(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    first = sign_fee_auth(owner, config=escrow_setup["config"], payer=escrow_setup["safe"], fee_amount=FEE)
    place(escrow_setup, first, signer_address=owner.address)
    replay = sign_fee_auth(
        owner,
        config=escrow_setup["config"],
        payer=escrow_setup["safe"],
        fee_amount=FEE,
        order_id=first["order_id"],
        deadline=first["deadline"] + 1,
    )

    with pytest.raises(ParsecRejected) as caught:
        place(escrow_setup, replay, signer_address=owner.address)

    assert caught.value.status == 400
    assert "order_id was already used" in caught.value.message
    assert SimOrder.objects.count() == 1


def test_a_polymarket_order_without_fee_auth_is_refused_while_the_fee_is_on(escrow_setup):
    with pytest.raises(ParsecRejected) as caught:
        escrow_setup["client"].create_order(
            exchange="polymarket",
            customer_id=escrow_setup["customer_id"],
            body={
                "market_id": escrow_setup["market_id"],
                "outcome": "Yes",
                "side": "buy",
                "price": PRICE,
                "size": SIZE,
            },
        )

    assert (caught.value.status, caught.value.code) == (400, "missing_parameter")
    assert "fee_auth is required on polymarket" in caught.value.message


def test_a_fee_auth_on_kalshi_is_refused(escrow_setup, sign_fee_auth):
    owner = escrow_setup["owner"]
    fee_auth = sign_fee_auth(owner, config=escrow_setup["config"], payer=owner.address, fee_amount=FEE)
    market_id = escrow_setup["client"].list_markets(exchanges=["kalshi"], limit=1).markets[0].market_id
    body = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": PRICE,
        "size": SIZE,
        "fee_auth": fee_auth,
        "payer_address": owner.address,
        "signer_address": owner.address,
    }

    with pytest.raises(ParsecRejected) as caught:
        escrow_setup["client"].create_order(
            exchange="kalshi", customer_id=escrow_setup["customer_id"], body=body
        )

    assert caught.value.status == 400
    assert "fee_auth is not accepted on kalshi" in caught.value.message


def _place_without_fee_auth(setup):
    body = {"market_id": setup["market_id"], "outcome": "Yes", "side": "buy", "price": PRICE, "size": SIZE}
    return setup["client"].create_order(exchange="polymarket", customer_id=setup["customer_id"], body=body)


def test_a_polymarket_order_without_fee_auth_is_refused_while_the_user_pays_the_default_fee(escrow_setup):
    with pytest.raises(ParsecRejected) as caught:
        _place_without_fee_auth(escrow_setup)
    assert (caught.value.status, caught.value.code) == (400, "missing_parameter")
    assert "25 bps" in caught.value.message


def test_an_attribution_only_user_places_polymarket_orders_without_fee_auth(escrow_setup):
    client = escrow_setup["client"]
    user = client.update_builder_user(escrow_setup["customer_id"], fee_bps=0)
    assert user.fee_bps == 0
    assert client.get_builder_user(escrow_setup["customer_id"]).fee_bps == 0

    order = _place_without_fee_auth(escrow_setup)

    assert SimOrder.objects.get(id=order.id).escrow_order_id in ("", None)


@pytest.mark.parametrize("fee_bps", [51, -1, "10", True])
def test_a_user_fee_outside_the_escrows_range_is_refused(escrow_setup, fee_bps):
    with pytest.raises(ParsecRejected) as caught:
        escrow_setup["client"].update_builder_user(escrow_setup["customer_id"], fee_bps=fee_bps)
    assert caught.value.status == 400
    assert escrow_setup["client"].get_builder_user(escrow_setup["customer_id"]).fee_bps is None
