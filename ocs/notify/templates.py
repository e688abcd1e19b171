"""E-mail templates: ``<name>.txt`` (Jinja2, plain text), first line ``Subject: ...``. The
built-in ones are in ``ocs/notify/texts/``; a file of the same name in ``[portal.smtp]
templates_dir`` replaces one, so an operator changes wording without touching code."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

_env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
NAMES = (
    "activation",
    "bill_issued",
    "payment_received",
    "low_balance",
    "ticket_update",
    "dunning_reminder",
    "service_barred",
    "service_restored",
)


def source(templates_dir: str, name: str) -> str:
    if name not in NAMES:
        raise ValueError(f"no e-mail template {name!r}")
    if templates_dir:
        own = Path(templates_dir) / f"{name}.txt"
        if own.exists():
            return own.read_text(encoding="utf-8")
    return (
        resources.files("ocs.notify").joinpath("texts", f"{name}.txt").read_text(encoding="utf-8")
    )


def render(templates_dir: str, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of template ``name`` with ``context``."""
    text = _env.from_string(source(templates_dir, name)).render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"template {name}: the first line must be 'Subject: ...'")
    return first[len("Subject:") :].strip(), body.lstrip("\n")
