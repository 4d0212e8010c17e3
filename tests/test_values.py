"""The shared value helpers."""

import uuid
from decimal import Decimal

import pytest

from builder_platform.values import plain_decimal, plain_number, uuid_or_none


@pytest.mark.parametrize("value", [None, "", "abc", 5, "\x00", "123e4567-e89b-12d3-a456-42661417400"])
def test_uuid_or_none_refuses_what_names_no_id(value):
    assert uuid_or_none(value) is None


def test_uuid_or_none_reads_ids():
    ident = uuid.uuid4()
    assert uuid_or_none(str(ident)) == ident
    assert uuid_or_none(ident) is ident


@pytest.mark.parametrize(
    ("stored", "written"),
    [("100.000000", "100"), ("0.650000", "0.65"), ("1E+2", "100"), ("0.000001", "0.000001"), ("0", "0")],
)
def test_plain_number(stored, written):
    assert plain_number(Decimal(stored)) == written
    assert plain_decimal(Decimal(stored)) == Decimal(written)
    assert str(plain_decimal(Decimal(stored))) == written
