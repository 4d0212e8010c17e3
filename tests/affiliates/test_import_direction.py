"""The dependency direction the affiliate program adds: parsec <- customers <- referrals <- fees <- orders
<- affiliates <- web. An app imports only from apps to its left (tests and migrations aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["parsec", "customers", "referrals", "fees", "orders", "affiliates", "web"]


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names & set(ORDER)


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_from_apps_to_its_left(app):
    allowed = set(ORDER[: ORDER.index(app) + 1])
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - allowed)
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and imported_apps(path) - allowed
    }
    assert wrong == {}
