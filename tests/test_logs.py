"""Log lines carry the request id (the client's or a new one) and the context; JSON lines parse, text lines
read; every answer names its request id (the Celery side: tests/orders/test_order_task_logs.py)."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from builder_platform.logs import (
    JsonFormatter,
    LogContextFilter,
    TextFormatter,
    log_context_bind,
    log_context_reset,
    request_id_accept,
)

REQUEST_ID = "abc-123.partner-trace_42"


class Lines(logging.Handler):
    """Formatted lines of one logger, as the console handler would write them (context filter included)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.addFilter(LogContextFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _record(message: str, *, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord("orders.tasks", logging.ERROR, __file__, 1, message, (), exc_info)
    LogContextFilter().filter(record)
    return record


def test_the_json_formatter_writes_one_valid_object_per_line_with_the_context():
    token = log_context_bind(request_id="r-1", partner_id=7, task_id="t-1", order_id="o-1", customer_id="c-1")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            line = JsonFormatter().format(_record('a "quoted"\nmessage', exc_info=sys.exc_info()))
    finally:
        log_context_reset(token)

    assert "\n" not in line  # one line, whatever the message and traceback hold
    entry = json.loads(line)
    assert entry["message"] == 'a "quoted"\nmessage'
    assert (entry["level"], entry["logger"]) == ("ERROR", "orders.tasks")
    assert entry["time"].endswith("+00:00")
    assert {
        name: entry[name] for name in ("request_id", "partner_id", "task_id", "order_id", "customer_id")
    } == {
        "request_id": "r-1",
        "partner_id": "7",
        "task_id": "t-1",
        "order_id": "o-1",
        "customer_id": "c-1",
    }
    assert "ValueError: boom" in entry["exception"]


def test_the_json_formatter_leaves_out_unbound_fields_and_never_dumps_the_request():
    record = _record("Not Found: /api/v1/x")
    record.request = object()  # Django's django.request records carry the request (its headers: keys)
    record.status_code = 404
    entry = json.loads(JsonFormatter().format(record))
    assert set(entry) == {"time", "level", "logger", "message", "status_code"}


def test_the_text_format_is_a_readable_line_with_the_context_at_its_end():
    token = log_context_bind(request_id="r-1", order_id="o-1")
    try:
        line = TextFormatter().format(_record("order submit attempt: accepted"))
    finally:
        log_context_reset(token)
    assert line.endswith(" ERROR orders.tasks order submit attempt: accepted [request_id=r-1 order_id=o-1]")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        ("  abc-123  ", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("abc 123", False),
        ("abc\n123", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_a_client_request_id_is_kept_only_when_short_and_made_of_safe_characters(sent, kept):
    assert (request_id_accept(sent) is not None) is kept


def test_an_answer_returns_the_clients_request_id_or_a_new_one(partner_client):
    sent = partner_client.get("/api/v1/orders", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert sent.status_code == 200
    assert sent["X-Request-Id"] == REQUEST_ID

    unsafe = partner_client.get("/api/v1/orders", HTTP_X_REQUEST_ID="drop table; --")
    missing = partner_client.get("/api/v1/orders")
    generated = {unsafe["X-Request-Id"], missing["X-Request-Id"]}
    assert len(generated) == 2
    assert "drop table; --" not in generated
    assert all(len(value) == 32 for value in generated)


def test_an_error_answer_carries_the_request_id_in_its_body_and_header(partner_client, api_client, db):
    refused = api_client.get("/api/v1/orders", HTTP_X_REQUEST_ID=REQUEST_ID)  # no key: 401 from DRF
    assert refused.status_code == 401
    assert refused.json()["request_id"] == refused["X-Request-Id"] == REQUEST_ID

    missing = partner_client.get("/api/v1/no-such-path", HTTP_X_REQUEST_ID=REQUEST_ID)  # Django's 404
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing["X-Request-Id"] == REQUEST_ID
