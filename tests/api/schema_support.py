"""Checking real answers against the OpenAPI schema the server serves, strictly.

A uniquely named module (not conftest) so test modules can import it by name.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from openapi_schema_validator import OAS31Validator, oas31_format_checker


def served_schema(client) -> dict[str, Any]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others: an answer carrying a
    field the schema does not declare fails, so the schema cannot fall behind the code."""
    if isinstance(schema, dict):
        result = {key: closed(value) for key, value in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the schema")


def assert_conforms(schema: dict[str, Any], method: str, path: str, response) -> Any:
    """The answer's status, content type and body are what the schema declares for this operation."""
    operation = _operation(schema, method, path.split("?")[0])
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method} {path} answered {status}, which its schema does not declare"
    )
    content = operation["responses"][status].get("content", {})
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, f"{method} {path} {status} answered {media_type}, declared {list(content)}"
    if media_type != "application/json":
        return b"".join(response.streaming_content) if response.streaming else response.content
    body = json.loads(response.content)
    root = {
        "allOf": [content[media_type]["schema"]],
        "components": closed(copy.deepcopy(schema["components"])),
    }
    errors = sorted(OAS31Validator(root, format_checker=oas31_format_checker).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors[:5]
    )
    return body
