"""A property-based run of schemathesis over every operation of the served schema, counted.

Shared by tests/api/test_schema_fuzz.py (a few examples per operation) and benchmarks/schema_fuzz.py
(many). For each operation it draws schema-valid and schema-violating requests, sends them with the
partner's key, and runs the checks below on each answer; nothing stops at the first failure, so the
counts say how much of the run went wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks as openapi_checks

# Every check that compares an answer with the schema or with what the request deserved. Left out:
# positive_data_acceptance (a schema-valid body naming a market that does not exist is rightly a 404),
# max_response_time (no timing assertions), and the stateful checks, which need links between operations.
# not_a_server_error is replaced by our own count below: it would flag 501, which is Parsec's declared
# answer for an order type an exchange does not support (a partner's mistake, not a failure of ours).
CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.ignored_auth,
]


@dataclass
class FuzzReport:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)  # 5xx other than Parsec's declared 501
    violations: list[str] = field(default_factory=list)  # answers a check says the schema contradicts
    statuses: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            f"{self.requests} requests, {len(self.server_errors)} 5xx, {len(self.violations)} schema "
            f"violations; statuses {dict(sorted(self.statuses.items()))}"
        )


def fuzz(
    schema: Any,
    *,
    base_url: str,
    api_key: str,
    max_examples: int,
    real_ids: dict[str, str] | None = None,
    seed: int | None = 0,
) -> FuzzReport:
    """Run every operation in both generation modes, plus (positive only) once with the path
    parameters and headers named in `real_ids` set to real objects, so requests also reach past a 404."""
    report = FuzzReport()
    real_ids = real_ids or {}
    for result in schema.get_all_operations():
        operation = result.ok()
        variants: list[tuple[GenerationMode, dict[str, Any]]] = [
            (GenerationMode.POSITIVE, {}),
            (GenerationMode.NEGATIVE, {}),
        ]
        names = {parameter.name for parameter in operation.iter_parameters()}
        path_ids = {name: value for name, value in real_ids.items() if name in names and "-" not in name}
        header_ids = {name: value for name, value in real_ids.items() if name in names and "-" in name}
        if path_ids or header_ids:
            overrides: dict[str, Any] = {}
            if path_ids:
                overrides["path_parameters"] = path_ids
            if header_ids:
                overrides["headers"] = header_ids
            variants.append((GenerationMode.POSITIVE, overrides))
        for mode, overrides in variants:
            _run(operation, mode, overrides, base_url, api_key, max_examples, seed, report)
    return report


def _run(operation, mode, overrides, base_url, api_key, max_examples, seed, report: FuzzReport) -> None:
    strategy = operation.as_strategy(generation_mode=mode, **overrides)
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is not None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case) -> None:
        # The key is added to every request, except where a negative case mutated the headers: there the
        # mutation (often "X-API-Key missing") is what is under test, and adding the key would undo it.
        header_mutated = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
        headers = {} if header_mutated else {"X-API-Key": api_key}
        response = case.call(base_url=base_url, headers=headers)
        report.requests += 1
        report.statuses[response.status_code] += 1
        where = f"{label} [{mode.value}] {response.status_code}"
        sent = f"\n  request: {response.request.method} {response.request.url}"
        if response.status_code >= 500 and response.status_code != 501:
            report.server_errors.append(f"{where}: {response.text[:300]}{sent}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (FailureGroup, Failure) as error:
            failures = error.exceptions if isinstance(error, FailureGroup) else (error,)
            report.violations += [
                f"{where}: {failure.title}: {failure.message[:300]}{sent}" for failure in failures
            ]

    one()
