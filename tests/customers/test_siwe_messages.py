"""The EIP-4361 message builder, its strict parser, and personal_sign recovery that refuses malleability."""

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from factories import make_eth_account

from customers.siwe import (
    SignatureError,
    SiweMessage,
    SiweMessageError,
    personal_sign_recover,
    siwe_message_build,
    siwe_message_parse,
)

ISSUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
ACCOUNT = make_eth_account("siwe")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _message(**overrides) -> str:
    fields = {
        "domain": "example.com",
        "address": ACCOUNT.address,
        "uri": "https://example.com",
        "chain_id": 137,
        "nonce": "a1b2c3d4e5f6a7b8",
        "issued_at": ISSUED,
        "expiration_time": ISSUED + timedelta(minutes=5),
        "statement": "Link this wallet.",
    }
    fields.update(overrides)
    return siwe_message_build(**fields)


def test_the_message_follows_the_eip_4361_layout_line_by_line():
    assert _message().split("\n") == [
        "example.com wants you to sign in with your Ethereum account:",
        ACCOUNT.address,
        "",
        "Link this wallet.",
        "",
        "URI: https://example.com",
        "Version: 1",
        "Chain ID: 137",
        "Nonce: a1b2c3d4e5f6a7b8",
        "Issued At: 2025-03-01T12:00:00Z",
        "Expiration Time: 2025-03-01T12:05:00Z",
    ]


def test_a_message_without_statement_keeps_the_two_empty_lines_the_grammar_requires():
    lines = _message(statement=None).split("\n")
    assert lines[1:4] == [ACCOUNT.address, "", ""]
    assert lines[4] == "URI: https://example.com"
    assert siwe_message_parse("\n".join(lines)).statement is None


def test_parsing_gives_back_every_field():
    parsed = siwe_message_parse(_message())
    assert parsed == SiweMessage(
        domain="example.com",
        address=ACCOUNT.address,
        uri="https://example.com",
        chain_id=137,
        nonce="a1b2c3d4e5f6a7b8",
        issued_at=ISSUED,
        expiration_time=ISSUED + timedelta(minutes=5),
        statement="Link this wallet.",
    )


def test_the_optional_fields_and_resources_are_read_in_their_order():
    text = (
        _message()
        + "\nNot Before: 2025-03-01T12:00:00+02:00\nRequest ID: req-1\nResources:\n- https://a.example/1\n- ipfs://bafy"
    )
    parsed = siwe_message_parse(text)
    assert parsed.not_before == datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
    assert parsed.request_id == "req-1"
    assert parsed.resources == ("https://a.example/1", "ipfs://bafy")


def test_a_domain_with_scheme_and_port_is_read():
    text = _message().replace("example.com wants", "https://127.0.0.1:8000 wants", 1)
    parsed = siwe_message_parse(text)
    assert (parsed.scheme, parsed.domain) == ("https", "127.0.0.1:8000")


@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        (lambda m: m + "\n", "not part of an EIP-4361 message"),
        (lambda m: m.replace("\n", "\r\n"), "LF only"),
        (lambda m: m.replace(" wants you", " would like you"), "Line 1"),
        (lambda m: m.replace(ACCOUNT.address, ACCOUNT.address.lower()), "checksummed"),
        (lambda m: m.replace(ACCOUNT.address, ACCOUNT.address[:-1]), "Line 2"),
        (lambda m: m.replace("Version: 1", "Version: 2"), "Version must be 1"),
        (lambda m: m.replace("Chain ID: 137", "Chain ID: 0137"), "Chain ID"),
        (lambda m: m.replace("Chain ID: 137", "Chain ID: one"), "Chain ID"),
        (lambda m: m.replace("Nonce: a1b2c3d4e5f6a7b8", "Nonce: a1b2c3"), "Nonce"),
        (lambda m: m.replace("Nonce: a1b2c3d4e5f6a7b8", "Nonce: a1b2c3d4-e5f6"), "Nonce"),
        (lambda m: m.replace("2025-03-01T12:00:00Z", "2025-03-01 12:00:00"), "RFC 3339"),
        (lambda m: m.replace("2025-03-01T12:00:00Z", "2025-02-30T12:00:00Z"), "not a real date"),
        (lambda m: m.replace("Link this wallet.", "Link\tthis wallet."), "statement"),
        (lambda m: m.replace("URI: https://example.com", "URI: not a uri"), "URI"),
        (lambda m: m.replace("Version: 1\n", ""), "Version"),
        (lambda m: m.replace("Issued At", "Issued at"), "Issued At"),
        (lambda m: m + "\nResources:\n- not a uri", "Resource"),
        (lambda m: m + "\nSomething: else", "not part of an EIP-4361 message"),
        (lambda m: "", "empty"),
    ],
)
def test_the_parser_refuses_anything_the_grammar_does_not_allow(tamper, complaint):
    with pytest.raises(SiweMessageError, match=complaint):
        siwe_message_parse(tamper(_message()))


def test_building_refuses_a_message_its_own_parser_would_refuse():
    with pytest.raises(SiweMessageError):
        _message(nonce="short")


def _sign(message: str, account=ACCOUNT) -> str:
    return account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()


def _high_s_twin(signature: str) -> str:
    digits = signature[2:]
    s = int(digits[64:128], 16)
    v = int(digits[128:], 16)
    return "0x" + digits[:64] + format(SECP256K1_N - s, "064x") + format(55 - v, "02x")  # 27 <-> 28


def test_recovery_names_the_signer():
    message = _message()
    assert personal_sign_recover(message=message, signature=_sign(message)) == ACCOUNT.address


def test_recovery_accepts_v_as_a_bare_recovery_id():
    message = _message()
    signature = _sign(message)
    bare = signature[:-2] + format(int(signature[-2:], 16) - 27, "02x")
    assert personal_sign_recover(message=message, signature=bare) == ACCOUNT.address


def test_recovery_refuses_the_high_s_twin_that_eth_account_would_accept():
    message = _message()
    twin = _high_s_twin(_sign(message))
    # The twin is a valid signature for the same key: eth-account alone would accept it.
    assert Account.recover_message(encode_defunct(text=message), signature=twin) == ACCOUNT.address
    with pytest.raises(SignatureError) as caught:
        personal_sign_recover(message=message, signature=twin)
    assert caught.value.code == "signature_not_canonical"


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        ("0x" + "zz" * 65, "signature_malformed"),
        ("ab" * 65, "signature_malformed"),
        ("0x" + "ab" * 64, "signature_wrong_length"),
        ("0x" + "ab" * 66, "signature_wrong_length"),
        ("0x", "signature_wrong_length"),
        ("0x" + "00" * 64 + "1b", "signature_not_canonical"),
        ("0x" + "11" * 64 + "1d", "signature_not_canonical"),
    ],
)
def test_recovery_refuses_malformed_signatures_with_a_code_each(signature, code):
    with pytest.raises(SignatureError) as caught:
        personal_sign_recover(message=_message(), signature=signature)
    assert caught.value.code == code
