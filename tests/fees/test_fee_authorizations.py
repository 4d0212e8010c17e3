"""Fee authorizations: the typed data issued, strict verification, and the fee axis' state transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from factories import make_eth_account, make_wallet
from fees_support import (
    BUILDER_AFFILIATE,
    ESCROW_CONTRACT,
    NOW,
    make_fee_customer,
    store_escrow_config,
)

from customers.models import Wallet
from fees import services
from fees.models import FeeAuthorization
from fees.services import authorizations
from parsec.contract import PULL_FEE_DOMAIN_NAME, pull_fee_typed_data

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
State = FeeAuthorization.State


def high_s_twin(signature: str) -> str:
    """The same signature's malleable twin: s -> n - s with the recovery bit flipped."""
    r, s, v = signature[2:66], int(signature[66:130], 16), int(signature[130:], 16)
    return "0x" + r + format(SECP256K1_N - s, "064x") + format(55 - v, "02x")


def verify(authorization: FeeAuthorization, signature: str, now: datetime = NOW) -> FeeAuthorization:
    return services.fee_authorization_verify(
        fee_authorization_id=authorization.pk, signature=signature, now=now
    )


def refusal_code(authorization: FeeAuthorization, signature: str, now: datetime = NOW) -> str:
    with pytest.raises(services.FeeError) as caught:
        verify(authorization, signature, now)
    assert caught.value.status == 400
    assert caught.value.message.endswith(".")
    return caught.value.code


# --- Request -------------------------------------------------------------------------------------------


def test_a_request_stores_the_exact_pull_fee_typed_data_for_the_customers_payer(fee_customer, request_fee):
    authorization = request_fee()
    deadline = int(NOW.timestamp()) + 300
    assert authorization.typed_data == pull_fee_typed_data(
        chain_id=137,
        verifying_contract=ESCROW_CONTRACT,
        order_id=authorization.escrow_order_id,
        payer=fee_customer.payer,
        fee_amount=137_500,
        deadline=deadline,
    )
    assert authorization.typed_data["domain"]["name"] == PULL_FEE_DOMAIN_NAME
    assert (authorization.payer, authorization.signer) == (fee_customer.payer, fee_customer.signer.address)
    assert (authorization.fee_bps, authorization.fee_amount, authorization.state) == (
        25,
        137_500,
        State.REQUESTED,
    )
    assert authorization.deadline == datetime.fromtimestamp(deadline, tz=UTC)
    assert len(bytes.fromhex(authorization.escrow_order_id[2:])) == 32


def test_each_request_draws_a_fresh_random_escrow_order_id(request_fee):
    ids = {request_fee().escrow_order_id for _ in range(5)}
    assert len(ids) == 5


def test_the_deadline_follows_the_setting(request_fee, settings):
    settings.FEE_AUTH_DEADLINE_SECONDS = 86_400
    assert request_fee().deadline == NOW.replace(microsecond=0) + timedelta(days=1)


def test_a_deadline_setting_beyond_a_day_is_refused(request_fee, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FEE_AUTH_DEADLINE_SECONDS = 86_401
    with pytest.raises(ImproperlyConfigured):
        request_fee()


def test_the_affiliate_terms_are_fixed_when_the_fee_is_requested(db):
    store_escrow_config()
    own = make_fee_customer(label="own", affiliate_address=make_eth_account("partner aff").address)
    shared = make_fee_customer(label="shared", revenue_share_bps=3000)
    terms = {}
    for name, who in (("own", own), ("shared", shared)):
        authorization = services.fee_authorization_request(
            may_refresh_config=True,
            partner=who.partner,
            customer=who.customer,
            exchange="polymarket",
            price=Decimal("0.5"),
            size=Decimal("10"),
            now=NOW,
        )
        terms[name] = (
            authorization.affiliate_address,
            authorization.affiliate_fee_bps,
            authorization.partner_share_bps,
        )
    assert terms["own"] == (own.partner.affiliate_address, 5000, 0)
    assert terms["shared"] == (BUILDER_AFFILIATE, 5000, 3000)


@pytest.mark.parametrize(
    ("exchange", "partner_fee_bps", "escrow_enabled"),
    [("kalshi", 25, True), ("polymarket", 0, True), ("polymarket", None, False)],
    ids=["no-escrow-exchange", "attribution-only", "escrow-disabled"],
)
def test_an_order_without_a_fee_gets_no_authorization(db, exchange, partner_fee_bps, escrow_enabled):
    store_escrow_config(fee_escrow_enabled=escrow_enabled)
    who = make_fee_customer(fee_bps=partner_fee_bps)
    result = services.fee_authorization_request(
        may_refresh_config=True,
        partner=who.partner,
        customer=who.customer,
        exchange=exchange,
        price=Decimal("0.5"),
        size=Decimal("10"),
        now=NOW,
    )
    assert result is None
    assert FeeAuthorization.objects.count() == 0


def test_a_partner_fee_outside_the_current_policy_is_refused_not_clamped(db):
    store_escrow_config(min_fee_bps=30)
    who = make_fee_customer(fee_bps=25)
    with pytest.raises(services.FeeError) as caught:
        services.fee_authorization_request(
            may_refresh_config=True,
            partner=who.partner,
            customer=who.customer,
            exchange="polymarket",
            price=Decimal("0.5"),
            size=Decimal("10"),
            now=NOW,
        )
    assert (caught.value.status, caught.value.code) == (409, "fee_below_minimum")
    assert "30 bps" in caught.value.message


def test_a_customer_without_a_payer_cannot_be_asked_for_a_fee(db, escrow_config):
    who = make_fee_customer()
    Wallet.objects.filter(customer=who.customer, role=Wallet.Role.PAYER).delete()
    with pytest.raises(services.FeeError) as caught:
        services.fee_authorization_request(
            may_refresh_config=True,
            partner=who.partner,
            customer=who.customer,
            exchange="polymarket",
            price=Decimal("0.5"),
            size=Decimal("10"),
            now=NOW,
        )
    assert caught.value.code == "customer_not_ready"


# --- Verification -----------------------------------------------------------------------------------------


def test_a_signature_by_the_customers_signer_marks_the_authorization_signed(fee_customer, request_fee):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    signed = verify(authorization, signature)
    assert signed.state == State.SIGNED
    assert signed.signature == signature.lower()
    assert signed.recovered_signer == fee_customer.signer.address
    assert signed.signed_at == NOW


def test_a_signature_by_another_key_is_a_signer_mismatch(fee_customer, request_fee):
    authorization = request_fee()
    assert refusal_code(authorization, fee_customer.sign(authorization, make_eth_account("stranger"))) == (
        "signer_mismatch"
    )
    authorization.refresh_from_db()
    assert authorization.state == State.REQUESTED


def test_a_payer_that_is_no_longer_the_customers_is_a_payer_mismatch(fee_customer, request_fee):
    authorization = request_fee()
    Wallet.objects.filter(customer=fee_customer.customer, role=Wallet.Role.PAYER).update(replaced_at=NOW)
    make_wallet(
        customer=fee_customer.customer, address=make_eth_account("new safe").address, role=Wallet.Role.PAYER
    )
    assert refusal_code(authorization, fee_customer.sign(authorization)) == "payer_mismatch"


def test_a_signature_after_the_deadline_is_refused(fee_customer, request_fee):
    authorization = request_fee()
    late = authorization.deadline
    assert refusal_code(authorization, fee_customer.sign(authorization), now=late) == "fee_auth_expired"


def test_a_second_submission_of_a_used_authorization_is_refused(fee_customer, request_fee):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    verify(authorization, signature)
    assert refusal_code(authorization, signature) == "fee_auth_used"


def test_an_expired_authorization_cannot_be_signed(fee_customer, request_fee):
    authorization = request_fee()
    assert services.fee_authorization_mark_expired(fee_authorization_id=authorization.pk, now=NOW)
    assert refusal_code(authorization, fee_customer.sign(authorization)) == "fee_auth_expired"


def test_the_high_s_twin_of_a_good_signature_is_invalid(fee_customer, request_fee):
    authorization = request_fee()
    assert refusal_code(authorization, high_s_twin(fee_customer.sign(authorization))) == "signature_invalid"


def test_a_recovery_byte_other_than_27_or_28_is_invalid(fee_customer, request_fee):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    assert refusal_code(authorization, signature[:-2] + "1d") == "signature_invalid"


@pytest.mark.parametrize(
    "mangle",
    [lambda s: s[:-2], lambda s: s + "00", lambda s: s[2:], lambda s: s[:-1] + "g", lambda s: 12345],
    ids=["64-bytes", "66-bytes", "no-0x", "not-hex", "not-a-string"],
)
def test_a_signature_of_the_wrong_shape_is_malformed(fee_customer, request_fee, mangle):
    authorization = request_fee()
    assert refusal_code(authorization, mangle(fee_customer.sign(authorization))) == "signature_malformed"


def test_a_bare_recovery_id_is_accepted_and_stored_as_27_or_28(fee_customer, request_fee):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    bare = signature[:-2] + format(int(signature[-2:], 16) - 27, "02x")
    assert verify(authorization, bare).signature == signature


def test_an_unknown_authorization_is_not_found(db):
    with pytest.raises(services.FeeError) as caught:
        services.fee_authorization_verify(fee_authorization_id=999_999, signature="0x", now=NOW)
    assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_the_error_is_rendered_in_the_platforms_shape():
    from builder_platform.api import exception_handler

    response = exception_handler(services.FeeError("Nope.", code="signer_mismatch"), {})
    assert (response.status_code, response.data) == (400, {"error": "Nope.", "code": "signer_mismatch"})


# --- Transitions ------------------------------------------------------------------------------------------


def test_the_fee_axis_moves_forward_only_through_conditional_updates(fee_customer, request_fee):
    authorization = request_fee()
    pk = authorization.pk
    assert not services.fee_authorization_mark_escrowed(fee_authorization_id=pk, now=NOW)  # not signed yet
    verify(authorization, fee_customer.sign(authorization))
    assert services.fee_authorization_mark_escrowed(fee_authorization_id=pk, now=NOW)
    assert not services.fee_authorization_mark_escrowed(fee_authorization_id=pk, now=NOW)  # once
    assert not services.fee_authorization_mark_expired(fee_authorization_id=pk, now=NOW)  # pulled already
    assert services.fee_authorization_mark_settled(fee_authorization_id=pk, now=NOW)
    assert not services.fee_authorization_mark_refunded(fee_authorization_id=pk, now=NOW)  # final
    authorization.refresh_from_db()
    assert (authorization.state, authorization.escrowed_at, authorization.finished_at) == (
        State.SETTLED,
        NOW,
        NOW,
    )


def test_the_database_refuses_a_signed_state_without_a_signature(request_fee):
    authorization = request_fee()
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeAuthorization.objects.filter(pk=authorization.pk).update(state=State.SIGNED)


def test_the_database_refuses_a_reused_escrow_order_id(request_fee):
    authorization = request_fee()
    other = request_fee()
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeAuthorization.objects.filter(pk=other.pk).update(escrow_order_id=authorization.escrow_order_id)


def test_the_repr_never_shows_the_signature(fee_customer, request_fee):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    signed = verify(authorization, signature)
    assert signature[2:20] not in repr(signed)
    assert signature[2:20] not in str(signed)


def test_a_submission_that_loses_the_race_after_checking_the_signature_is_told_it_was_used(
    fee_customer, request_fee, monkeypatch
):
    authorization = request_fee()
    signature = fee_customer.sign(authorization)
    real_recover = authorizations.recover_pull_fee_signer

    def recover_while_another_request_signs(**kwargs):
        # The other request's conditional UPDATE lands between our read and ours.
        FeeAuthorization.objects.filter(pk=authorization.pk).update(
            state=State.SIGNED,
            signature=signature,
            recovered_signer=fee_customer.signer.address,
            signed_at=NOW,
        )
        return real_recover(**kwargs)

    monkeypatch.setattr(authorizations, "recover_pull_fee_signer", recover_while_another_request_signs)
    assert refusal_code(authorization, signature) == "fee_auth_used"
