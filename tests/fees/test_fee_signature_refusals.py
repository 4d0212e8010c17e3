"""What a refused fee signature says: altered typed data, a former signer, another customer's signer."""

from __future__ import annotations

import copy
import re

import pytest
from eth_account import Account
from factories import make_customer, make_eth_account, make_wallet
from fees_support import NOW

from customers.models import Wallet
from fees import services
from fees.models import FeeAuthorization


def refusal(authorization: FeeAuthorization, signature: str) -> services.FeeError:
    with pytest.raises(services.FeeError) as caught:
        services.fee_authorization_verify(fee_authorization_id=authorization.pk, signature=signature, now=NOW)
    assert caught.value.status == 400
    authorization.refresh_from_db()
    assert authorization.state == FeeAuthorization.State.REQUESTED
    return caught.value


def sign(typed_data: dict, account) -> str:
    return "0x" + bytes(Account.sign_typed_data(account.key, full_message=typed_data).signature).hex()


@pytest.mark.parametrize(
    "alter",
    [
        lambda data: data["message"].update(feeAmount=str(int(data["message"]["feeAmount"]) - 1)),
        lambda data: data["message"].update(deadline=str(int(data["message"]["deadline"]) + 3600)),
        lambda data: data["domain"].update(chainId=1),
    ],
    ids=["fee", "deadline", "chain"],
)
def test_a_signature_over_altered_typed_data_says_the_data_does_not_match(fee_customer, request_fee, alter):
    authorization = request_fee()
    altered = copy.deepcopy(authorization.typed_data)
    alter(altered)

    error = refusal(authorization, sign(altered, fee_customer.signer))

    assert error.code == "signer_mismatch"
    assert "does not match this order's fee authorization" in error.message
    assert "typed data" in error.message
    # It names the wallet that must sign, and not the meaningless address the altered data recovers to.
    assert re.findall(r"0x[0-9a-fA-F]{40}", error.message) == [fee_customer.signer.address]


def test_a_signature_by_the_customers_former_signer_says_so(fee_customer, request_fee):
    authorization = request_fee()
    old_signer = fee_customer.signer
    Wallet.objects.filter(customer=fee_customer.customer, role=Wallet.Role.SIGNER).update(replaced_at=NOW)
    new_signer = make_eth_account("new signer")
    make_wallet(customer=fee_customer.customer, address=new_signer.address, role=Wallet.Role.SIGNER)

    error = refusal(authorization, sign(authorization.typed_data, old_signer))

    assert error.code == "signer_replaced"
    assert old_signer.address in error.message
    assert new_signer.address in error.message


def test_a_signature_by_another_of_the_partners_customers_says_so(fee_customer, request_fee):
    authorization = request_fee()
    neighbour = make_customer(partner=fee_customer.partner)
    neighbour_signer = make_eth_account("neighbour")
    make_wallet(customer=neighbour, address=neighbour_signer.address, role=Wallet.Role.SIGNER)

    error = refusal(authorization, sign(authorization.typed_data, neighbour_signer))

    assert error.code == "signer_of_another_customer"
    assert fee_customer.signer.address in error.message


def test_another_partners_customers_signer_is_not_revealed(fee_customer, request_fee):
    from factories import make_partner

    authorization = request_fee()
    stranger = make_customer(partner=make_partner())
    stranger_signer = make_eth_account("other partner's customer")
    make_wallet(customer=stranger, address=stranger_signer.address, role=Wallet.Role.SIGNER)

    error = refusal(authorization, sign(authorization.typed_data, stranger_signer))

    assert error.code == "signer_mismatch"
    assert stranger_signer.address not in error.message
