"""Every REST response checked against the OpenAPI document the server serves."""

from __future__ import annotations

import re
from typing import Any

from openapi_schema_validator import OAS30Validator


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.templates = [
            (re.compile("^" + re.sub(r"{\w+}", r"[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]
        self.checked = 0

    def operation(self, method: str, path: str) -> dict[str, Any]:
        for pattern, template in self.templates:
            if pattern.match(path):
                operations = self.document["paths"][template]
                if method.lower() in operations:
                    return dict(operations[method.lower()])
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")

    def check(self, method: str, path: str, status: int, content_type: str, body: Any) -> None:
        operation = self.operation(method, path)
        responses = operation["responses"]
        assert str(status) in responses, f"{method} {path}: status {status} not documented"
        content = responses[str(status)].get("content")
        if content is None:
            return
        assert content_type in content, f"{method} {path} {status}: {content_type} not documented"
        schema = dict(content[content_type]["schema"])
        if content_type != "application/json":
            return
        schema["components"] = self.document["components"]
        OAS30Validator(schema).validate(body)
        self.checked += 1
