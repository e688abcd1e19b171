"""Bearer tokens: signed, verifiable without a database lookup, with roles.

A token is a JWT (RFC 7519) signed with HS256 by PyJWT, with the claims::

    iss  "ocs"              aud  "ocs-grpc"
    sub  who holds it       role "subscriber" | "care" | "admin" | "network_function"
    acct the account a subscriber token may use (subscriber role only)
    iat, exp                issued / expires (epoch seconds), jti a random id

Every process that serves the API verifies tokens with the same secret (``grpc.token_key_file``)
and nothing else: no database lookup. Two things bound what a leaked token can do:

* a maximum lifetime (``grpc.token_max_ttl_s``, 30 days by default): a longer token is not
  minted, and one presented (minted elsewhere, or before the bound was lowered) is refused;
* a revocation list (:class:`Revocations`): a file (``grpc.token_revocation_file``, default
  ``<state_dir>/grpc/revoked_tokens``) that ``ocs token revoke`` appends to, one token id
  (``jti``) or one subject with a time (every token of it issued until then) per line. It is
  consulted on every call and re-read within a second of a change, by every process of the
  host; instances on other hosts need the same file, like the key.

Verified tokens are cached in the process (a dict bounded by size; the expiry and the
revocation list are checked on every use), so a call costs a dict lookup, not an HMAC.
"""

from __future__ import annotations

import base64
import enum
import logging
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

log = logging.getLogger("ocs.api")

ISSUER = "ocs"
AUDIENCE = "ocs-grpc"
ALGORITHM = "HS256"
KEY_BYTES = 32
LEEWAY_S = 30
CACHE_LIMIT = 100_000
DEFAULT_MAX_TTL_S = 30 * 86400
REVOCATION_CHECK_S = 1.0
"""How often (at most) the revocation file is looked at for a change."""


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
    issued: int = 0
    token_id: str = ""
    """The token's ``jti`` (what ``ocs token revoke --jti`` names)."""


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


def resolve_revocation_path(token_revocation_file: str, state_dir: Path) -> Path:
    return (
        Path(token_revocation_file)
        if token_revocation_file
        else state_dir / "grpc" / "revoked_tokens"
    )


class Revocations:
    """The revocation list: ``jti <id>`` and ``subject <name> <epoch seconds>`` lines (``#``
    starts a comment). A missing file revokes nothing; a line that cannot be read is logged
    and skipped."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.token_ids: frozenset[str] = frozenset()
        self.subjects: dict[str, int] = {}
        self._seen: tuple[int, int] | None = None
        self._checked = float("-inf")

    def revoked(self, principal: Principal) -> bool:
        now = self.clock()
        if now - self._checked >= REVOCATION_CHECK_S:
            self._checked = now
            self._reload()
        if principal.token_id in self.token_ids:
            return True
        until = self.subjects.get(principal.subject)
        return until is not None and principal.issued <= until

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self.token_ids, self.subjects, self._seen = frozenset(), {}, None
            return
        except OSError as exc:
            log.error("revocation list unreadable path=%s error=%s", self.path, exc.strerror)
            return
        seen = (info.st_mtime_ns, info.st_size)
        if seen == self._seen:
            return
        try:
            text = self.path.read_text()
        except OSError as exc:
            log.error("revocation list unreadable path=%s error=%s", self.path, exc.strerror)
            return
        token_ids: set[str] = set()
        subjects: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] == "jti":
                token_ids.add(words[1])
            elif len(words) == 3 and words[0] == "subject" and words[2].isdigit():
                subjects[words[1]] = max(subjects.get(words[1], 0), int(words[2]))
            elif words:
                log.warning("revocation list line skipped path=%s line=%d", self.path, number)
        self.token_ids, self.subjects, self._seen = frozenset(token_ids), subjects, seen
        log.info(
            "revocation list loaded path=%s tokens=%d subjects=%d",
            self.path,
            len(token_ids),
            len(subjects),
        )


def revoke(path: Path, *, token_id: str = "", subject: str = "", until: int = 0) -> str:
    """Append a revocation to the list (created if needed); returns the line written."""
    line = f"jti {token_id}" if token_id else f"subject {subject} {until}"
    if not (token_id or subject) or any(c.isspace() for c in token_id + subject):
        raise ValueError("name one token id or one subject, without spaces")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(line + "\n")
    return line


def load_or_create_key(path: Path, *, create: bool) -> tuple[bytes, bool]:
    """(key, created): the key in ``path``, or a new one written there if allowed."""
    if create and not path.exists():
        try:
            return write_new_key(path), True
        except FileExistsError:
            pass  # another process created it first: read theirs
    return read_key(path), False


class Tokens:
    def __init__(
        self,
        key: bytes,
        clock: Callable[[], float] = time.time,
        *,
        max_ttl_s: int = DEFAULT_MAX_TTL_S,
        revocations: Revocations | None = None,
    ) -> None:
        self._key = key
        self.clock = clock
        self.max_ttl_s = max_ttl_s
        self.revocations = revocations or Revocations(None, clock)
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
        if ttl_s > self.max_ttl_s:
            raise ValueError(
                f"ttl {ttl_s}s is longer than grpc.token_max_ttl_s ({self.max_ttl_s}s)"
            )
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
        principal = self._cache.get(token)
        if principal is not None:
            if principal.expires + LEEWAY_S <= self.clock():
                del self._cache[token]
                raise TokenError("token expired")
        else:
            principal = self._verify(token)
        if self.revocations.revoked(principal):
            raise TokenError("token revoked")
        return principal

    def claims(self, token: str) -> dict[str, object]:
        """The claims of a token signed with our key, expired or not (for revoking it)."""
        try:
            return dict(
                jwt.decode(
                    token,
                    self._key,
                    algorithms=[ALGORITHM],
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    options={"verify_exp": False, "verify_iat": False},
                )
            )
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {exc}") from None

    def _verify(self, token: str) -> Principal:
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
        if expires - issued > self.max_ttl_s:
            raise TokenError(
                f"token lifetime {expires - issued}s is longer than grpc.token_max_ttl_s "
                f"({self.max_ttl_s}s)"
            )
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise TokenError(f"invalid token: unknown role {claims.get('role')!r}") from None
        account = claims.get("acct", "")
        if role is Role.SUBSCRIBER and not (isinstance(account, str) and account):
            raise TokenError("invalid token: a subscriber token names no account")
        principal = Principal(
            str(claims["sub"]),
            role,
            str(account or ""),
            expires,
            issued,
            str(claims.get("jti", "")),
        )
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
