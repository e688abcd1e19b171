"""The OpenAPI 3.0 document of the REST APIs, built from the routes the server serves and the
official TM Forum schemas (:mod:`ocs.tmf.schemas`), served at ``/tmf-api/openapi.json``.

Schemas ocs adds are named ``Ocs.*`` (its error body, hub subscriptions with their signing
secret) and ``TMF666.*`` (TMF666 Account Management is not among the files we carry: its v4
BillingAccount, with the attributes ocs fills)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ocs import __version__
from ocs.tmf.http import Route
from ocs.tmf.schemas import load

_MONEY = {"$ref": "#/components/schemas/TMF678.Money"}

OWN: dict[str, Any] = {
    "Ocs.Error": {
        "description": "TMF Error (code, reason, status) with the request field at fault.",
        "allOf": [
            {"$ref": "#/components/schemas/TMF654.Error"},
            {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "request field at fault"}
                },
            },
        ],
    },
    "Ocs.EventSubscription": {
        "description": "TMF EventSubscription; ``secret`` (only in the answer to its creation) "
        "signs every notification: header X-OCS-Signature t=<unix s>,v1=<hex HMAC-SHA256 of "
        "'<t>.<body>'>.",
        "allOf": [
            {"$ref": "#/components/schemas/TMF654.EventSubscription"},
            {"type": "object", "properties": {"secret": {"type": "string"}}},
        ],
    },
    "TMF666.BillingAccount": {
        "type": "object",
        "description": "TMF666 v4 BillingAccount (the attributes ocs fills).",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string"},
            "href": {"type": "string"},
            "name": {"type": "string"},
            "accountType": {"type": "string"},
            "state": {"type": "string"},
            "relatedParty": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/TMF629.RelatedParty"},
            },
            "accountBalance": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["balanceType", "amount"],
                    "properties": {"balanceType": {"type": "string"}, "amount": _MONEY},
                },
            },
            "creditLimit": _MONEY,
            "billStructure": {"type": "object"},
            "accountRelationship": {"type": "array", "items": {"type": "object"}},
            "characteristic": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "value"],
                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                },
            },
            "@type": {"type": "string"},
        },
    },
    "Ocs.CreditRequest": {
        "type": "object",
        "description": "A credit note asked for on a ticket; above the four-eyes amount it is "
        "pending until a second agent decides (POST /creditRequest/{id}/decision "
        "{decision: approve|reject}).",
        "required": ["id", "ticket", "amount", "state"],
        "properties": {
            "id": {"type": "string"},
            "ticket": {"type": "string"},
            "account": {"type": "string"},
            "bill": {"type": "string"},
            "amount": {"type": "integer", "description": "minor units"},
            "reason": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "issued", "rejected"]},
            "requestedBy": {"type": "string"},
            "approvedBy": {"type": "string"},
            "document": {"type": "string", "description": "the credit note's number"},
        },
    },
    "Ocs.PaymentNotice": {
        "type": "object",
        "description": "The payment provider's webhook body (see docs/portal.md).",
        "required": ["id", "status", "amount", "reference"],
        "properties": {
            "id": {"type": "string", "description": "the provider's payment id"},
            "status": {"type": "string", "enum": ["succeeded", "failed"]},
            "amount": _MONEY,
            "reference": {"type": "string", "description": "our checkout id"},
        },
    },
    "Ocs.Camt053Report": {
        "type": "object",
        "required": ["matched", "unmatched", "debitsSkipped"],
        "properties": {
            "matched": {"type": "array", "items": {"type": "object"}},
            "unmatched": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "amount", "reason"],
                    "properties": {
                        "id": {"type": "string"},
                        "amount": {"type": "integer"},
                        "reference": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
            "debitsSkipped": {"type": "integer"},
            "matchedAmount": {"type": "integer"},
            "unmatchedAmount": {"type": "integer"},
        },
    },
    "Ocs.PaymentResult": {
        "type": "object",
        "required": ["id", "state"],
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string"},
            "replayed": {"type": "boolean"},
            "bill": {"type": "string"},
            "account": {"type": "string"},
        },
    },
}

_ERRORS = {
    400: "Bad Request: a field is missing or wrong (field names it)",
    401: "Unauthorized: no valid bearer token",
    403: "Forbidden: the token's role or account may not do this",
    404: "Not Found",
    409: "Conflict: valid, but not now (or the id was used for another request)",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error (logged by the server)",
    503: "Service Unavailable: the balance store cannot be reached",
}


def _schema(name: str) -> dict[str, Any]:
    if name.startswith("[") and name.endswith("]"):
        return {"type": "array", "items": {"$ref": f"#/components/schemas/{name[1:-1]}"}}
    return {"$ref": f"#/components/schemas/{name}"}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        for name in route.query:
            where = "header" if name[0].isupper() else "query"
            params.append(
                {"name": name, "in": where, "required": False, "schema": {"type": "string"}}
            )
        responses: dict[str, Any] = {}
        for status, schema in route.responses.items():
            answer: dict[str, Any] = {"description": "OK"}
            if schema is not None:
                answer["content"] = {route.content: {"schema": _schema(schema)}}
            if schema is not None and schema.startswith("["):
                answer["headers"] = {
                    "X-Total-Count": {"schema": {"type": "integer"}},
                    "X-Result-Count": {"schema": {"type": "integer"}},
                }
            responses[str(status)] = answer
        if 201 in route.responses and route.method == "POST" and 200 not in route.responses:
            responses["200"] = {
                "description": "the same request again (an idempotent replay)",
                "content": responses["201"].get("content", {}),
            }
        for status, text in _ERRORS.items():
            responses.setdefault(
                str(status),
                {
                    "description": text,
                    "content": {"application/json": {"schema": _schema("Ocs.Error")}},
                },
            )
        operation: dict[str, Any] = {
            "operationId": route.operation,
            "summary": route.summary,
            "description": f"Roles: {route.roles}" if route.roles else "",
            "tags": [route.tag],
            "parameters": params,
            "responses": responses,
            **route.extra,
        }
        if route.body:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(route.body)}},
            }
        if route.roles == "none":
            operation["security"] = []
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    schemas = {**load(), **OWN}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ocs TM Forum Open APIs",
            "version": __version__,
            "description": "TMF620/621/622/629/635/654/666/678 v4 shapes over the ocs charging "
            "server. Bearer tokens: the gRPC APIs' (ocs token create).",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }
