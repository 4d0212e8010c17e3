"""Standard Webhooks signing: whsec_ secrets and `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
SECRET_BYTES = 32  # at least 24 by the issue; 32 as Svix's


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(*, secrets_in_force: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """One signature per valid secret, space-separated (the new secret's first)."""
    return " ".join(
        signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in secrets_in_force
    )
