"""Idempotency-Key on order creation: claim by INSERT, answer once, replay the stored answer after."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from customers.models import Partner
from orders.models import IdempotencyKey
from parsec.client import decode_json, encode_json

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 printable ASCII characters, no leading or trailing space.
_KEY_PATTERN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")


def idempotency_key_problem(value: str | None) -> str | None:
    """Why a header value is not a usable key, or None."""
    if value is None or value == "":
        return f"Send an {KEY_HEADER} header (1 to 255 printable ASCII characters) with every new order."
    if _KEY_PATTERN.fullmatch(value) is None:
        return f"The {KEY_HEADER} header must be 1 to 255 printable ASCII characters."
    return None


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def request_fingerprint(*, exchange: str, customer_id: str, body: bytes) -> str:
    """What makes two requests 'the same': exchange, customer and body (key order and spacing aside)."""
    try:
        text = encode_json(_canonical(decode_json(body)))
    except (ValueError, TypeError, RecursionError):
        text = body.hex()  # not JSON: compare the bytes themselves
    material = encode_json({"exchange": exchange, "customer": customer_id, "body": text})
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    record: IdempotencyKey
    claimed: bool  # True: this request does the work; False: `record` is the earlier request's


def idempotency_key_claim(*, partner: Partner, key: str, fingerprint: str, now: datetime) -> Claim:
    """Claim the key with an INSERT committed on its own, before any work is done.

    A key left in flight by a request that died (older than the in-flight timeout) is taken over with
    a new token; the dead request, should it wake up, can then no longer complete it.
    """
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    partner=partner, key=key, fingerprint=fingerprint, token=uuid.uuid4(), created_at=now
                )
            return Claim(record=record, claimed=True)
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(partner=partner, key=key).first()
        if existing is None:
            continue  # released (a 5xx) between our INSERT and our read: try again
        stale = now - timedelta(seconds=settings.ORDER_IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS)
        if (
            existing.state == IdempotencyKey.State.IN_FLIGHT
            and existing.fingerprint == fingerprint
            and existing.created_at < stale
        ):
            token = uuid.uuid4()
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk, state=IdempotencyKey.State.IN_FLIGHT, token=existing.token
            ).update(token=token, created_at=now)
            if taken:
                existing.token, existing.created_at = token, now
                return Claim(record=existing, claimed=True)
            continue
        return Claim(record=existing, claimed=False)
    raise RuntimeError("could not claim or read the idempotency key")  # pragma: no cover - a constant race


def idempotency_key_complete(
    *, record: IdempotencyKey, status: int, body: bytes, headers: dict[str, str], order_id: Any, now: datetime
) -> bool:
    """Store the answer. Inside the transaction that made the order, so both commit or neither does.

    False when the claim was taken over meanwhile: the caller must then roll back its work.
    """
    return bool(
        IdempotencyKey.objects.filter(
            pk=record.pk, state=IdempotencyKey.State.IN_FLIGHT, token=record.token
        ).update(
            state=IdempotencyKey.State.COMPLETED,
            response_status=status,
            response_body=body,
            response_headers=headers,
            order_id=order_id,
            completed_at=now,
        )
    )


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Forget a claim whose request failed on our side (5xx) or was refused for now (409, 429), so the
    same key can be sent again."""
    IdempotencyKey.objects.filter(
        pk=record.pk, state=IdempotencyKey.State.IN_FLIGHT, token=record.token
    ).delete()
