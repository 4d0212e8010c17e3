"""The database itself refuses rows that break the customers app's invariants."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Partner, Wallet

pytestmark = pytest.mark.django_db

ADDRESS = make_eth_account("constraints").address


def _refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_an_external_id_is_unique_per_partner_only():
    first = make_customer(external_id="same")
    _refused(lambda: make_customer(partner=first.partner, external_id="same"))
    make_customer(partner=make_partner(), external_id="same")  # another partner may use it


def test_at_most_one_partner_is_builtin():
    make_partner(is_builtin=True)
    _refused(lambda: make_partner(is_builtin=True))
    make_partner(is_builtin=False)


@pytest.mark.parametrize(
    "fields",
    [
        {"fee_bps": 10_001},
        {"revenue_share_bps": 10_001},
        {"affiliate_address": "0x1234"},
        {"status": "asleep"},
    ],
)
def test_partner_values_out_of_range_are_refused(fields):
    _refused(lambda: make_partner(**fields))


def test_fee_bps_may_be_null_or_anything_from_0_to_10000():
    for fee_bps in (None, 0, 10_000):
        make_partner(fee_bps=fee_bps)
    assert Partner.objects.count() == 3


def test_a_customer_has_at_most_one_current_wallet_per_role():
    customer = make_customer()
    make_wallet(customer=customer, address=ADDRESS)
    _refused(lambda: make_wallet(customer=customer, address=make_eth_account("second").address))
    # A replaced signer is history and does not count.
    Wallet.objects.filter(customer=customer).update(replaced_at=timezone.now())
    make_wallet(customer=customer, address=make_eth_account("second").address)
    make_wallet(customer=customer, address=make_eth_account("payer").address, role=Wallet.Role.PAYER)


def test_an_address_appears_once_per_customer_and_role():
    customer = make_customer()
    make_wallet(customer=customer, address=ADDRESS)
    Wallet.objects.filter(customer=customer).update(replaced_at=timezone.now())
    _refused(lambda: make_wallet(customer=customer, address=ADDRESS))
    make_wallet(customer=customer, address=ADDRESS, role=Wallet.Role.PAYER)


@pytest.mark.parametrize("address", ["0x1234", "1" * 42, "0x" + "g" * 40])
def test_a_wallet_address_must_look_like_one(address):
    _refused(lambda: make_wallet(customer=make_customer(), address=address))


def test_an_active_customer_has_a_parsec_id():
    _refused(lambda: make_customer(status=Customer.Status.ACTIVE))
    make_customer(status=Customer.Status.ACTIVE, parsec_customer_id="p-1")


def test_a_parsec_customer_id_belongs_to_one_customer():
    make_customer(parsec_customer_id="p-1")
    _refused(lambda: make_customer(parsec_customer_id="p-1"))
