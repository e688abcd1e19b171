"""The care team's day-2 commands of ``ocs`` (over the gRPC Care and Admin services)::

    ocs customer list [QUERY]            ocs customer search QUERY     (name, MSISDN, IMSI, id)
    ocs account list [QUERY]             ocs account show ACCOUNT
    ocs account credit-limit ACCOUNT 250.00 --reason R
    ocs subscriber list [QUERY]          ocs subscriber search QUERY
    ocs subscriber swap-sim WHO NEW_IMSI --reason R
    ocs subscriber change-msisdn WHO NEW_MSISDN --reason R
    ocs subscriber delete WHO --reason R (says what happens to the balances)
    ocs session list ACCOUNT             live sessions of an account

``--json`` may stand anywhere on the command line (``ocs --json customer list``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ocs.api.v1 import admin_pb2, care_pb2, care_pb2_grpc
from ocs.cli import output as out
from ocs.cli.api import STATUS_NAMES, Client, Command, UsageError, _amount, _digits, _ref
from ocs.cli.api import _subscriber_text as subscriber_text


def add_care_commands(
    customer: Any, account: Any, subscriber: Any, commands: Any, command: Command
) -> None:
    for group, kind in ((customer, "customer"), (account, "account"), (subscriber, "subscriber")):
        for name in ("list", "search"):
            p = command(group, name, f"find {kind}s by name, MSISDN, IMSI or id", _search(kind))
            p.add_argument("query", nargs="?" if name == "list" else None, default="")
            p.add_argument("--offset", type=int, default=0)
            p.add_argument("--limit", type=int, default=50)
    p = command(account, "show", "an account: balances, subscribers, live sessions", _account_show)
    p.add_argument("account_id")
    p = command(account, "credit-limit", "change a postpaid account's credit limit", _credit_limit)
    p.add_argument("account_id")
    p.add_argument("limit", help="e.g. 250.00")
    p.add_argument("--reason", required=True)
    for name, text in (
        ("swap-sim", "a new SIM: the new IMSI replaces the old one"),
        ("change-msisdn", "a new number (porting): the old one is released"),
    ):
        p = command(subscriber, name, text, _identity(name))
        p.add_argument("who")
        p.add_argument("value", metavar="NEW_IMSI" if name == "swap-sim" else "NEW_MSISDN")
        p.add_argument("--reason", required=True)
    p = command(subscriber, "delete", "terminate a subscriber and release its numbers", _delete)
    p.add_argument("who")
    p.add_argument("--reason", required=True)
    sessions = commands.add_parser("session", help="live sessions")
    actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(actions, "list", "live sessions of an account", _sessions)
    p.add_argument("account_id")


def _care(client: Client) -> care_pb2_grpc.CareStub:
    return care_pb2_grpc.CareStub(client.channel)


def _search(kind: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = Client(args)
        reply = client.call(
            _care(client).Search,
            care_pb2.SearchRequest(query=args.query or "", offset=args.offset, limit=args.limit),
        )
        if client.json:
            client.show(reply, "")
            return 0
        hits = list(reply.hits)
        if kind == "customer":
            seen: dict[str, Any] = {}
            for h in hits:
                seen.setdefault(h.customer_id, h)
            print(
                out.table(
                    ["customer", "name", "email"],
                    [(h.customer_id, h.name, h.email or "-") for h in seen.values()],
                )
            )
        elif kind == "account":
            accounts = {(h.account_id, h.customer_id, h.name) for h in hits if h.account_id}
            print(out.table(["account", "customer", "name"], sorted(accounts)))
        else:
            rows = [
                (h.subscriber_id, h.msisdn or "-", h.imsi or "-", h.status, h.account_id, h.name)
                for h in hits
                if h.subscriber_id
            ]
            print(
                out.table(["subscriber", "msisdn", "imsi", "status", "account", "customer"], rows)
            )
        print(f"\n{reply.total} match(es)")
        return 0

    return run


def _account_show(args: argparse.Namespace) -> int:
    client = Client(args)
    account = client.call(
        client.admin.GetAccount, admin_pb2.GetAccountRequest(account_id=args.account_id)
    )
    sessions = client.call(
        _care(client).ListLiveSessions, care_pb2.ListLiveSessionsRequest(account_id=args.account_id)
    )
    if client.json:
        client.show(account, "")
        return 0
    currency, digits = _digits(client)
    kind = admin_pb2.AccountKind.Name(account.kind).removeprefix("ACCOUNT_KIND_").lower()
    text = out.fields(
        [
            ("account", account.account_id),
            ("customer", account.customer_id),
            ("kind", kind),
            ("status", account.status),
            ("credit limit", out.money(account.credit_limit, currency, digits)),
            ("parent", account.parent_account_id or "-"),
            ("timezone", account.timezone),
            ("bill cycle day", account.bill_cycle_day),
            ("subscribers", ", ".join(account.subscriber_ids) or "-"),
        ]
    )
    text += "\n\n" + out.table(
        ["bucket", "unit", "balance", "reserved", "expires"],
        [
            (
                b.id,
                b.unit,
                out.money(b.balance, currency, digits)
                if b.unit == "money"
                else out.quantity(b.balance, b.unit),
                b.reserved,
                out.when(b.expires_ms),
            )
            for b in account.buckets
        ],
    )
    text += "\n\n" + (
        out.table(
            ["session", "subscriber", "gateway", "state", "expires"],
            [
                (s.session_id, s.subscriber_id, s.gateway, s.state, out.when(s.expires_ms))
                for s in sessions.sessions
            ],
        )
        if sessions.sessions
        else "no live session"
    )
    print(text)
    return 0


def _credit_limit(args: argparse.Namespace) -> int:
    client = Client(args)
    currency, digits = _digits(client)
    reply = client.call(
        _care(client).SetCreditLimit,
        care_pb2.SetCreditLimitRequest(
            account_id=args.account_id, credit_limit=_amount(args.limit, digits), reason=args.reason
        ),
    )
    client.show(
        reply,
        f"account {reply.account_id}: credit limit "
        f"{out.money(reply.credit_limit, currency, digits)}",
    )
    return 0


def _identity(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = Client(args)
        if not args.value.lstrip("+").isdigit():
            raise UsageError(f"{'NEW_IMSI' if name == 'swap-sim' else 'NEW_MSISDN'}: digits only")
        method = _care(client).SwapSim if name == "swap-sim" else _care(client).ChangeMsisdn
        reply = client.call(
            method,
            care_pb2.ChangeIdentityRequest(
                subscriber=_ref(args.who), value=args.value, reason=args.reason
            ),
        )
        client.show(reply, subscriber_text(reply))
        return 0

    return run


def _delete(args: argparse.Namespace) -> int:
    client = Client(args)
    reply = client.call(
        _care(client).DeleteSubscriber,
        care_pb2.DeleteSubscriberRequest(subscriber=_ref(args.who), reason=args.reason),
    )
    client.show(
        reply,
        f"subscriber {reply.subscriber_id} deleted (terminated, numbers released; "
        f"{reply.sessions_aborted} live session(s) aborted)\n{reply.balances}",
    )
    return 0


def _sessions(args: argparse.Namespace) -> int:
    client = Client(args)
    reply = client.call(
        _care(client).ListLiveSessions, care_pb2.ListLiveSessionsRequest(account_id=args.account_id)
    )
    client.show(
        reply,
        out.table(
            ["session", "subscriber", "gateway", "state", "expires"],
            [
                (s.session_id, s.subscriber_id, s.gateway, s.state, out.when(s.expires_ms))
                for s in reply.sessions
            ],
        )
        if reply.sessions
        else "no live session",
    )
    return 0


__all__ = ["STATUS_NAMES", "add_care_commands"]
