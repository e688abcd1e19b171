"""People who sign in to the portal, their sessions, and the guard on signing in.

* Subscribers sign in with their MSISDN; care gives them an **activation code** (one use,
  ``activation_ttl_s``), with which they set their own password. Agents (care, admin) are made
  by an operator (``ocs portal agent``) or the demo.
* Passwords are hashed with **argon2id** (argon2-cffi's defaults); activation codes are random
  (12 characters, 60 bits) and stored as SHA-256.
* A **session** is 32 random bytes in an HttpOnly, SameSite=Strict (and Secure) cookie; the
  database keeps only its SHA-256, with its expiry and its **CSRF token** (every form posts it).
* **Sign-in is rate limited** per login and per client address (``signin_failures`` failures
  in ``signin_window_s``, 4x that per address): beyond, 429 until the window has passed, and a
  correct password does not help. Counted in the process (each worker counts its own).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ocs.api.auth import Principal, Role
from ocs.api.errors import invalid, precondition
from ocs.bss.database import BssDatabase

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_MIN = 10
PASSWORD_MAX = 256
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    login: str
    role: Role
    name: str
    customer: str
    account: str

    @property
    def principal(self) -> Principal:
        if self.role is Role.SUBSCRIBER:
            return Principal(f"portal:{self.login}", self.role, self.account)
        return Principal(self.login, self.role)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.CARE, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    expires_ms: int


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise invalid("password", f"at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise invalid("password", f"at most {PASSWORD_MAX} characters")
    return password


_USER = "SELECT id, login, role, name, customer, account FROM portal_users"


def _user(row: tuple[object, ...]) -> User:
    return User(str(row[0]), str(row[1]), Role(str(row[2])), str(row[3]), str(row[4]), str(row[5]))


class People:
    def __init__(self, db: BssDatabase, clock: Callable[[], int], session_ttl_s: int) -> None:
        self.db = db
        self.clock = clock
        self.session_ttl_ms = session_ttl_s * 1000

    # -- users ------------------------------------------------------------------------------

    def find(self, login: str) -> User | None:
        row = self.db.one(f"{_USER} WHERE login = ?", (login,))
        return _user(row) if row else None

    def create_agent(self, login: str, name: str, role: Role, password: str) -> User:
        if role not in (Role.CARE, Role.ADMIN):
            raise invalid("role", "an agent is care or admin")
        if not login or len(login) > 64 or not login.replace(".", "").replace("-", "").isalnum():
            raise invalid("login", "letters, digits, . and - only, at most 64")
        digest = _hasher.hash(check_password(password))
        with self.db.transaction() as cur:
            cur.execute("SELECT 1 FROM portal_users WHERE login = ?", (login,))
            if cur.fetchone():
                cur.execute(
                    "UPDATE portal_users SET password_hash = ?, role = ?, name = ? WHERE login = ?",
                    (digest, role.value, name, login),
                )
            else:
                cur.execute(
                    "INSERT INTO portal_users (id, login, role, name, customer, account, "
                    "password_hash, activation_hash, activation_expires, created_ms) "
                    "VALUES (?, ?, ?, ?, '', '', ?, '', 0, ?)",
                    (uuid.uuid4().hex, login, role.value, name, digest, self.clock()),
                )
        found = self.find(login)
        assert found is not None
        return found

    def issue_activation(self, login: str, name: str, customer: str, account: str) -> str:
        """A fresh one-use code for a subscriber (the login is its MSISDN); an earlier code
        and any password are replaced."""
        code = "".join(secrets.choice(ALPHABET) for _ in range(12))
        expires = self.clock() + self.activation_ttl_ms
        with self.db.transaction() as cur:
            cur.execute("SELECT role FROM portal_users WHERE login = ?", (login,))
            row = cur.fetchone()
            if row is not None and row[0] != Role.SUBSCRIBER.value:
                raise precondition("LOGIN_TAKEN", f"{login} is an agent's login", "login")
            cur.execute("DELETE FROM portal_users WHERE login = ?", (login,))
            cur.execute(
                "INSERT INTO portal_users (id, login, role, name, customer, account, "
                "password_hash, activation_hash, activation_expires, created_ms) "
                "VALUES (?, ?, 'subscriber', ?, ?, ?, '', ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    login,
                    name,
                    customer,
                    account,
                    sha256(code),
                    expires,
                    self.clock(),
                ),
            )
        return f"{code[:4]}-{code[4:8]}-{code[8:]}"

    activation_ttl_ms = 7 * 86_400_000

    def activate(self, login: str, code: str, password: str) -> User | None:
        """Set the password with the activation code; None if login or code are wrong."""
        check_password(password)
        wanted = sha256(code.replace("-", "").replace(" ", "").upper())
        row = self.db.one(
            "SELECT activation_hash, activation_expires FROM portal_users WHERE login = ?",
            (login,),
        )
        if row is None or not row[0] or int(row[1]) < self.clock():
            return None
        if not hmac.compare_digest(str(row[0]), wanted):
            return None
        self.db.write(
            "UPDATE portal_users SET password_hash = ?, activation_hash = '', "
            "activation_expires = 0 WHERE login = ? AND activation_hash = ?",
            (_hasher.hash(password), login, wanted),
        )
        return self.find(login)

    def verify(self, login: str, password: str) -> User | None:
        row = self.db.one("SELECT password_hash FROM portal_users WHERE login = ?", (login,))
        digest = str(row[0]) if row and row[0] else _DUMMY  # same work for unknown logins
        try:
            _hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or not row[0]:
            return None
        return self.find(login)

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self.clock()
        expires = now + self.session_ttl_ms
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM portal_sessions WHERE expires_ms < ?", (now,))
            cur.execute(
                "INSERT INTO portal_sessions (id_hash, user_id, csrf, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (sha256(token), user.id, csrf, now, expires),
            )
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        if not token or len(token) > 100:
            return None
        row = self.db.one(
            "SELECT u.id, u.login, u.role, u.name, u.customer, u.account, s.csrf, s.expires_ms "
            "FROM portal_sessions s JOIN portal_users u ON u.id = s.user_id WHERE s.id_hash = ?",
            (sha256(token),),
        )
        if row is None or int(row[7]) < self.clock():
            return None
        return Session(_user(row[:6]), str(row[6]), int(row[7]))

    def close_session(self, token: str) -> None:
        self.db.write("DELETE FROM portal_sessions WHERE id_hash = ?", (sha256(token),))


class SignInGuard:
    """Failed sign-ins per login and per address in a sliding window (monotonic ms clock)."""

    def __init__(self, failures: int, window_s: int, clock: Callable[[], int]) -> None:
        self.failures = failures
        self.window_ms = window_s * 1000
        self.clock = clock
        self._seen: dict[str, deque[int]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[int]:
        times = self._seen[key]
        cutoff = self.clock() - self.window_ms
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def retry_after_s(self, login: str, address: str) -> int:
        """0 if a sign-in may be tried now, else seconds until it may."""
        waits = []
        for key, limit in (
            (f"login:{login}", self.failures),
            (f"addr:{address}", self.failures * 4),
        ):
            times = self._recent(key)
            if len(times) >= limit:
                waits.append((times[0] + self.window_ms - self.clock()) // 1000 + 1)
        return max(waits, default=0)

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        for key in (f"login:{login}", f"addr:{address}"):
            self._recent(key).append(now)
        if len(self._seen) > 100_000:
            self._seen.clear()

    def succeeded(self, login: str) -> None:
        self._seen.pop(f"login:{login}", None)
