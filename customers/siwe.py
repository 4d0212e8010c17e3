"""Sign-In with Ethereum (EIP-4361): build the message, parse it strictly, recover who signed it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature

from customers.addresses import InvalidAddress, checksum_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
VERSION = "1"

# The grammar's pieces (EIP-4361 ABNF, RFC 3986 and RFC 3339), anchored with fullmatch.
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_AUTHORITY = re.compile(
    r"(?:[A-Za-z0-9\-._~%!$&'()*+,;=:]+@)?(?:[A-Za-z0-9\-._~%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_HEADER = re.compile(rf"(?:(?P<scheme>{_SCHEME})://)?(?P<domain>[^\s/?#]+){re.escape(HEADER_SUFFIX)}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_STATEMENT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]+")  # reserved / unreserved / space
_URI = re.compile(rf"{_SCHEME}:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_CHAIN_ID = re.compile(r"[1-9][0-9]{0,18}")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_REQUEST_ID = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@]*")

# secp256k1's group order: an s above half of it is the malleable twin of a valid signature.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP256K1_HALF_N = _SECP256K1_N // 2
_HEX_SIGNATURE = re.compile(r"0x[0-9a-fA-F]*")
_SIGNATURE_HEX_DIGITS = 130  # 65 bytes: r (32), s (32), v (1)


class SiweMessageError(ValueError):
    """The text is not a well-formed EIP-4361 message; the sentence names the offending line."""


class SignatureCode(StrEnum):
    """Why a personal_sign signature cannot be accepted."""

    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_WRONG_LENGTH = "signature_wrong_length"
    SIGNATURE_NOT_CANONICAL = "signature_not_canonical"
    SIGNATURE_INVALID = "signature_invalid"


class SignatureError(ValueError):
    """A signature that cannot be accepted, with a machine code saying why."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)
    scheme: str | None = None
    version: str = VERSION

    def text(self) -> str:
        """The message exactly as a wallet shows it and signs it (lines joined by LF, no final LF)."""
        header = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [header + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_timestamp(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_timestamp(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_timestamp(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, as wallets display it."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in a sign-in message must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def siwe_message_build(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    expiration_time: datetime | None = None,
    statement: str | None = None,
) -> str:
    """The text of a message, checked by parsing it back: what we issue is always what we would accept."""
    message = SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        statement=statement,
    )
    text = message.text()
    siwe_message_parse(text)
    return text


def _parse_timestamp(value: str, label: str) -> datetime:
    if _DATE_TIME.fullmatch(value) is None:
        raise SiweMessageError(f"{label} must be an RFC 3339 timestamp such as 2025-01-31T12:00:00Z.")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SiweMessageError(f"{label} is not a real date and time.") from None


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.index = 0

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def take(self, what: str) -> str:
        line = self.peek()
        if line is None:
            raise SiweMessageError(f"The message ends before its {what} line.")
        self.index += 1
        return line

    def take_field(self, label: str, *, optional: bool = False) -> str | None:
        line = self.peek()
        if line is None or not line.startswith(f"{label}: "):
            if optional:
                return None
            raise SiweMessageError(f"Line {self.index + 1} must be the '{label}: ' line.")
        self.index += 1
        return line[len(label) + 2 :]


def siwe_message_parse(text: str) -> SiweMessage:
    """Parse an EIP-4361 message, refusing anything the grammar does not allow (no extra lines, no CR)."""
    if not isinstance(text, str) or not text:
        raise SiweMessageError("The message is empty.")
    if "\r" in text:
        raise SiweMessageError("Lines of the message must end with LF only, not CR LF.")
    lines = _Lines(text)

    header = _HEADER.fullmatch(lines.take("header"))
    if header is None or _AUTHORITY.fullmatch(header["domain"]) is None:
        raise SiweMessageError(f"Line 1 must read '<domain>{HEADER_SUFFIX}'.")
    raw_address = lines.take("address")
    if _ADDRESS.fullmatch(raw_address) is None:
        raise SiweMessageError("Line 2 must be the signing address, 0x followed by 40 hexadecimal digits.")
    try:
        address = checksum_address(raw_address)
    except InvalidAddress:
        address = ""
    if address != raw_address:
        raise SiweMessageError("The address on line 2 must be written in its EIP-55 checksummed form.")
    if lines.take("blank") != "":
        raise SiweMessageError("Line 3 must be empty.")

    statement: str | None = None
    line = lines.take("statement or blank")
    if line != "":
        if _STATEMENT.fullmatch(line) is None:
            raise SiweMessageError("The statement holds characters EIP-4361 does not allow.")
        statement = line
        if lines.take("blank") != "":
            raise SiweMessageError("The statement must be followed by an empty line.")

    uri = lines.take_field("URI")
    if _URI.fullmatch(uri) is None:
        raise SiweMessageError("URI must be an absolute URI such as https://example.com.")
    version = lines.take_field("Version")
    if version != VERSION:
        raise SiweMessageError("Version must be 1.")
    chain_id = lines.take_field("Chain ID")
    if _CHAIN_ID.fullmatch(chain_id) is None:
        raise SiweMessageError("Chain ID must be a positive whole number.")
    nonce = lines.take_field("Nonce")
    if _NONCE.fullmatch(nonce) is None:
        raise SiweMessageError("Nonce must be at least 8 letters or digits.")
    issued_at = _parse_timestamp(lines.take_field("Issued At"), "Issued At")

    expiration_time = not_before = None
    if (raw := lines.take_field("Expiration Time", optional=True)) is not None:
        expiration_time = _parse_timestamp(raw, "Expiration Time")
    if (raw := lines.take_field("Not Before", optional=True)) is not None:
        not_before = _parse_timestamp(raw, "Not Before")
    request_id = lines.take_field("Request ID", optional=True)
    if request_id is not None and _REQUEST_ID.fullmatch(request_id) is None:
        raise SiweMessageError("Request ID holds characters EIP-4361 does not allow.")
    resources: list[str] = []
    if lines.peek() == "Resources:":
        lines.take("Resources")
        while (line := lines.peek()) is not None and line.startswith("- "):
            if _URI.fullmatch(line[2:]) is None:
                raise SiweMessageError(f"Resource on line {lines.index + 1} must be an absolute URI.")
            resources.append(line[2:])
            lines.take("resource")
    if lines.peek() is not None:
        raise SiweMessageError(f"Line {lines.index + 1} is not part of an EIP-4361 message.")

    return SiweMessage(
        domain=header["domain"],
        scheme=header["scheme"],
        address=address,
        statement=statement,
        uri=uri,
        version=version,
        chain_id=int(chain_id),
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )


def personal_sign_recover(*, message: str, signature: str) -> str:
    """The checksummed address that signed `message` with personal_sign (EIP-191 version 0x45).

    Stricter than eth-account, which also accepts the high-s twin of a signature: a second valid
    encoding of the same approval must not count as a different proof.
    """
    if not isinstance(signature, str) or _HEX_SIGNATURE.fullmatch(signature) is None:
        raise SignatureError(
            "The signature must be 0x followed by hexadecimal digits.", code=SignatureCode.SIGNATURE_MALFORMED
        )
    digits = signature[2:]
    if len(digits) != _SIGNATURE_HEX_DIGITS:
        raise SignatureError(
            f"The signature must be 65 bytes (130 hexadecimal digits), not {len(digits)} digits.",
            code=SignatureCode.SIGNATURE_WRONG_LENGTH,
        )
    r, s, v = int(digits[:64], 16), int(digits[64:128], 16), int(digits[128:], 16)
    # Some wallets (Ledger) answer the bare recovery id 0/1 instead of 27/28: the same signer.
    if v in (0, 1):
        v += 27
    if v not in (27, 28) or not 0 < r < _SECP256K1_N or not 0 < s <= _SECP256K1_HALF_N:
        raise SignatureError(
            "The signature is not in canonical form (v must be 27 or 28, s in the lower half of the curve).",
            code=SignatureCode.SIGNATURE_NOT_CANONICAL,
        )
    canonical = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    try:
        return Account.recover_message(encode_defunct(text=message), signature=canonical)
    except (BadSignature, ValueError):
        raise SignatureError(
            "No signer can be recovered from this signature.", code=SignatureCode.SIGNATURE_INVALID
        ) from None
