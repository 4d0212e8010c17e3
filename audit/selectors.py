"""Reading the audit trail: rows as CSV for export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from audit.models import AuditEntry

CSV_COLUMNS = [
    "created_at", "action", "actor_type", "actor_label", "actor_user_id", "actor_key_prefix",
    "partner_id", "target_type", "target_id", "summary", "before", "after", "ip",
]  # fmt: skip


# A spreadsheet runs a cell that starts with one of these as a formula; a partner chooses some of the
# text here (an endpoint URL, a reason), so such a cell is quoted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(entry: AuditEntry, column: str) -> str:
    value = getattr(entry, column)
    if column == "created_at":
        return value.isoformat()
    if column in ("before", "after"):
        return "" if value is None else json.dumps(value, sort_keys=True)
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def audit_entries_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """CSV text, header first, one line per entry, streamed (an export may hold many rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([_cell(entry, column) for column in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
