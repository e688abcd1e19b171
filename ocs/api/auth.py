"""Bearer tokens: signed, verifiable without a database lookup, with roles.

A token is a JWT (RFC 7519) signed with HS256 by PyJWT, with the claims::

    iss  "ocs"              aud  "ocs-grpc"
    sub  who holds it       role "subscriber" | "care" | "admin" | "network_function"
    acct the account a subscriber token may use (subscriber role only)
    iat, exp                issued / expires (epoch seconds), jti a random id

Every process that serves the API verifies tokens with the same secret (``grpc.token_key_file``)
and nothing else: no database lookup, so a token cannot be revoked before it expires; keep
lifetimes short for people (``ocs token create --ttl``). Verified tokens are cached in the
process (a dict bounded by size; the expiry is checked on every use), so a call costs a dict
lookup, not an HMAC.
"""

from __future__ import annotations

import base64
import enum
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt

from ocs.errors import OcsError

ISSUER = "ocs"
AUDIENCE = "ocs-grpc"
ALGORITHM = "HS256"
KEY_BYTES = 32
LEEWAY_S = 30
CACHE_LIMIT = 100_000


class Role(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    CARE = "care"
    ADMIN = "admin"
    NETWORK_FUNCTION = "network_function"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the token says."""

    subject: str
    role: Role
    account_id: str = ""
    """The only account a subscriber token may use ("" for other roles)."""
    expires: int = 0


class TokenError(OcsError):
    """A token that is missing, malformed, expired, or not signed with our key."""


class TokenKeyError(OcsError):
    """The token key file is missing or unusable."""


def resolve_key_path(token_key_file: str, state_dir: Path) -> Path:
    return Path(token_key_file) if token_key_file else state_dir / "grpc" / "token.key"


def read_key(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise TokenKeyError(f"cannot read token key {path}: {exc.strerror or exc}") from None
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise TokenKeyError(f"token key {path} is not base64url text") from None
    if len(key) < KEY_BYTES:
        raise TokenKeyError(f"token key {path} is shorter than {KEY_BYTES} bytes")
    return key


def write_new_key(path: Path) -> bytes:
    """A fresh random key in ``path`` (mode 0600); refuses to overwrite an existing file.

    Written to a private temporary file first and linked into place, so another process
    (``--workers``) never sees the file without its key."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(key).decode().rstrip("=") + "\n")
        os.link(temporary, path)  # atomic; FileExistsError if another process won
    finally:
        temporary.unlink(missing_ok=True)
    return key


def load_or_create_key(path: Path, *, create: bool) -> tuple[bytes, bool]:
    """(key, created): the key in ``path``, or a new one written there if allowed."""
    if create and not path.exists():
        try:
            return write_new_key(path), True
        except FileExistsError:
            pass  # another process created it first: read theirs
    return read_key(path), False


class Tokens:
    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self.clock = clock
        self._cache: dict[str, Principal] = {}

    def create(self, role: Role, subject: str, *, ttl_s: int, account_id: str = "") -> str:
        role = Role(role)
        if not subject:
            raise ValueError("a token needs a subject")
        if role is Role.SUBSCRIBER and not account_id:
            raise ValueError("a subscriber token needs the account it may use")
        if role is not Role.SUBSCRIBER and account_id:
            raise ValueError("only a subscriber token names an account")
        if ttl_s <= 0:
            raise ValueError("ttl must be positive")
        now = int(self.clock())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "role": role.value,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if account_id:
            claims["acct"] = account_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires + LEEWAY_S > self.clock():
                return cached
            del self._cache[token]
            raise TokenError("token expired")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    # times are checked below against our clock (tests step it)
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {exc}") from None
        now = self.clock()
        try:
            expires, issued = int(claims["exp"]), int(claims["iat"])
        except (TypeError, ValueError):
            raise TokenError("invalid token: exp and iat must be integers") from None
        if expires + LEEWAY_S <= now:
            raise TokenError("token expired")
        if issued - LEEWAY_S > now:
            raise TokenError("invalid token: issued in the future")
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise TokenError(f"invalid token: unknown role {claims.get('role')!r}") from None
        account = claims.get("acct", "")
        if role is Role.SUBSCRIBER and not (isinstance(account, str) and account):
            raise TokenError("invalid token: a subscriber token names no account")
        principal = Principal(str(claims["sub"]), role, str(account or ""), expires)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = principal
        return principal


def parse_ttl(text: str) -> int:
    """``"90"``, ``"90s"``, ``"15m"``, ``"12h"``, ``"30d"`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    factor = units.get(text[-1:], 0)
    number = text[:-1] if factor else text
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 15m, 12h, 30d)")
    return int(number) * (factor or 1)
