"""The dependency direction holds: no import runs right to left, and no two modules import each other.

The project's packages sit in layers (README, "Dependency direction"). A module may import from its
own layer's package and from layers to its left, never from one to its right. Every import counts,
including those inside functions: an import deferred into a function to dodge a circle is still a
circle. The test reads the source (no module is imported), so it holds for code no test runs.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Left to right. A group is a package, or named modules of one (the rest of that package falls in the
# group the package itself is listed under).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("the Parsec boundary (no Django)", ("parsec.contract", "parsec.client")),
    (
        "shared plumbing",
        (
            "builder_platform.api",
            "builder_platform.enqueue",
            "builder_platform.failures",
            "builder_platform.values",
            "builder_platform.inputs",
            "builder_platform.openapi",
            "builder_platform.errors",
            "builder_platform.folders",
            "builder_platform.logs",
            "builder_platform.locks",
            "builder_platform.inserts",
            "builder_platform.shared_store",
            "builder_platform.request_ids",
            "builder_platform.task_context",
            "builder_platform.client_addresses",
            "builder_platform.metrics",
        ),
    ),
    ("the simulator and the client's configuration", ("parsec",)),
    ("worker liveness", ("workers",)),
    ("read cache generations", ("generations",)),
    ("the event log and the audit trail", ("events", "audit")),
    ("rate limits", ("ratelimits",)),
    ("customers", ("customers",)),
    ("trading halts", ("halts",)),
    ("referrals", ("referrals",)),
    ("fees", ("fees",)),
    ("orders", ("orders",)),
    ("portfolio, affiliates and webhooks", ("portfolio", "affiliates", "webhooks")),
    ("web", ("web",)),
    # /metrics's database gauges and the dashboard read every app; only the wiring imports it.
    ("monitoring", ("monitoring",)),
    # Settings, URLs, the Celery app, health and process wiring: may import anything, imported by none.
    ("wiring", ("builder_platform",)),
]
PACKAGES = sorted({name.split(".")[0] for _, names in LAYERS for name in names})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (a module, or the package that defines it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    targets: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module:
                targets.add(target)
    return targets


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    best, best_length = None, -1
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_length:
                best, best_length = index, len(name)
    assert best is not None, f"{module} is in no layer: add its package to LAYERS"
    return best


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def _wrong_arrows(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in graph.items()
        for target in targets
        if _layer(target) > _layer(module)
    )


def test_no_import_runs_right_to_left():
    wrong = _wrong_arrows(GRAPH)
    assert not wrong, "imports against the dependency direction:\n" + "\n".join(wrong)


def test_the_parsec_boundary_imports_no_django_and_no_app():
    for module in ("parsec.contract", "parsec.client"):
        tree = ast.parse(MODULES[module].read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
        }
        assert "django" not in imported, module
        assert not (GRAPH[module] - {"parsec.contract", "parsec.client"}), (module, GRAPH[module])


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_between_modules():
    circles = _circles(GRAPH)
    assert not circles, "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_checks_see_a_circle_and_a_wrong_arrow():
    """The checks are not vacuous: a planted circle and a planted right-to-left arrow are found."""
    planted = defaultdict(set, {module: set(targets) for module, targets in GRAPH.items()})
    planted["customers.models"].add("orders.models")
    planted["orders.models"].add("customers.models")
    assert ["customers.models", "orders.models"] in _circles(planted)
    assert any(
        line.startswith("customers.models (customers) imports orders.models")
        for line in _wrong_arrows(planted)
    )
