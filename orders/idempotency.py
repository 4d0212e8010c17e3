"""Idempotency-Key on order creation: claim by INSERT in the work's transaction, replay the answer after.

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
from django.db import IntegrityError, connections, router, transaction

from builder_platform.api import ApiError, api_error_from, error_body
from builder_platform.failures import DomainError
from builder_platform.inserts import row_insert
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
    """Claim the key with an INSERT committed on its own, before any work is done: a key others see in
    flight (the API claims inside the work's transaction instead; see IdempotentRequest).

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

    False when the claim was taken over meanwhile: the caller must then roll back its work. One UPDATE
    conditional on the claim's state and token (plain SQL: see _key_sql).
    """
    using = router.db_for_write(IdempotencyKey)
    connection = connections[using]
    sql = _key_sql(
        connection,
        "UPDATE {table} SET {assignments} WHERE {id} = %s AND {state} = %s AND {token} = %s",
        _ANSWER_COLUMNS,
    )
    answer = {
        "state": IdempotencyKey.State.COMPLETED,
        "response_status": status,
        "response_body": body,
        "response_headers": headers,
        "order_id": getattr(order_id, "pk", order_id),
        "completed_at": now,
    }
    condition = {"id": record.pk, "state": IdempotencyKey.State.IN_FLIGHT, "token": record.token}
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(
            sql,
            _key_values(connection, answer, _ANSWER_COLUMNS)
            + _key_values(connection, condition, ("id", "state", "token")),
        )
        return cursor.rowcount == 1


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Forget a claim whose request failed on our side (5xx) or was refused for now (409, 429), so the
    same key can be sent again."""
    IdempotencyKey.objects.filter(
        pk=record.pk, state=IdempotencyKey.State.IN_FLIGHT, token=record.token
    ).delete()


# --- The create's three statements on the key, as plain SQL ---------------------------------------------
# Every create reads its key, claims it and stores its answer. Built by the ORM, those three simple
# statements cost more CPU than the rest of the create's SQL together (the query compiler, per call); here
# each is a fixed text, its values prepared by the model's own fields. The rarer paths (a replay, a
# takeover, a release) keep the ORM.

_KEY_FIELDS = {field.attname: field for field in IdempotencyKey._meta.concrete_fields}
_ANSWER_COLUMNS = (
    "state",
    "response_status",
    "response_body",
    "response_headers",
    "order_id",
    "completed_at",
)
_SQL: dict[tuple[str, str, tuple[str, ...]], str] = {}  # built once per database vendor


def _key_sql(connection: Any, template: str, columns: tuple[str, ...] = ()) -> str:
    cached = _SQL.get((connection.vendor, template, columns))
    if cached is None:
        cached = _SQL[connection.vendor, template, columns] = _key_sql_build(connection, template, columns)
    return cached


def _key_sql_build(connection: Any, template: str, columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    names = {
        "table": quote(IdempotencyKey._meta.db_table),
        "columns": ", ".join(quote(_KEY_FIELDS[name].column) for name in columns),
        "values": ", ".join(["%s"] * len(columns)),
        "assignments": ", ".join(f"{quote(_KEY_FIELDS[name].column)} = %s" for name in columns),
        "id": quote(_KEY_FIELDS["id"].column),
        "partner": quote(_KEY_FIELDS["partner_id"].column),
        "key": quote(_KEY_FIELDS["key"].column),
        "state": quote(_KEY_FIELDS["state"].column),
        "token": quote(_KEY_FIELDS["token"].column),
    }
    return template.format(**names)


def _key_values(connection: Any, values: dict[str, Any], columns: tuple[str, ...]) -> list[Any]:
    """`values` (by attname) of `columns`, in that order, as the fields store them on this database."""
    return [_KEY_FIELDS[name].get_db_prep_save(values[name], connection) for name in columns]


def _key_find(*, partner: Partner, key: str) -> IdempotencyKey | None:
    """The partner's row for `key`, or None: the one read of a new order's create, converted as an ORM
    read would convert it."""
    using = router.db_for_read(IdempotencyKey)
    connection = connections[using]
    names = tuple(_KEY_FIELDS)
    sql = _key_sql(connection, "SELECT {columns} FROM {table} WHERE {partner} = %s AND {key} = %s", names)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, _key_values(connection, {"partner_id": partner.pk, "key": key}, ("partner_id", "key"))
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, field in enumerate(_KEY_FIELDS.values()):
        column = field.get_col(IdempotencyKey._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            values[position] = converter(values[position], column, connection)
    return IdempotencyKey.from_db(using, names, values)


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


class _Answered(Exception):  # a signal inside the runner, not an error
    """Raised out of `committing` when another request's answer was committed first under the key:
    `answering` then answers the replay, or raises `refusal` (422, 409), which is not stored."""

    def __init__(self, refusal: OrderError | None = None) -> None:
        super().__init__()
        self.refusal = refusal


class IdempotentRequest:
    """Runs one request under its Idempotency-Key: it owns the key and the transaction that answers it.

        run = IdempotentRequest.begin(partner=..., key=..., fingerprint=..., now=...)
        if run.replay is not None: answer run.replay
        with run.answering():          # a final refusal inside is stored; a transient one is not
            prepared = ...             # checks and HTTP reads, outside any transaction
            with run.committing():     # one transaction: the claim, the work and the stored answer
                ... run.complete(status=201, body=..., order_id=...)
        if run.replay is not None: answer run.replay   # a concurrent request with the key answered first

    One transaction, one commit, for the claim and the work (not a claim committed on its own first), and
    still one answer per key under concurrency: the claim is the transaction's first statement, an INSERT
    under the unique constraint on (partner, key). A second request with the key, arriving while the
    first's transaction is open, waits in that INSERT on the first's index entry (PostgreSQL; SQLite's
    single writer waits the same way) until the first commits or rolls back. If it commits, the second
    INSERT fails, the second request's transaction rolls back with nothing made, and it answers with
    what the first stored: the replay, or 422 for a different request. If it rolls back, the second
    carries on as the only claimant. A key in flight is visible to others only when a claim was
    committed on its own (idempotency_key_claim: an earlier version's, or one taken over), and answers
    409 as before.

    Raises OrderError (idempotency_key_reused 422, idempotency_key_in_flight 409) for a key that
    cannot be used now.
    """

    def __init__(
        self, *, partner: Partner, key: str, fingerprint: str, now: datetime, record: IdempotencyKey | None
    ) -> None:
        self._partner, self._key, self._fingerprint, self._now = partner, key, fingerprint, now
        self._record = record  # None until this request's transaction claims the key
        self.replay: StoredAnswer | None = None

    @classmethod
    def begin(
        cls, *, partner: Partner, key: str | None, fingerprint: str, now: datetime
    ) -> IdempotentRequest:
        problem = idempotency_key_problem(key)
        if problem:
            raise OrderError(problem, code=OrderErrorCode.IDEMPOTENCY_KEY_INVALID)
        run = cls(partner=partner, key=key, fingerprint=fingerprint, now=now, record=None)
        # One read, no write: a key answered before is replayed without doing the work again.
        existing = _key_find(partner=partner, key=key)
        if existing is not None:
            run._answer_from(existing)
        return run

    def _answer_from(self, existing: IdempotencyKey) -> None:
        """Take over `existing` when it was abandoned in flight, else answer with it: replay it, or
        raise 422 (another request's key) or 409 (still in flight)."""
        if existing.fingerprint != self._fingerprint:
            raise OrderError(
                "This Idempotency-Key was used for a different request; use a new key.",
                code=OrderErrorCode.IDEMPOTENCY_KEY_REUSED,
                status=422,
            )
        if existing.state == IdempotencyKey.State.COMPLETED:
            self.replay = StoredAnswer(
                status=existing.response_status or 500,
                body=bytes(existing.response_body or b""),
                headers={**existing.response_headers, REPLAYED_HEADER: "true"},
            )
            return
        stale = self._now - timedelta(seconds=settings.ORDER_IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS)
        if existing.created_at < stale:
            # Left in flight by a request that died: taken over with a new token, so the dead request,
            # should it wake up, can no longer complete it.
            token = uuid.uuid4()
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk, state=IdempotencyKey.State.IN_FLIGHT, token=existing.token
            ).update(token=token, created_at=self._now)
            if taken:
                existing.token, existing.created_at = token, self._now
                self._record = existing
                return
        raise _in_flight("A request with this Idempotency-Key is still being processed; retry shortly.")

    def _answer_from_winner(self) -> None:
        """After losing the INSERT to a request that committed first: its answer is ours."""
        existing = IdempotencyKey.objects.filter(partner=self._partner, key=self._key).first()
        if existing is None:  # pragma: no cover - rows are deleted only by the retention purge
            raise _in_flight("A request with this Idempotency-Key is still being processed; retry shortly.")
        if existing.state != IdempotencyKey.State.COMPLETED and existing.fingerprint == self._fingerprint:
            raise _in_flight("A request with this Idempotency-Key is still being processed; retry shortly.")
        self._answer_from(existing)

    def _claim_in_transaction(self) -> None:
        # One fixed INSERT (row_insert); IntegrityError when the partner already has the key (a
        # concurrent request's row, once its transaction commits).
        self._record = row_insert(
            IdempotencyKey(
                partner_id=self._partner.pk,
                key=self._key,
                fingerprint=self._fingerprint,
                state=IdempotencyKey.State.IN_FLIGHT,
                token=uuid.uuid4(),
                response_headers={},
                created_at=self._now,
            )
        )

    @contextmanager
    def answering(self) -> Iterator[None]:
        """The request's work. A refusal raised inside is its answer too: stored when it is final for
        the request, not kept when a later state may change it (409, 429, any 5xx); then raised on."""
        try:
            yield
        except _Answered as answered:
            if answered.refusal is not None:
                raise answered.refusal from None
            return  # self.replay holds the first request's answer
        except (DomainError, ApiError) as error:
            refusal = api_error_from(error)
            status = refusal.status_code
            if status >= 500 or status in TRANSIENT_REFUSAL_STATUSES:
                if self._record is not None:
                    idempotency_key_release(record=self._record)
                raise
            body = encode_json(
                error_body(code=refusal.error_code, message=refusal.message, fields=refusal.fields)
            ).encode()
            if self._record is not None:
                idempotency_key_complete(
                    record=self._record, status=status, body=body, headers={}, order_id=None, now=self._now
                )
                raise
            try:
                with transaction.atomic():
                    self._claim_in_transaction()
                    idempotency_key_complete(
                        record=self._record,
                        status=status,
                        body=body,
                        headers={},
                        order_id=None,
                        now=self._now,
                    )
            except IntegrityError:
                # Another request with the key answered first: its answer wins, as a replay would.
                self._record = None
                self._answer_from_winner()
                return
            raise
        except BaseException:
            if self._record is not None:
                idempotency_key_release(record=self._record)
            raise

    @contextmanager
    def committing(self) -> Iterator[None]:
        """One transaction for the claim, the work and its stored answer: a replay never misses what was
        made, and a request that loses the claim to a concurrent one keeps nothing (see the class)."""
        claimed_here = self._record is None
        lost_the_claim = False
        try:
            with transaction.atomic():
                if claimed_here:
                    try:
                        self._claim_in_transaction()
                    except IntegrityError:
                        lost_the_claim = True
                        raise
                yield
        except IntegrityError:
            if not lost_the_claim:
                if claimed_here:
                    self._record = None  # rolled back with the work
                raise
            self._record = None
            try:
                self._answer_from_winner()  # sets self.replay, or raises 422 / 409
            except OrderError as refusal:
                raise _Answered(refusal) from None
            raise _Answered from None
        except BaseException:
            if claimed_here:
                self._record = None  # rolled back with the work: nothing to release
            raise

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
