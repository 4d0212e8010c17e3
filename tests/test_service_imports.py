"""Services never import their app's tasks (tasks import services), nor fees anything DRF."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE_MODULES = sorted(
    [*ROOT.glob("customers/services/*.py"), *ROOT.glob("fees/services/*.py"), ROOT / "web" / "services.py"]
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_service_module_imports_no_tasks_module(path):
    tasks = {name for name in imported_modules(path) if name.split(".")[-1] == "tasks"}
    assert tasks == set(), f"{path.relative_to(ROOT)} imports {tasks}: enqueue by task name instead"


def test_the_fee_refusals_do_not_depend_on_drf():
    for path in [ROOT / "fees" / "errors.py", ROOT / "customers" / "errors.py", ROOT / "fees" / "policy.py"]:
        drf = {
            name
            for name in imported_modules(path)
            if name.startswith(("rest_framework", "builder_platform.api"))
        }
        assert drf == set(), f"{path.relative_to(ROOT)} imports {drf}"
