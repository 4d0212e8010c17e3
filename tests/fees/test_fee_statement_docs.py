"""The README explains every column of the fee statement a partner downloads, by its exact name."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from fees.apis import CSV_HEADER, KINDS

SECTION = "### The fee statement, column by column"


def statement_section() -> str:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert SECTION in readme
    section = readme.split(SECTION, 1)[1]
    return re.split(r"\n#{2,3} ", section, maxsplit=1)[0]


def test_every_csv_column_and_json_key_of_the_statement_is_named_in_the_readme():
    section = statement_section()
    named = set(re.findall(r"`([a-z_<>]+)`", section))
    columns = {column for column in CSV_HEADER if not column.endswith("_usdc")} | {"<kind>_usdc"}
    json_keys = {"partner", "start", "end", "currency", "decimals", "exchanges", "customers", "totals"}
    json_keys |= {"customer_id", "external_id", "amount", "usdc"}
    assert columns | json_keys <= named, sorted((columns | json_keys) - named)


def test_every_ledger_kind_has_a_row_saying_what_it_sums_and_partner_share_is_explained():
    section = statement_section()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", section, flags=re.MULTILINE))
    assert set(KINDS) <= set(rows)
    assert "revenue share" in rows["partner_share"]
    assert "of the affiliate part" in rows["partner_share"]
