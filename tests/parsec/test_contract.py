"""The Parsec contract: create-order validation, the fee rounding rule and the PullFee signature check."""

from __future__ import annotations

import copy
import json
import pickle
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from parsec.contract import (
    EXCHANGES,
    FEE_ESCROW_EXCHANGES,
    FINAL_STATUSES,
    MAX_SIZE,
    MIN_GTD_LEAD_SECONDS,
    ORDER_TYPE_SUPPORT,
    ORDER_TYPES,
    PULL_FEE_DOMAIN_NAME,
    PULL_FEE_DOMAIN_VERSION,
    PULL_FEE_TYPES,
    BadRequest,
    ContractError,
    ErrorCode,
    ExchangeNotFound,
    FeeAuth,
    MissingParameter,
    NotSupported,
    OrderRequest,
    OrderStatus,
    SignatureError,
    ecc_backend_name,
    fee_amount_for,
    is_checksum_address,
    normalize_signature,
    pull_fee_digest,
    pull_fee_typed_data,
    recover_pull_fee_signer,
    to_checksum,
    validate_create_order,
)

NOW = 1_740_000_000
CHAIN_ID = 137
ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TEST_KEY = "0x" + "11" * 32
SIGNER = Account.from_key(TEST_KEY).address
OTHER_KEY = "0x" + "22" * 32
PAYER = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"  # a Safe in spirit: differs from the signer
AFFILIATE = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
ORDER_ID = "0x" + "ab" * 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
# No example database: these properties are cheap and the tree should stay clean.
quiet = settings(database=None, deadline=None)


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "market_id": "0x1234abcd",
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.65"),
        "size": Decimal("100"),
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not _ABSENT}


_ABSENT = object()


def fee_auth_body(**overrides: Any) -> dict[str, Any]:
    fee_auth: dict[str, Any] = {
        "order_id": ORDER_ID,
        "payer": PAYER,
        "fee_amount": "137500",
        "deadline": NOW + 300,
        "signature": "0x" + "12" * 64 + "1b",
    }
    fee_auth.update(overrides)
    return {key: value for key, value in fee_auth.items() if value is not _ABSENT}


def builder_body(**fee_auth_overrides: Any) -> dict[str, Any]:
    return order_body(
        fee_auth=fee_auth_body(**fee_auth_overrides),
        payer_address=PAYER,
        signer_address=SIGNER,
        affiliate=AFFILIATE,
    )


def refusal(exchange: str, body: Any, *, now: int = NOW) -> ContractError:
    with pytest.raises(ContractError) as caught:
        validate_create_order(exchange, body, now=now)
    return caught.value


def typed_data(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "verifying_contract": ESCROW,
        "order_id": ORDER_ID,
        "payer": PAYER,
        "fee_amount": 137500,
        "deadline": NOW + 300,
    }
    arguments.update(overrides)
    return pull_fee_typed_data(**arguments)


def sign(data: dict[str, Any], key: str = TEST_KEY) -> str:
    return "0x" + Account.sign_typed_data(key, full_message=data).signature.hex().removeprefix("0x")


def split(signature: str) -> tuple[int, int, int]:
    return int(signature[2:66], 16), int(signature[66:130], 16), int(signature[130:], 16)


def join(r: int, s: int, v: int) -> str:
    return "0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + format(v, "02x")


def recover(data: Any, signature: str) -> str:
    return recover_pull_fee_signer(
        typed_data=data, signature=signature, chain_id=CHAIN_ID, verifying_contract=ESCROW
    )


def signature_refusal(data: Any, signature: str) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        recover(data, signature)
    return caught.value


# ------------------------------------------------------------------------------------------------
# Constants
# ------------------------------------------------------------------------------------------------


def test_the_exchanges_and_order_types_are_parsecs() -> None:
    assert EXCHANGES == ("polymarket", "kalshi", "limitless", "opinion", "predictfun")
    assert ORDER_TYPES == ("gtc", "ioc", "fok", "gtd")
    assert set(ORDER_TYPE_SUPPORT) == set(ORDER_TYPES)
    assert frozenset({"polymarket"}) == FEE_ESCROW_EXCHANGES
    assert MIN_GTD_LEAD_SECONDS == 60


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("order_type", ORDER_TYPES)
def test_the_support_matrix_matches_parsecs_table(exchange: str, order_type: str) -> None:
    expected = {
        "gtc": set(EXCHANGES),
        "ioc": {"polymarket", "kalshi"},
        "fok": {"polymarket"},
        "gtd": {"polymarket"},
    }[order_type]
    assert (exchange in ORDER_TYPE_SUPPORT[order_type]) == (exchange in expected)


def test_only_filled_cancelled_and_rejected_are_final() -> None:
    assert {status.value for status in OrderStatus} == {
        "pending",
        "open",
        "filled",
        "partially_filled",
        "cancelled",
        "rejected",
    }
    assert {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED} == FINAL_STATUSES
    assert "filled" in FINAL_STATUSES


def test_every_parsec_error_code_is_listed() -> None:
    assert {code.value for code in ErrorCode} == {
        "unauthorized",
        "exchange_not_found",
        "credentials_required",
        "authentication_failed",
        "missing_parameter",
        "market_not_found",
        "order_not_found",
        "bad_request",
        "internal_error",
        "not_supported",
        "insufficient_funds",
        "rate_limit_exceeded",
        "monthly_limit_exceeded",
        "service_unavailable",
        "not_found",
    }


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "status", "code"),
    [
        (BadRequest, 400, "bad_request"),
        (MissingParameter, 400, "missing_parameter"),
        (NotSupported, 501, "not_supported"),
        (ExchangeNotFound, 404, "exchange_not_found"),
        (SignatureError, 400, "signature_invalid"),
    ],
)
def test_each_error_carries_its_status_code_and_field(
    error_class: type[ContractError], status: int, code: str
) -> None:
    error = error_class("price must be strictly between 0 and 1", field="price")
    assert isinstance(error, ContractError)
    assert (error.status, error.code, error.field) == (status, code, "price")
    assert str(error) == error.message == "price must be strictly between 0 and 1"
    assert error.to_json() == {"error": error.message, "code": code, "retryable": False}


def test_an_error_survives_pickling_with_its_field_and_code() -> None:
    error = SignatureError("bad typed data", field="domain.chainId", code="typed_data_invalid")
    copied = pickle.loads(pickle.dumps(error))  # noqa: S301 -- our own object
    assert type(copied) is SignatureError
    assert (copied.message, copied.field, copied.code, copied.status) == (
        "bad typed data",
        "domain.chainId",
        "typed_data_invalid",
        400,
    )


# ------------------------------------------------------------------------------------------------
# validate_create_order: the basics
# ------------------------------------------------------------------------------------------------


def test_it_accepts_a_plain_limit_order_and_defaults_to_gtc() -> None:
    request = validate_create_order("polymarket", order_body(), now=NOW)
    assert request == OrderRequest(
        exchange="polymarket",
        market_id="0x1234abcd",
        outcome="Yes",
        side="buy",
        price=Decimal("0.65"),
        size=Decimal("100"),
        order_type="gtc",
        expiration=None,
        fee_auth=None,
        payer_address=None,
        signer_address=None,
        affiliate=None,
    )


def test_it_accepts_gtc_on_every_exchange() -> None:
    for exchange in EXCHANGES:
        assert validate_create_order(exchange, order_body(), now=NOW).order_type == "gtc"


def test_it_refuses_an_unknown_exchange_with_404() -> None:
    error = refusal("binance", order_body())
    assert (error.status, error.code, error.field) == (404, "exchange_not_found", "exchange")
    assert "polymarket" in error.message


def test_it_treats_a_differently_cased_exchange_as_unknown() -> None:
    assert refusal("Polymarket", order_body()).code == "exchange_not_found"


def test_it_refuses_an_empty_exchange_as_missing() -> None:
    error = refusal("", order_body())
    assert (error.status, error.code, error.field) == (400, "missing_parameter", "exchange")


@pytest.mark.parametrize("body", [[], "order", None, 5])
def test_it_refuses_a_body_that_is_not_an_object(body: Any) -> None:
    error = refusal("polymarket", body)
    assert (error.status, error.code) == (400, "bad_request")
    assert "JSON object" in error.message


def test_it_refuses_an_unknown_top_level_field_and_names_it() -> None:
    error = refusal("polymarket", order_body(client_order_id="abc"))
    assert (error.status, error.code, error.field) == (400, "bad_request", "client_order_id")
    assert "client_order_id" in error.message


@pytest.mark.parametrize("name", ["market_id", "outcome", "side", "price", "size"])
def test_it_reports_a_missing_required_field_by_name(name: str) -> None:
    error = refusal("polymarket", order_body(**{name: _ABSENT}))
    assert (error.status, error.code, error.field) == (400, "missing_parameter", name)
    assert name in error.message


@pytest.mark.parametrize("name", ["market_id", "price"])
def test_it_treats_a_null_required_field_as_missing(name: str) -> None:
    assert refusal("polymarket", order_body(**{name: None})).code == "missing_parameter"


def test_it_accepts_a_market_id_of_256_characters() -> None:
    assert (
        validate_create_order("polymarket", order_body(market_id="m" * 256), now=NOW).market_id == "m" * 256
    )


@pytest.mark.parametrize("market_id", ["m" * 257, "", "   ", 1234, ["m"]])
def test_it_refuses_a_market_id_that_is_empty_too_long_or_not_a_string(market_id: Any) -> None:
    error = refusal("polymarket", order_body(market_id=market_id))
    assert (error.status, error.code, error.field) == (400, "bad_request", "market_id")


@pytest.mark.parametrize("outcome", ["", 1, {"name": "Yes"}])
def test_it_refuses_an_outcome_that_is_empty_or_not_a_string(outcome: Any) -> None:
    error = refusal("polymarket", order_body(outcome=outcome))
    assert (error.status, error.code, error.field) == (400, "bad_request", "outcome")


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_it_accepts_both_sides(side: str) -> None:
    assert validate_create_order("polymarket", order_body(side=side), now=NOW).side == side


@pytest.mark.parametrize("side", ["BUY", "Sell", "hold", "", 1, True])
def test_it_refuses_any_other_side(side: Any) -> None:
    error = refusal("polymarket", order_body(side=side))
    assert (error.status, error.code, error.field) == (400, "bad_request", "side")


# ------------------------------------------------------------------------------------------------
# validate_create_order: price and size
# ------------------------------------------------------------------------------------------------


def test_it_converts_a_float_price_through_its_shortest_repr() -> None:
    request = validate_create_order("polymarket", order_body(price=0.65, size=100.5), now=NOW)
    assert request.price == Decimal("0.65")
    assert request.size == Decimal("100.5")
    assert isinstance(request.price, Decimal)


def test_it_accepts_an_integer_size_as_a_decimal() -> None:
    request = validate_create_order("polymarket", order_body(size=100), now=NOW)
    assert request.size == Decimal(100)
    assert isinstance(request.size, Decimal)


@pytest.mark.parametrize("price", [Decimal("0.000001"), Decimal("0.999999"), Decimal("0.5000")])
def test_it_accepts_prices_strictly_inside_the_unit_interval(price: Decimal) -> None:
    assert validate_create_order("polymarket", order_body(price=price), now=NOW).price == price


@pytest.mark.parametrize("price", [Decimal(0), Decimal(1), 0, 1, Decimal("1.5"), Decimal("-0.1"), 0.0, 1.0])
def test_it_refuses_a_price_outside_zero_to_one(price: Any) -> None:
    error = refusal("polymarket", order_body(price=price))
    assert (error.status, error.code, error.field) == (400, "bad_request", "price")
    assert error.message == "price must be strictly between 0 and 1"


def test_it_refuses_a_price_of_one() -> None:
    assert refusal("polymarket", order_body(price=Decimal("1.0"))).field == "price"


@pytest.mark.parametrize("name", ["price", "size"])
@pytest.mark.parametrize(
    "value",
    ["0.5", True, False, Decimal("NaN"), Decimal("Infinity"), float("nan"), float("inf"), [0.5], {"v": 1}],
)
def test_it_refuses_a_price_or_size_that_is_not_a_finite_json_number(name: str, value: Any) -> None:
    error = refusal("polymarket", order_body(**{name: value}))
    assert (error.status, error.code, error.field) == (400, "bad_request", name)


@pytest.mark.parametrize("size", [Decimal(0), Decimal("-1"), 0, -5, Decimal("-0")])
def test_it_refuses_a_size_that_is_not_positive(size: Any) -> None:
    error = refusal("polymarket", order_body(size=size))
    assert (error.status, error.field) == (400, "size")
    assert error.message == "size must be greater than 0"


def test_it_refuses_an_absurdly_large_size() -> None:
    assert refusal("polymarket", order_body(size=MAX_SIZE)).field == "size"
    assert refusal("polymarket", order_body(size=Decimal("1e999999999"))).field == "size"


def test_it_refuses_more_than_eighteen_decimal_places_but_ignores_trailing_zeros() -> None:
    assert refusal("polymarket", order_body(price=Decimal("0." + "1" * 19))).field == "price"
    request = validate_create_order("polymarket", order_body(price=Decimal("0.5" + "0" * 30)), now=NOW)
    assert request.price == Decimal("0.5")


# ------------------------------------------------------------------------------------------------
# validate_create_order: params
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "order_type"),
    [
        ("limitless", "ioc"),
        ("kalshi", "fok"),
        ("kalshi", "gtd"),
        ("opinion", "ioc"),
        ("predictfun", "fok"),
        ("limitless", "gtd"),
    ],
)
def test_it_answers_501_for_an_order_type_the_exchange_lacks(exchange: str, order_type: str) -> None:
    params = {"order_type": order_type}
    if order_type == "gtd":
        params["expiration"] = str(NOW + 3600)
    error = refusal(exchange, order_body(params=params))
    assert isinstance(error, NotSupported)
    assert (error.status, error.code, error.field) == (501, "not_supported", "params.order_type")
    assert exchange in error.message


@pytest.mark.parametrize(
    ("exchange", "order_type"), [("polymarket", "ioc"), ("kalshi", "ioc"), ("polymarket", "fok")]
)
def test_it_accepts_a_supported_order_type(exchange: str, order_type: str) -> None:
    request = validate_create_order(exchange, order_body(params={"order_type": order_type}), now=NOW)
    assert request.order_type == order_type
    assert request.expiration is None


@pytest.mark.parametrize("order_type", ["GTC", "day", "", "post_only"])
def test_it_refuses_an_unknown_order_type_with_400(order_type: str) -> None:
    error = refusal("polymarket", order_body(params={"order_type": order_type}))
    assert (error.status, error.code, error.field) == (400, "bad_request", "params.order_type")


def test_it_refuses_an_order_type_that_is_not_a_string() -> None:
    assert refusal("polymarket", order_body(params={"order_type": 1})).status == 400


@pytest.mark.parametrize("params", [[], "gtc", 3])
def test_it_refuses_params_that_are_not_an_object(params: Any) -> None:
    error = refusal("polymarket", order_body(params=params))
    assert (error.status, error.field) == (400, "params")


def test_it_refuses_an_unknown_params_key() -> None:
    error = refusal("polymarket", order_body(params={"order_type": "gtc", "post_only": "true"}))
    assert (error.status, error.code, error.field) == (400, "bad_request", "params.post_only")


def test_it_accepts_empty_or_null_params_as_gtc() -> None:
    assert validate_create_order("kalshi", order_body(params={}), now=NOW).order_type == "gtc"
    assert validate_create_order("kalshi", order_body(params=None), now=NOW).order_type == "gtc"


def test_it_accepts_a_gtd_expiring_exactly_sixty_seconds_from_now() -> None:
    body = order_body(params={"order_type": "gtd", "expiration": str(NOW + 60)})
    request = validate_create_order("polymarket", body, now=NOW)
    assert (request.order_type, request.expiration) == ("gtd", NOW + 60)


def test_it_refuses_a_gtd_expiring_fifty_nine_seconds_from_now() -> None:
    error = refusal("polymarket", order_body(params={"order_type": "gtd", "expiration": str(NOW + 59)}))
    assert (error.status, error.code, error.field) == (400, "bad_request", "params.expiration")
    assert "60 seconds" in error.message


def test_the_gtd_boundary_moves_with_the_clock_passed_in() -> None:
    body = order_body(params={"order_type": "gtd", "expiration": str(NOW + 60)})
    assert validate_create_order("polymarket", body, now=NOW).expiration == NOW + 60
    assert refusal("polymarket", body, now=NOW + 1).field == "params.expiration"


def test_it_accepts_a_gtd_expiration_given_as_an_integer() -> None:
    body = order_body(params={"order_type": "gtd", "expiration": NOW + 3600})
    assert validate_create_order("polymarket", body, now=NOW).expiration == NOW + 3600


def test_it_requires_an_expiration_for_gtd() -> None:
    error = refusal("polymarket", order_body(params={"order_type": "gtd"}))
    assert (error.status, error.code, error.field) == (400, "missing_parameter", "params.expiration")


@pytest.mark.parametrize(
    "expiration", ["1740600000.0", "1.7406e9", "-1", " 1740600000", "soon", True, 1.74e9, -5]
)
def test_it_refuses_an_expiration_that_is_not_whole_unix_seconds(expiration: Any) -> None:
    error = refusal("polymarket", order_body(params={"order_type": "gtd", "expiration": expiration}))
    assert (error.status, error.code, error.field) == (400, "bad_request", "params.expiration")


@pytest.mark.parametrize(
    "params", [{"expiration": str(NOW + 3600)}, {"order_type": "ioc", "expiration": "9"}]
)
def test_it_refuses_an_expiration_without_gtd(params: dict[str, str]) -> None:
    error = refusal("polymarket", order_body(params=params))
    assert (error.status, error.code, error.field) == (400, "bad_request", "params.expiration")


# ------------------------------------------------------------------------------------------------
# validate_create_order: builder fields and fee_auth
# ------------------------------------------------------------------------------------------------


def test_it_accepts_a_complete_builder_order() -> None:
    request = validate_create_order("polymarket", builder_body(), now=NOW)
    assert request.payer_address == PAYER
    assert request.signer_address == SIGNER
    assert request.affiliate == AFFILIATE
    assert request.fee_auth == FeeAuth(
        order_id=ORDER_ID,
        payer=PAYER,
        fee_amount=137500,
        deadline=NOW + 300,
        signature="0x" + "12" * 64 + "1b",
    )


def test_builder_addresses_are_optional_on_any_exchange_without_fee_auth() -> None:
    request = validate_create_order("kalshi", order_body(affiliate=AFFILIATE, signer_address=SIGNER), now=NOW)
    assert (request.affiliate, request.signer_address, request.fee_auth) == (AFFILIATE, SIGNER, None)


@pytest.mark.parametrize("name", ["payer_address", "signer_address", "affiliate"])
def test_it_refuses_a_lowercase_address_and_offers_the_checksummed_form(name: str) -> None:
    error = refusal("kalshi", order_body(**{name: AFFILIATE.lower()}))
    assert (error.status, error.code, error.field) == (400, "bad_request", name)
    assert "checksum" in error.message
    assert AFFILIATE in error.message


@pytest.mark.parametrize("name", ["payer_address", "signer_address", "affiliate"])
def test_it_refuses_an_address_with_a_wrong_checksum_without_guessing_a_fix(name: str) -> None:
    wrong = AFFILIATE[:2] + AFFILIATE[2:].swapcase()
    error = refusal("kalshi", order_body(**{name: wrong}))
    assert (error.status, error.field) == (400, name)
    assert "checksum" in error.message
    assert AFFILIATE not in error.message


@pytest.mark.parametrize("address", ["0x1234", AFFILIATE[2:], "0X" + AFFILIATE[2:], 42, "0x" + "g" * 40])
def test_it_refuses_a_builder_address_that_is_not_an_address(address: Any) -> None:
    assert refusal("kalshi", order_body(affiliate=address)).field == "affiliate"


def test_it_refuses_fee_auth_outside_polymarket() -> None:
    body = builder_body()
    error = refusal("kalshi", body)
    assert (error.status, error.code, error.field) == (400, "bad_request", "fee_auth")


def test_it_refuses_fee_auth_that_is_not_an_object() -> None:
    body = builder_body()
    body["fee_auth"] = "0xdeadbeef"
    assert refusal("polymarket", body).field == "fee_auth"


@pytest.mark.parametrize("key", ["order_id", "payer", "fee_amount", "deadline", "signature"])
def test_it_reports_a_missing_fee_auth_key_by_name(key: str) -> None:
    error = refusal("polymarket", builder_body(**{key: _ABSENT}))
    assert (error.status, error.code, error.field) == (400, "missing_parameter", f"fee_auth.{key}")


def test_it_refuses_an_extra_fee_auth_key() -> None:
    error = refusal("polymarket", builder_body(chain_id=137))
    assert (error.status, error.code, error.field) == (400, "bad_request", "fee_auth.chain_id")


def test_it_lowercases_the_escrow_order_id_so_one_id_has_one_spelling() -> None:
    request = validate_create_order("polymarket", builder_body(order_id="0x" + "AB" * 32), now=NOW)
    assert request.fee_auth is not None
    assert request.fee_auth.order_id == ORDER_ID


@pytest.mark.parametrize("order_id", ["0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32, "0x" + "ab" * 33, 12])
def test_it_refuses_an_escrow_order_id_that_is_not_32_hex_bytes(order_id: Any) -> None:
    assert refusal("polymarket", builder_body(order_id=order_id)).field == "fee_auth.order_id"


def test_it_refuses_a_lowercase_fee_auth_payer() -> None:
    assert refusal("polymarket", builder_body(payer=PAYER.lower())).field == "fee_auth.payer"


@pytest.mark.parametrize(("fee_amount", "expected"), [("137500", 137500), ("0", 0), (137500, 137500), (0, 0)])
def test_it_accepts_a_fee_amount_as_a_digit_string_or_an_integer(fee_amount: Any, expected: int) -> None:
    request = validate_create_order("polymarket", builder_body(fee_amount=fee_amount), now=NOW)
    assert request.fee_auth is not None
    assert request.fee_auth.fee_amount == expected


@pytest.mark.parametrize(
    "fee_amount",
    ["1.5", "1e3", "-1", " 1", "1 ", "", "0x10", "\uff11", "\u0661", -1, True, 1.5, Decimal("137500")],
)
def test_it_refuses_a_fee_amount_that_is_not_a_non_negative_integer(fee_amount: Any) -> None:
    error = refusal("polymarket", builder_body(fee_amount=fee_amount))
    assert (error.status, error.code, error.field) == (400, "bad_request", "fee_auth.fee_amount")


def test_it_accepts_a_deadline_given_as_a_digit_string() -> None:
    request = validate_create_order("polymarket", builder_body(deadline=str(NOW + 300)), now=NOW)
    assert request.fee_auth is not None
    assert request.fee_auth.deadline == NOW + 300


@pytest.mark.parametrize("deadline", [True, 1.7e9, "1.7e9", "-1", -1, "soon"])
def test_it_refuses_a_deadline_that_is_not_an_integer(deadline: Any) -> None:
    assert refusal("polymarket", builder_body(deadline=deadline)).field == "fee_auth.deadline"


@pytest.mark.parametrize(
    "signature",
    ["0x" + "12" * 64, "0x" + "12" * 66, "12" * 65, "0x" + "zz" * 65, b"\x12" * 65, ""],
)
def test_it_refuses_a_fee_auth_signature_that_is_not_65_hex_bytes(signature: Any) -> None:
    error = refusal("polymarket", builder_body(signature=signature))
    assert (error.status, error.field) == (400, "fee_auth.signature")


def test_it_rewrites_a_recovery_id_v_to_27_or_28_before_forwarding() -> None:
    request = validate_create_order("polymarket", builder_body(signature="0x" + "AB" * 64 + "01"), now=NOW)
    assert request.fee_auth is not None
    assert request.fee_auth.signature == "0x" + "ab" * 64 + "1c"


def test_fee_auth_needs_a_payer_address() -> None:
    body = builder_body()
    del body["payer_address"]
    error = refusal("polymarket", body)
    assert (error.status, error.code, error.field) == (400, "missing_parameter", "payer_address")


def test_fee_auth_needs_the_payer_address_to_be_its_payer() -> None:
    body = builder_body()
    body["payer_address"] = AFFILIATE
    error = refusal("polymarket", body)
    assert (error.status, error.code, error.field) == (400, "bad_request", "payer_address")


def test_fee_auth_needs_a_signer_address() -> None:
    body = builder_body()
    del body["signer_address"]
    error = refusal("polymarket", body)
    assert (error.status, error.code, error.field) == (400, "missing_parameter", "signer_address")


def test_no_error_message_or_repr_ever_shows_the_signature() -> None:
    signature_hex = "34" * 64
    body = builder_body(signature="0x" + signature_hex + "1b")
    body["payer_address"] = AFFILIATE
    assert signature_hex not in refusal("polymarket", body).message
    request = validate_create_order(
        "polymarket", builder_body(signature="0x" + signature_hex + "1b"), now=NOW
    )
    assert signature_hex not in repr(request)
    assert signature_hex not in repr(request.fee_auth)


# ------------------------------------------------------------------------------------------------
# OrderRequest.to_json
# ------------------------------------------------------------------------------------------------


def test_a_plain_order_serialises_to_parsecs_body_with_exact_decimals() -> None:
    request = validate_create_order("kalshi", order_body(price=Decimal("0.65"), size=Decimal("100")), now=NOW)
    body = request.to_json()
    assert body == {
        "market_id": "0x1234abcd",
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.65"),
        "size": Decimal("100"),
        "params": {"order_type": "gtc"},
    }
    assert isinstance(body["price"], Decimal)


def test_a_gtd_order_sends_its_expiration_as_a_string() -> None:
    body = order_body(params={"order_type": "gtd", "expiration": NOW + 600})
    assert validate_create_order("polymarket", body, now=NOW).to_json()["params"] == {
        "order_type": "gtd",
        "expiration": str(NOW + 600),
    }


def test_a_builder_order_sends_fee_auth_in_parsecs_wire_form() -> None:
    body = validate_create_order("polymarket", builder_body(), now=NOW).to_json()
    assert body["fee_auth"] == {
        "order_id": ORDER_ID,
        "payer": PAYER,
        "fee_amount": "137500",
        "deadline": NOW + 300,
        "signature": "0x" + "12" * 64 + "1b",
    }
    assert (body["payer_address"], body["signer_address"], body["affiliate"]) == (PAYER, SIGNER, AFFILIATE)


def test_a_serialised_request_validates_back_to_itself() -> None:
    original = validate_create_order(
        "polymarket",
        builder_body() | {"params": {"order_type": "gtd", "expiration": str(NOW + 600)}},
        now=NOW,
    )
    wire = json.loads(json.dumps(original.to_json(), default=str), parse_float=Decimal)
    # default=str quotes Decimals; a real encoder writes them as numbers, so put them back.
    wire["price"], wire["size"] = Decimal(wire["price"]), Decimal(wire["size"])
    assert validate_create_order("polymarket", wire, now=NOW) == original


# ------------------------------------------------------------------------------------------------
# fee_amount_for
# ------------------------------------------------------------------------------------------------


def test_the_fee_matches_parsecs_worked_example() -> None:
    assert fee_amount_for(price=Decimal("0.55"), size=Decimal(100), fee_bps=25, min_fee_usdc=0) == 137500


def test_the_fee_rounds_a_fraction_of_a_base_unit_up() -> None:
    # 0.333333 * 1 * 1 / 10000 * 10**6 = 33.3333 base units
    assert fee_amount_for(price=Decimal("0.333333"), size=Decimal(1), fee_bps=1, min_fee_usdc=0) == 34


def test_an_exact_fee_is_not_rounded_up() -> None:
    assert fee_amount_for(price=Decimal("0.5"), size=Decimal(2), fee_bps=100, min_fee_usdc=0) == 10000


def test_the_minimum_fee_applies_to_a_small_order() -> None:
    assert fee_amount_for(price=Decimal("0.01"), size=Decimal(1), fee_bps=25, min_fee_usdc=10_000) == 10_000


def test_a_zero_fee_rate_charges_nothing_even_with_a_minimum() -> None:
    assert fee_amount_for(price=Decimal("0.55"), size=Decimal(100), fee_bps=0, min_fee_usdc=10_000) == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"price": 0.55, "size": Decimal(100), "fee_bps": 25, "min_fee_usdc": 0},
        {"price": Decimal("0.55"), "size": Decimal(100), "fee_bps": 25.0, "min_fee_usdc": 0},
        {"price": Decimal("0.55"), "size": Decimal(100), "fee_bps": True, "min_fee_usdc": 0},
    ],
)
def test_the_fee_refuses_floats_and_bools(arguments: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        fee_amount_for(**arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        {"price": Decimal("-0.55"), "size": Decimal(100), "fee_bps": 25, "min_fee_usdc": 0},
        {"price": Decimal("NaN"), "size": Decimal(100), "fee_bps": 25, "min_fee_usdc": 0},
        {"price": Decimal("0.55"), "size": Decimal(100), "fee_bps": -1, "min_fee_usdc": 0},
        {"price": Decimal("0.55"), "size": Decimal("1e999999"), "fee_bps": 25, "min_fee_usdc": 0},
    ],
)
def test_the_fee_refuses_negative_non_finite_or_absurd_inputs(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        fee_amount_for(**arguments)


prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("0.999999"), places=6)
sizes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000_000), places=2)


@quiet
@given(
    price=prices,
    size=sizes,
    fee_bps=st.integers(min_value=0, max_value=10_000),
    min_fee_usdc=st.integers(min_value=0, max_value=10**7),
)
def test_the_fee_is_the_exact_amount_rounded_up_by_less_than_one_base_unit(
    price: Decimal, size: Decimal, fee_bps: int, min_fee_usdc: int
) -> None:
    fee = fee_amount_for(price=price, size=size, fee_bps=fee_bps, min_fee_usdc=min_fee_usdc)
    exact = Fraction(price) * Fraction(size) * fee_bps * 10**6 / 10_000
    assert isinstance(fee, int)
    if fee_bps == 0:
        assert fee == 0
        return
    assert fee >= exact
    assert fee >= min_fee_usdc
    if fee > min_fee_usdc:
        assert fee - exact < 1


# ------------------------------------------------------------------------------------------------
# PullFee typed data
# ------------------------------------------------------------------------------------------------


def test_the_typed_data_has_the_eth_sign_typed_data_v4_shape() -> None:
    data = typed_data(order_id="0x" + "AB" * 32, payer=PAYER.lower(), verifying_contract=ESCROW.lower())
    assert data == {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "PullFee": [
                {"name": "orderId", "type": "bytes32"},
                {"name": "payer", "type": "address"},
                {"name": "feeAmount", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "PullFee",
        "domain": {"name": "ParsecFeeEscrow", "version": "1", "chainId": 137, "verifyingContract": ESCROW},
        "message": {"orderId": ORDER_ID, "payer": PAYER, "feeAmount": "137500", "deadline": str(NOW + 300)},
    }
    assert data["types"]["PullFee"] == list(PULL_FEE_TYPES)
    assert (PULL_FEE_DOMAIN_NAME, PULL_FEE_DOMAIN_VERSION) == ("ParsecFeeEscrow", "1")
    json.dumps(data)  # a wallet receives it as JSON


def test_the_typed_data_is_a_fresh_copy_each_time() -> None:
    first = typed_data()
    first["types"]["PullFee"][0]["type"] = "bytes"
    assert typed_data()["types"]["PullFee"][0]["type"] == "bytes32"
    assert PULL_FEE_TYPES[0]["type"] == "bytes32"


@pytest.mark.parametrize(
    "overrides",
    [
        {"chain_id": 0},
        {"chain_id": True},
        {"order_id": "0x1234"},
        {"payer": "0x1234"},
        {"verifying_contract": "escrow"},
        {"fee_amount": -1},
        {"fee_amount": "137500"},
        {"deadline": 1.5},
    ],
)
def test_building_typed_data_refuses_bad_inputs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        typed_data(**overrides)


@quiet
@given(
    chain_id=st.integers(min_value=1, max_value=2**64),
    contract=st.binary(min_size=20, max_size=20),
    order_id=st.binary(min_size=32, max_size=32),
    payer=st.binary(min_size=20, max_size=20),
    fee_amount=st.integers(min_value=0, max_value=2**256 - 1),
    deadline=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_the_digest_equals_eth_accounts_eip712_hash(
    chain_id: int, contract: bytes, order_id: bytes, payer: bytes, fee_amount: int, deadline: int
) -> None:
    data = pull_fee_typed_data(
        chain_id=chain_id,
        verifying_contract="0x" + contract.hex(),
        order_id="0x" + order_id.hex(),
        payer="0x" + payer.hex(),
        fee_amount=fee_amount,
        deadline=deadline,
    )
    expected = _hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(data)))
    assert pull_fee_digest(data) == bytes(expected)


def test_the_digest_ignores_address_case_and_number_spelling() -> None:
    data = typed_data()
    respelled = copy.deepcopy(data)
    respelled["message"]["payer"] = PAYER.lower()
    respelled["message"]["feeAmount"] = 137500
    respelled["domain"]["chainId"] = "137"
    assert pull_fee_digest(respelled) == pull_fee_digest(data)


# ------------------------------------------------------------------------------------------------
# recover_pull_fee_signer
# ------------------------------------------------------------------------------------------------


def test_ecc_recovery_runs_on_coincurve() -> None:
    assert ecc_backend_name() == "CoinCurveECCBackend"


def test_a_signature_from_eth_account_recovers_to_the_signer() -> None:
    data = typed_data()
    assert recover(data, sign(data)) == SIGNER
    assert recover(data, sign(data, OTHER_KEY)) == Account.from_key(OTHER_KEY).address


def test_an_uppercase_hex_signature_is_accepted() -> None:
    data = typed_data()
    assert recover(data, "0x" + sign(data)[2:].upper()) == SIGNER


def test_it_refuses_the_high_s_twin_that_eth_account_accepts() -> None:
    data = typed_data()
    r, s, v = split(sign(data))
    twin = join(r, SECP256K1_N - s, 55 - v)  # 27 <-> 28
    signable = encode_typed_data(full_message=copy.deepcopy(data))
    assert Account.recover_message(signable, signature=bytes.fromhex(twin[2:])) == SIGNER
    error = signature_refusal(data, twin)
    assert (error.status, error.code, error.field) == (400, "signature_invalid", "signature")


def test_it_accepts_v_as_a_bare_recovery_id_and_normalises_it() -> None:
    data = typed_data()
    r, s, v = split(sign(data))
    bare = join(r, s, v - 27)
    assert recover(data, bare) == SIGNER
    assert normalize_signature(bare) == join(r, s, v)
    assert normalize_signature(join(r, s, v)) == join(r, s, v)


@pytest.mark.parametrize("v", [2, 26, 29, 35, 255])
def test_it_refuses_any_other_v(v: int) -> None:
    data = typed_data()
    r, s, _ = split(sign(data))
    assert signature_refusal(data, join(r, s, v)).code == "signature_invalid"


def test_it_refuses_r_or_s_out_of_range() -> None:
    data = typed_data()
    r, s, v = split(sign(data))
    for bad in (join(0, s, v), join(SECP256K1_N, s, v), join(r, 0, v), join(r, SECP256K1_N, v)):
        assert signature_refusal(data, bad).code == "signature_invalid"


def test_it_refuses_an_r_that_is_not_a_curve_x_coordinate() -> None:
    def is_x_coordinate(x: int) -> bool:
        return pow((x**3 + 7) % SECP256K1_P, (SECP256K1_P - 1) // 2, SECP256K1_P) == 1

    r = next(x for x in range(1, 100) if not is_x_coordinate(x))
    data = typed_data()
    _, s, v = split(sign(data))
    assert signature_refusal(data, join(r, s, v)).code == "signature_invalid"


@pytest.mark.parametrize(
    "signature",
    [
        "0x" + "12" * 64,
        "0x" + "12" * 66,
        "0x" + "zz" * 65,
        "12" * 65 + "12",
        "0x" + "12" * 64 + "1",
        "",
        b"\x12" * 65,
        None,
    ],
)
def test_it_refuses_a_signature_that_is_not_65_hex_bytes(signature: Any) -> None:
    error = signature_refusal(typed_data(), signature)
    assert (error.status, error.code, error.field) == (400, "signature_malformed", "signature")


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("domain", "chainId", 1),
        ("domain", "chainId", "1"),
        ("domain", "chainId", True),
        ("domain", "verifyingContract", AFFILIATE),
        ("domain", "name", "ParsecFeeEscrow2"),
        ("domain", "version", "2"),
        ("domain", "version", 1),
        ("domain", "salt", "0x" + "00" * 32),
        ("message", "referrer", AFFILIATE),
        ("message", "feeAmount", 137500.0),
        ("message", "feeAmount", True),
        ("message", "feeAmount", "1e3"),
        ("message", "feeAmount", "0x10"),
        ("message", "feeAmount", "-1"),
        ("message", "feeAmount", -1),
        ("message", "feeAmount", str(2**256)),
        ("message", "deadline", 1.7e9),
        ("message", "deadline", " 1740000300"),
        ("message", "orderId", "0x" + "ab" * 31),
        ("message", "orderId", bytes(32)),
        ("message", "payer", "0x1234"),
        ("message", "payer", 7),
    ],
)
def test_it_refuses_typed_data_that_strays_from_the_pull_fee_shape(
    section: str, key: str, value: Any
) -> None:
    data = typed_data()
    signature = sign(data)
    data[section][key] = value
    error = signature_refusal(data, signature)
    assert (error.status, error.code) == (400, "typed_data_invalid")


@pytest.mark.parametrize(("section", "key"), [("domain", "version"), ("message", "deadline")])
def test_it_refuses_typed_data_missing_a_field(section: str, key: str) -> None:
    data = typed_data()
    signature = sign(data)
    del data[section][key]
    assert signature_refusal(data, signature).code == "typed_data_invalid"


def mutate_primary_type(data: dict[str, Any]) -> None:
    data["primaryType"] = "EIP712Domain"


def add_a_type(data: dict[str, Any]) -> None:
    data["types"]["Extra"] = [{"name": "x", "type": "uint256"}]


def drop_the_domain_type(data: dict[str, Any]) -> None:
    del data["types"]["EIP712Domain"]


def reorder_pull_fee_fields(data: dict[str, Any]) -> None:
    data["types"]["PullFee"].reverse()


def retype_a_field(data: dict[str, Any]) -> None:
    data["types"]["PullFee"][2]["type"] = "uint128"


def add_a_field_to_a_type_entry(data: dict[str, Any]) -> None:
    data["types"]["PullFee"][0]["indexed"] = True


def add_a_top_level_key(data: dict[str, Any]) -> None:
    data["extra"] = 1


@pytest.mark.parametrize(
    "mutate",
    [
        mutate_primary_type,
        add_a_type,
        drop_the_domain_type,
        reorder_pull_fee_fields,
        retype_a_field,
        add_a_field_to_a_type_entry,
        add_a_top_level_key,
    ],
)
def test_it_refuses_typed_data_whose_types_are_not_exactly_pull_fee(mutate: Any) -> None:
    data = typed_data()
    signature = sign(data)
    mutate(data)
    assert signature_refusal(data, signature).code == "typed_data_invalid"


@pytest.mark.parametrize("data", [None, [], "PullFee"])
def test_it_refuses_typed_data_that_is_not_an_object(data: Any) -> None:
    assert signature_refusal(data, sign(typed_data())).code == "typed_data_invalid"


def test_the_domain_contract_is_compared_case_insensitively() -> None:
    data = typed_data()
    signature = sign(data)
    data["domain"]["verifyingContract"] = ESCROW.lower()
    expected_contract = "0x" + ESCROW[2:].upper()
    signer = recover_pull_fee_signer(
        typed_data=data, signature=signature, chain_id=CHAIN_ID, verifying_contract=expected_contract
    )
    assert signer == SIGNER


def test_it_refuses_a_signature_for_another_chain_or_escrow_even_when_the_data_is_consistent() -> None:
    data = typed_data(chain_id=1)
    signature = sign(data)
    assert signature_refusal(data, signature).field == "domain.chainId"
    data = typed_data(verifying_contract=AFFILIATE)
    signature = sign(data)
    assert signature_refusal(data, signature).field == "domain.verifyingContract"


def test_integers_given_as_ints_verify_like_their_digit_strings() -> None:
    data = typed_data()
    signature = sign(data)
    data["message"]["feeAmount"] = 137500
    data["message"]["deadline"] = NOW + 300
    assert recover(data, signature) == SIGNER


def test_a_tampered_message_recovers_to_someone_else() -> None:
    data = typed_data()
    signature = sign(data)
    data["message"]["feeAmount"] = "1"
    assert recover(data, signature) != SIGNER


def test_no_signature_error_shows_the_signature() -> None:
    data = typed_data()
    signature = sign(data)
    r, s, v = split(signature)
    for bad in (join(r, SECP256K1_N - s, 55 - v), signature[:-2]):
        assert signature[2:60] not in signature_refusal(data, bad).message
    data["domain"]["chainId"] = 5
    assert signature[2:60] not in signature_refusal(data, signature).message


# ------------------------------------------------------------------------------------------------
# Address helpers
# ------------------------------------------------------------------------------------------------


def test_the_address_helpers_recognise_and_produce_checksummed_addresses() -> None:
    assert is_checksum_address(PAYER)
    assert not is_checksum_address(PAYER.lower())
    assert not is_checksum_address(PAYER[2:])
    assert not is_checksum_address(None)
    assert to_checksum(PAYER.lower()) == PAYER
    with pytest.raises(ValueError, match="address"):
        to_checksum("0x1234")
