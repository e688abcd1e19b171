"""Webhook signatures: HMAC-SHA256 over ``<unix seconds>.<raw body>``, sent as

    X-OCS-Signature: t=1764800000,v1=<64 hex digits>

(the scheme Stripe and others use). The receiver recomputes it with the shared secret, compares
in constant time, refuses a timestamp further than the tolerance from its clock (a captured
request cannot be replayed later), and remembers every signature it accepted within the
tolerance window (it cannot be replayed sooner either). Used both ways: the payment provider
signs what it sends us, and we sign the hub notifications we send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

HEADER = "X-OCS-Signature"
KEY_BYTES = 32


class BadSignature(ValueError):
    """The header is missing, malformed, stale or does not match."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, now_s: int, tolerance_s: int) -> str:
    """The signature (the replay key) if ``header`` signs ``body``; else BadSignature."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or len(given) != 64:
        raise BadSignature(f"{HEADER} must be t=<unix seconds>,v1=<hex HMAC-SHA256>")
    if abs(now_s - int(stamp)) > tolerance_s:
        raise BadSignature(f"timestamp is more than {tolerance_s} s from now")
    wanted = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(wanted, given):
        raise BadSignature("signature does not match the body")
    return given


def load_or_create_secret(path: Path) -> bytes:
    """The shared secret in ``path`` (base64url); created (mode 0600) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
        try:
            os.link(name, path)
        except FileExistsError:
            pass
        finally:
            Path(name).unlink(missing_ok=True)
    text = path.read_text().strip()
    secret = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(secret) < 16:
        raise ValueError(f"payment secret {path} is shorter than 16 bytes")
    return secret
