"""Idempotency-Key on order creation: claim by INSERT, answer once, replay the stored answer after.

IdempotentRequest runs a request under its key; the functions below it are its steps.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from builder_platform.api import ApiError, api_error_from, error_body
from builder_platform.failures import DomainError
from customers.models import Partner
from orders.errors import OrderError
from orders.models import IdempotencyKey
from orders.vocabulary import OrderErrorCode
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


def idempotency_key_check(value: str | None) -> str:
    """The header's key, or OrderError 400 idempotency_key_invalid saying what is wrong with it."""
    problem = idempotency_key_problem(value)
    if problem:
        raise OrderError(problem, code=OrderErrorCode.IDEMPOTENCY_KEY_INVALID)
    return value


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


# --- The runner: one request under its key -------------------------------------------------------------

# Refusals that a later state can change (a customer not ready or disabled, a partner fee the escrow no
# longer allows, a rate limit): not stored under the key, so a retry with it can succeed. Every other
# 4xx depends on the request alone and is replayed as stored.
TRANSIENT_REFUSAL_STATUSES = frozenset({409, 429})
# Retry-After of a 409 for a key in flight: an order's intake takes well under a second.
IN_FLIGHT_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given under a key, replayed as it was (with Idempotent-Replayed: true)."""

    status: int
    body: bytes
    headers: dict[str, str]


class IdempotentRequest:
    """Runs one request under its Idempotency-Key: it owns the key and the transaction that answers it.

        run = IdempotentRequest.begin(partner=..., key=..., fingerprint=..., now=...)
        if run.replay is not None: answer run.replay
        with run.answering():          # a refusal inside is stored (final) or released (transient)
            prepared = ...             # checks and HTTP reads, outside any transaction
            with run.committing():     # one transaction: the work and the stored answer
                ... run.complete(status=201, body=..., order_id=...)

    Raises OrderError (idempotency_key_reused 422, idempotency_key_in_flight 409) for a key that
    cannot be used now.
    """

    def __init__(self, claim: Claim, *, now: datetime) -> None:
        self._record = claim.record
        self._now = now
        self.replay: StoredAnswer | None = None
        if not claim.claimed:
            record = claim.record
            self.replay = StoredAnswer(
                status=record.response_status or 500,
                body=bytes(record.response_body or b""),
                headers={**record.response_headers, REPLAYED_HEADER: "true"},
            )

    @classmethod
    def begin(
        cls, *, partner: Partner, key: str | None, fingerprint: str, now: datetime
    ) -> IdempotentRequest:
        problem = idempotency_key_problem(key)
        if problem:
            raise OrderError(problem, code=OrderErrorCode.IDEMPOTENCY_KEY_INVALID)
        claim = idempotency_key_claim(partner=partner, key=key, fingerprint=fingerprint, now=now)
        if not claim.claimed:
            if claim.record.fingerprint != fingerprint:
                raise OrderError(
                    "This Idempotency-Key was used for a different request; use a new key.",
                    code=OrderErrorCode.IDEMPOTENCY_KEY_REUSED,
                    status=422,
                )
            if claim.record.state != IdempotencyKey.State.COMPLETED:
                raise _in_flight(
                    "A request with this Idempotency-Key is still being processed; retry shortly."
                )
        return cls(claim, now=now)

    @contextmanager
    def answering(self) -> Iterator[None]:
        """The request's work. A refusal raised inside is its answer too: stored when it is final for
        the request, released when a later state may change it (409, 429, any 5xx); then raised on."""
        try:
            yield
        except (DomainError, ApiError) as error:
            refusal = api_error_from(error)
            status = refusal.status_code
            if status >= 500 or status in TRANSIENT_REFUSAL_STATUSES:
                idempotency_key_release(record=self._record)
            else:
                body = encode_json(
                    error_body(code=refusal.error_code, message=refusal.message, fields=refusal.fields)
                ).encode()
                idempotency_key_complete(
                    record=self._record, status=status, body=body, headers={}, order_id=None, now=self._now
                )
            raise
        except BaseException:
            idempotency_key_release(record=self._record)
            raise

    @contextmanager
    def committing(self) -> Iterator[None]:
        """One transaction for the work and its stored answer: a replay never misses what was made."""
        with transaction.atomic():
            yield

    def complete(self, *, status: int, body: bytes, order_id: Any) -> None:
        """Store the answer, inside `committing`; if another request took the key over meanwhile, raise
        (the transaction rolls back, so the work is not kept)."""
        if not idempotency_key_complete(
            record=self._record, status=status, body=body, headers={}, order_id=order_id, now=self._now
        ):
            raise _in_flight("Another request took over this Idempotency-Key; retry to read its answer.")


def _in_flight(message: str) -> OrderError:
    return OrderError(
        message,
        code=OrderErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT,
        status=409,
        retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
    )
