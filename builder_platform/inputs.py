"""What text the platform accepts from outside: one rule for every string field, query parameter and header.

Text is accepted when it is printable (`str.isprintable`: no NUL, no control or format characters, no
lone surrogates, nothing unassigned) and no longer than where it is kept. PostgreSQL refuses NUL in a
text column and no database driver can encode a lone surrogate, so text outside this rule would
otherwise reach the database and answer a 500; a partner deserves a 400 that names the field.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping

from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from parsec.client import MAX_JSON_NESTING, json_nesting_too_deep

# The longest query parameter value any endpoint reads (cursors are the longest, well under this).
QUERY_VALUE_MAX_LENGTH = 2000
QUERY_NAME_MAX_LENGTH = 100
# Headers the platform reads, and the longest value each may have.
TEXT_HEADERS: Mapping[str, int] = {
    "X-API-Key": 200,
    "X-Builder-Customer-Id": 64,
    # Idempotency-Key is not here: orders.idempotency holds it to a stricter rule of its own and answers
    # its own code (idempotency_key_invalid), which partners already rely on.
}
# A path is at most this long: an id is a UUID, and Django's routes are short.
PATH_MAX_LENGTH = 2000
PRINTABLE_SENTENCE = "printable characters only (no NUL, control characters or lone surrogates)"


def text_problem(value: str, *, max_length: int, multiline: bool = False) -> str | None:
    """Why `value` is not acceptable text, as the end of a sentence ("must ..."), or None.

    `multiline` lets line breaks through (a signed EIP-4361 message has them); nothing else unprintable.
    """
    if len(value) > max_length:
        return f"must be at most {max_length:,} characters long (this one has {len(value):,})"
    checked = value.replace("\n", "").replace("\r", "") if multiline else value
    if not checked.isprintable():
        return f"must contain {PRINTABLE_SENTENCE}"
    return None


class TextField(serializers.CharField):
    """A CharField held to the platform's text rule; `max_length` is required (the column's length)."""

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.multiline = multiline

    def to_internal_value(self, data) -> str:
        # A JSON string and nothing else: CharField would turn 42 into "42", which the schema says is not a
        # string (and an id that arrives as a number has usually lost its leading zeros on the way).
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        problem = text_problem(value, max_length=self.max_length, multiline=self.multiline)
        if problem:
            raise serializers.ValidationError(f"This field {problem}.")
        return value


def _request_texts(request) -> Iterator[tuple[str, str, int]]:
    """(what it is called, its text, its longest allowed length) for what every request carries."""
    yield "path", request.path, PATH_MAX_LENGTH
    for name, values in request.GET.lists():
        yield "query parameter name", name, QUERY_NAME_MAX_LENGTH
        for value in values:
            yield name, value, QUERY_VALUE_MAX_LENGTH
    for header, limit in TEXT_HEADERS.items():
        value = request.headers.get(header)
        if value is not None:
            yield header, value, limit


def request_text_problem(request) -> tuple[str, str] | None:
    """(field, sentence) for the first path, query parameter or header outside the text rule, or None."""
    for field, value, limit in _request_texts(request):
        problem = text_problem(value, max_length=limit)
        if problem:
            if field == "query parameter name":
                return "query", f"Every query parameter name {problem}."
            kind = "header" if field in TEXT_HEADERS else "query parameter"
            if field == "path":
                return "path", f"The path {problem}."
            return field, f"The {field} {kind} {problem}."
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing JSON nested too deeply to decode safely (see parsec.client)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_nesting_too_deep(raw):
            raise ParseError(
                f"The request body nests arrays or objects deeper than {MAX_JSON_NESTING} levels."
            )
        return super().parse(io.BytesIO(raw), media_type, parser_context)
