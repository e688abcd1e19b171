"""The OpenAPI document: its TM Forum schemas are the official v4 files' (extracted again and
compared where the files are), every operation has a unique id. E-mail templates: an
operator's file replaces the built-in one by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocs.notify.templates import NAMES, render
from ocs.tmf import schemas
from tests.support.portal import Rest

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [
    Path(os.environ.get("OCS_TMF_SPECS", "/nonexistent")),
    ROOT.parent / "shared" / "specs" / "tmf",
    ROOT.parent.parent / "shared" / "specs" / "tmf",
    Path("/work/shared/specs/tmf"),
]


def specs_dir() -> Path | None:
    for candidate in CANDIDATES:
        if (candidate / schemas.SOURCES["TMF654"]).exists():
            return candidate
    return None


def test_the_schemas_are_the_official_tm_forum_ones() -> None:
    found = specs_dir()
    if found is None:
        pytest.skip("the TM Forum API files are not here (set OCS_TMF_SPECS to their folder)")
    assert schemas.extract(found) == schemas.load(), (
        "ocs/tmf/tmf-v4.json is stale: python -m ocs.tmf.schemas SPECS_DIR"
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_the_served_document_names_each_operation_once(rest: Rest) -> None:
    document = rest.openapi.document
    assert document["openapi"].startswith("3.0")
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) and len(ids) > 30
    refs = {ref for ref in _refs(document["paths"])}
    missing = {r.split("/")[-1] for r in refs} - set(document["components"]["schemas"])
    assert not missing


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_an_operator_template_replaces_the_built_in_one(tmp_path: Path) -> None:
    context = {
        "name": "Ada",
        "number": "INV-000001",
        "period": "2026-11",
        "kind": "invoice",
        "reference": "RF18INV000001",
        "total": "EUR 5.94",
        "due": "2026-12-18",
        "url": "http://x",
    }
    subject, body = render("", "bill_issued", context)
    assert subject == "Your bill INV-000001 is ready" and "RF18INV000001" in body
    (tmp_path / "bill_issued.txt").write_text("Subject: Rechnung {{ number }}\nHallo {{ name }}\n")
    subject, body = render(str(tmp_path), "bill_issued", context)
    assert (subject, body.strip()) == ("Rechnung INV-000001", "Hallo Ada")
    (tmp_path / "low_balance.txt").write_text("no subject line\n")
    with pytest.raises(ValueError, match="Subject"):
        render(str(tmp_path), "low_balance", {})
    for name in NAMES:  # every built-in template names its subject
        assert render("", name, _everything())[0]


def _everything() -> dict[str, str]:
    keys = (
        "name",
        "number",
        "period",
        "kind",
        "reference",
        "total",
        "due",
        "url",
        "amount",
        "bill",
        "what",
        "left",
        "ticket",
        "title",
        "state",
        "note",
        "outstanding",
        "code",
    )
    return {k: "x" for k in keys}
