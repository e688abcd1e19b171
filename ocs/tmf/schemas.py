"""The TM Forum schemas the REST APIs answer with, extracted from the official v4 API files.

``tmf-v4.json`` (beside this module, checked in) holds, per API, the definitions the served
OpenAPI document uses and everything they reference, converted from Swagger 2.0 to OpenAPI 3.0
(``#/definitions/X`` -> ``#/components/schemas/TMFnnn.X``; a Swagger ``discriminator`` string
becomes an OpenAPI one) and nothing else changed. Regenerate it from the TM Forum files with::

    python -m ocs.tmf.schemas /path/to/specs/tmf

``tests/tmf/test_openapi.py`` extracts again from the official files (where they are) and fails
if anything differs.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

SOURCES = {
    "TMF620": "TMF620-ProductCatalog-v4.0.0.swagger.json",
    "TMF621": "TMF621-TroubleTicket-v4.0.0.swagger.json",
    "TMF622": "TMF622-ProductOrder-v4.0.0.swagger.json",
    "TMF629": "TMF629-Customer-v4.0.0.swagger.json",
    "TMF635": "TMF635-UsageManagement-v4.0.0.swagger.json",
    "TMF654": "TMF654-PrepayBalance-v4.0.0.swagger.json",
    "TMF678": "TMF678-CustomerBill-v4.0.0.swagger.json",
}
ROOTS = {
    "TMF620": ["ProductOffering", "ProductOfferingPrice", "Error"],
    "TMF621": [
        "TroubleTicket",
        "TroubleTicket_Create",
        "TroubleTicket_Update",
        "Attachment",
        "EventSubscription",
        "EventSubscriptionInput",
        "Error",
    ],
    "TMF622": ["ProductOrder", "ProductOrder_Create", "Error"],
    "TMF629": ["Customer", "Error"],
    "TMF635": ["Usage", "Error"],
    "TMF654": [
        "Bucket",
        "AccumulatedBalance",
        "TopupBalance",
        "TopupBalance_Create",
        "AdjustBalance",
        "AdjustBalance_Create",
        "EventSubscription",
        "EventSubscriptionInput",
        "Error",
    ],
    "TMF678": [
        "CustomerBill",
        "AppliedCustomerBillingRate",
        "EventSubscription",
        "EventSubscriptionInput",
        "Error",
    ],
}
FILE = "tmf-v4.json"


def _convert(node: Any, api: str, refs: set[str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/definitions/"):
                name = value[len("#/definitions/") :]
                refs.add(name)
                out[key] = f"#/components/schemas/{api}.{name}"
            elif key == "discriminator" and isinstance(value, str):
                out[key] = {"propertyName": value}
            else:
                out[key] = _convert(value, api, refs)
        return out
    if isinstance(node, list):
        return [_convert(item, api, refs) for item in node]
    return node


def extract(specs: Path) -> dict[str, Any]:
    """``{"TMF654.Bucket": {...}, ...}``: the roots of every API and their references."""
    schemas: dict[str, Any] = {}
    for api, filename in SOURCES.items():
        definitions = json.loads((specs / filename).read_text())["definitions"]
        todo = list(ROOTS[api])
        while todo:
            name = todo.pop()
            if f"{api}.{name}" in schemas:
                continue
            refs: set[str] = set()
            schemas[f"{api}.{name}"] = _convert(definitions[name], api, refs)
            todo.extend(sorted(refs))
    return dict(sorted(schemas.items()))


def load() -> dict[str, Any]:
    text = resources.files("ocs.tmf").joinpath(FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ocs.tmf.schemas SPECS_DIR", file=sys.stderr)
        return 2
    out = Path(__file__).with_name(FILE)
    out.write_text(json.dumps(extract(Path(argv[0])), indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
