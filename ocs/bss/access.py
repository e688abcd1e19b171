"""Who may do what: the gRPC APIs' roles (:mod:`ocs.api.auth`), applied to the BSS services.

Every BSS operation takes the caller's :class:`~ocs.api.auth.Principal` (from a bearer token on
the REST APIs, from the portal's session for a signed-in person) and checks it here, with the
same rules as ``ocs.api.rpc``: a role the operation allows, and for a subscriber its own account
only (PERMISSION_DENIED whether the other account exists or not)."""

from __future__ import annotations

from typing import Any, cast

from ocs.api.auth import Principal, Role
from ocs.api.errors import permission_denied
from ocs.api.rpc import ADMIN, SELF_CARE, STAFF, Call

__all__ = ["ADMIN", "SELF_CARE", "STAFF", "actor", "call_of", "require", "require_account"]


def require(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        allowed = ", ".join(sorted(role.value for role in roles))
        raise permission_denied(f"role {principal.role.value} may not do this (needs {allowed})")


def require_account(principal: Principal, account_id: str) -> None:
    if principal.role is Role.SUBSCRIBER and account_id != principal.account_id:
        raise permission_denied("a subscriber may only use its own account")


def actor(principal: Principal) -> str:
    """As recorded in events and the activity trail: ``<role>:<subject>``."""
    return f"{principal.role.value}:{principal.subject}"


def call_of(principal: Principal) -> Call:
    """A :class:`~ocs.api.rpc.Call` for the gRPC service objects (their handlers read only the
    principal), so the REST APIs and the portal run the very same handlers."""
    return Call(principal, cast(Any, None))
