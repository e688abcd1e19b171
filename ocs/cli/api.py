"""``ocs`` subcommands for people at a terminal, over the gRPC API.

    ocs token create --role admin --subject me      mint a token from the configured key
    ocs token revoke TOKEN   ocs token revoke --subject me   (refused on every call from then)
    ocs customer create C-1 --name "Ada Lovelace"   ocs customer show C-1
    ocs account create A-1 --customer C-1 --opening 10.00
    ocs subscriber create S-1 --account A-1 --msisdn 4917000001 --offer payg
    ocs subscriber show 4917000001                   ... suspend|resume|terminate WHO --reason R
    ocs offer list        ocs offer buy WHO OFFER    ocs offer cancel WHO OFFER    ocs order show ID
    ocs balance show WHO  ocs balance topup WHO 5.00 --payment-id P
    ocs usage WHO [--from 2026-11-01] [--to ...] [--service internet] [--limit 50]

WHO names a subscriber: digits are an MSISDN, ``imsi:<digits>``, ``sip:<uri>``, otherwise a
subscriber id; ``--account ID`` names an account instead. The server is ``--server`` (default
``$OCS_SERVER``, else the config's ``grpc.listen``), the token ``--token`` (default
``$OCS_TOKEN``), TLS with ``--tls-ca`` (``$OCS_TLS_CA``). Output: tables, or ``--json``.
Exit codes: 0 done, 1 the server refused or could not be reached, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from ocs import config
from ocs.api.auth import (
    Role,
    TokenError,
    TokenKeyError,
    Tokens,
    parse_ttl,
    read_key,
    resolve_key_path,
    resolve_revocation_path,
    revoke,
)
from ocs.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    balance_pb2,
    balance_pb2_grpc,
    common_pb2,
)
from ocs.cli import output as out

STATUS_NAMES = {
    v: k.removeprefix("SUBSCRIBER_STATUS_").lower() for k, v in admin_pb2.SubscriberStatus.items()
}
ORDER_STATES = {v: k.removeprefix("ORDER_STATE_").lower() for k, v in admin_pb2.OrderState.items()}


class UsageError(Exception):
    """A mistake on the command line (exit 2)."""


Command = Callable[..., argparse.ArgumentParser]
"""Adds one subcommand to a group: (group, name, help, handler) -> its parser."""


def add_commands(commands: Any) -> tuple[Any, Any, Any, Any, Command]:
    """Register the people-facing subcommands on ``ocs``'s subparsers; the customer, account,
    subscriber and top-level groups and the command maker, for care's commands to join."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", help="host:port of ocs's gRPC API ($OCS_SERVER)")
    common.add_argument("--token", help="bearer token ($OCS_TOKEN)")
    common.add_argument(
        "--tls-ca", help="PEM CA of the server's certificate: use TLS ($OCS_TLS_CA)"
    )
    common.add_argument("--config", type=Path, help="config file (for the default server / key)")
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")

    def group(name: str, text: str) -> Any:
        parser = commands.add_parser(name, help=text)
        return parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def command(
        parent: Any, name: str, text: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=text, parents=[common])
        parser.set_defaults(handler=lambda args: _run(run, args))
        return parser

    token = group("token", "mint bearer tokens for the gRPC API")
    p = command(token, "create", "mint a token from the configured key", _token_create)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--subject", required=True, help="who holds it (a name, a system)")
    p.add_argument("--account", default="", help="subscriber tokens: the account they may use")
    p.add_argument(
        "--ttl",
        default="12h",
        help="lifetime, e.g. 15m, 12h, 30d (default 12h; at most grpc.token_max_ttl_s)",
    )
    p = command(
        token,
        "revoke",
        "revoke a token, or every token of a subject issued until now (on every call, "
        "within a second)",
        _token_revoke,
    )
    p.add_argument("revoked", nargs="?", metavar="TOKEN", help="the token to revoke")
    p.add_argument("--jti", default="", help="the id (jti) of the token to revoke")
    p.add_argument("--subject", default="", help="revoke every token of this subject so far")

    customer = group("customer", "create and look at customers")
    p = command(customer, "create", "create a customer", _customer_create)
    p.add_argument("customer_id")
    p.add_argument("--name", default="")
    p.add_argument("--profile", action="append", default=[], metavar="KEY=VALUE")
    p = command(
        customer, "show", "a customer's accounts, subscribers, balances and usage", _customer_show
    )
    p.add_argument("customer_id")

    account = group("account", "create accounts")
    p = command(account, "create", "create an account of a customer", _account_create)
    p.add_argument("account_id")
    p.add_argument("--customer", required=True)
    p.add_argument("--opening", default="0", help="opening balance, e.g. 10.00")
    p.add_argument("--postpaid", action="store_true")
    p.add_argument("--credit-limit", default="0", help="postpaid: how far below zero, e.g. 50.00")
    p.add_argument("--parent", default="", help="the shared-pool account it draws on")
    p.add_argument("--timezone", default="", help="IANA name (default UTC)")

    subscriber = group("subscriber", "create, show, suspend, resume, terminate subscribers")
    p = command(subscriber, "create", "create a subscriber", _subscriber_create)
    p.add_argument("subscriber_id")
    p.add_argument("--account", required=True)
    p.add_argument("--msisdn", default="")
    p.add_argument("--imsi", default="")
    p.add_argument("--offer", default="payg", help="base offer (default payg; '' for none)")
    p = command(subscriber, "show", "a subscriber and its live sessions", _subscriber_show)
    p.add_argument("who")
    for name, status in (
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
        ("terminate", "TERMINATED"),
    ):
        p = command(subscriber, name, f"{name} a subscriber", _status(status))
        p.add_argument("who")
        p.add_argument("--reason", required=True)

    offer = group("offer", "list, buy and cancel offers")
    command(offer, "list", "the catalog's offers", _offer_list)
    for name in ("buy", "cancel"):
        p = command(offer, name, f"{name} an offer for a subscriber", _order(name))
        p.add_argument("who")
        p.add_argument("offer_id")
        p.add_argument("--order-id", default="", help="idempotency key (default: a new one)")
    order = group("order", "look at orders")
    p = command(order, "show", "an order's state", _order_show)
    p.add_argument("order_id")

    balance = group("balance", "show and top up balances")
    p = command(balance, "show", "an account's buckets", _balance_show)
    _target(p)
    p = command(balance, "topup", "add money to the main wallet", _balance_topup)
    _target(p)
    p.add_argument("amount", help="e.g. 5 or 12.50, in the account's currency")
    p.add_argument("--payment-id", required=True, help="the payment's id: the idempotency key")

    p = command(commands, "usage", "an account's usage, newest first", _usage)
    _target(p)
    p.add_argument("--from", dest="since", default="", help="from this day (UTC), e.g. 2026-11-01")
    p.add_argument("--to", dest="until", default="", help="up to (not including) this day")
    p.add_argument("--service", default="", help="only this service, e.g. internet")
    p.add_argument("--limit", type=int, default=50, help="at most this many records (default 50)")

    return customer, account, subscriber, commands, command


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("who", nargs="?", default="", help="a subscriber (MSISDN, imsi:..., id)")
    parser.add_argument("--account", default="", help="an account id instead of WHO")


# ---------------------------------------------------------------------------- plumbing


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        server = args.server or os.environ.get("OCS_SERVER") or self._configured(args)
        ca = args.tls_ca or os.environ.get("OCS_TLS_CA", "")
        self.token = args.token or os.environ.get("OCS_TOKEN", "")
        if not self.token:
            raise UsageError("no token: pass --token or set OCS_TOKEN (see `ocs token create`)")
        self.server = server
        if ca:
            credentials = grpc.ssl_channel_credentials(Path(ca).read_bytes())
            self.channel = grpc.secure_channel(server, credentials)
        else:
            self.channel = grpc.insecure_channel(server)
        self.admin = admin_pb2_grpc.AdminStub(self.channel)
        self.balance = balance_pb2_grpc.BalanceStub(self.channel)
        self.json = args.json

    @staticmethod
    def _configured(args: argparse.Namespace) -> str:
        return config.load(args.config).grpc.listen

    def call(self, method: Callable[..., Any], request: Message) -> Any:
        return method(request, metadata=(("authorization", f"Bearer {self.token}"),), timeout=30)

    def show(self, message: Message, text: str) -> None:
        print(out.as_json(message) if self.json else text)


def _run(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return run(args)
    except UsageError as exc:
        print(f"ocs: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        code = exc.code()
        details = exc.details()
        if code is grpc.StatusCode.UNAVAILABLE and "balance store" not in (details or ""):
            details = f"cannot reach ocs ({details})"
        print(f"ocs: {code.name}: {details}", file=sys.stderr)
        return 1


def _ref(who: str) -> common_pb2.SubscriberRef:
    if not who:
        raise UsageError("name a subscriber (MSISDN, imsi:..., sip:..., or its id) or --account")
    if who.isdigit():
        return common_pb2.SubscriberRef(msisdn=who)
    if who.startswith("imsi:"):
        return common_pb2.SubscriberRef(imsi=who[5:])
    if who.startswith("sip:"):
        return common_pb2.SubscriberRef(sip_uri=who)
    return common_pb2.SubscriberRef(subscriber_id=who)


def _selector(args: argparse.Namespace) -> balance_pb2.AccountSelector:
    if args.account:
        return balance_pb2.AccountSelector(account_id=args.account)
    return balance_pb2.AccountSelector(subscriber=_ref(args.who))


def _digits(client: Client) -> tuple[str, int]:
    offers = client.call(client.admin.ListOffers, admin_pb2.ListOffersRequest())
    return offers.currency, offers.minor_unit_digits


def _amount(text: str, digits: int) -> int:
    try:
        return out.parse_money(text, digits)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ---------------------------------------------------------------------------- commands


def _token_create(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    path = resolve_key_path(cfg.grpc.token_key_file, cfg.state_dir)
    try:
        key = read_key(path)
        ttl = parse_ttl(args.ttl)
        token = Tokens(key, max_ttl_s=cfg.grpc.token_max_ttl_s).create(
            Role(args.role), args.subject, ttl_s=ttl, account_id=args.account
        )
    except TokenKeyError as exc:
        print(f"ocs: {exc} (the server creates one at its first start)", file=sys.stderr)
        return 1
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    token_id, subject = args.jti, args.subject
    if sum(map(bool, (args.revoked, token_id, subject))) != 1:
        raise UsageError("name one of: a TOKEN, --jti ID, --subject NAME")
    if args.revoked:
        try:
            key = read_key(resolve_key_path(cfg.grpc.token_key_file, cfg.state_dir))
            token_id = str(Tokens(key).claims(args.revoked).get("jti") or "")
        except TokenKeyError as exc:
            print(f"ocs: {exc}", file=sys.stderr)
            return 1
        except TokenError as exc:
            raise UsageError(str(exc)) from None
        if not token_id:
            raise UsageError("the token has no id (jti): revoke its --subject instead")
    path = resolve_revocation_path(cfg.grpc.token_revocation_file, cfg.state_dir)
    try:
        line = revoke(path, token_id=token_id, subject=subject, until=int(time.time()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"revoked: {line} ({path})")
    return 0


def _customer_create(args: argparse.Namespace) -> int:
    client = Client(args)
    profile = {}
    for item in args.profile:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--profile takes KEY=VALUE, got {item!r}")
        profile[key] = value
    reply = client.call(
        client.admin.CreateCustomer,
        admin_pb2.CreateCustomerRequest(
            customer_id=args.customer_id, name=args.name, profile=profile
        ),
    )
    client.show(reply, f"customer {reply.customer_id} created")
    return 0


def _customer_show(args: argparse.Namespace) -> int:
    client = Client(args)
    view = client.call(
        client.admin.GetCustomerView, admin_pb2.GetCustomerRequest(customer_id=args.customer_id)
    )
    if client.json:
        client.show(view, "")
        return 0
    currency, digits = _digits(client)
    customer = view.customer
    parts = [
        out.fields(
            [
                ("customer", customer.customer_id),
                ("name", customer.name or "-"),
                *sorted(customer.profile.items()),
            ]
        )
    ]
    parts.append(
        "\n"
        + out.table(
            ["account", "kind", "status", "money", "credit limit", "subscribers"],
            [
                (
                    a.account_id,
                    admin_pb2.AccountKind.Name(a.kind).removeprefix("ACCOUNT_KIND_").lower(),
                    a.status,
                    out.money(
                        next((b.balance for b in a.buckets if b.id == "money"), 0), currency, digits
                    ),
                    out.money(a.credit_limit, currency, digits),
                    ",".join(a.subscriber_ids) or "-",
                )
                for a in view.accounts
            ],
        )
    )
    parts.append(
        "\n"
        + out.table(
            ["subscriber", "account", "status", "msisdn", "imsi", "offers"],
            [
                (
                    s.subscriber_id,
                    s.account_id,
                    STATUS_NAMES[s.status],
                    s.msisdn or "-",
                    s.imsi or "-",
                    ",".join(s.offers) or "-",
                )
                for s in view.subscribers
            ],
        )
    )
    parts.append(
        "\n" + _buckets_table([b for a in view.accounts for b in a.buckets], currency, digits)
    )
    if view.recent_usage:
        parts.append(
            f"\nusage since {out.when(view.recent_usage_from_ms)}"
            + (" (partial)" if view.recent_usage_partial else "")
        )
        parts.append(
            out.table(
                ["subscriber", "service", "used", "charged", "events"],
                [
                    (
                        u.subscriber_id,
                        u.service,
                        out.quantity(u.units, u.unit),
                        out.money(u.money_minor, currency, digits),
                        u.events,
                    )
                    for u in view.recent_usage
                ],
            )
        )
    print("\n".join(parts))
    return 0


def _buckets_table(buckets: Any, currency: str, digits: int) -> str:
    return out.table(
        ["bucket", "unit", "balance", "reserved", "available", "expires", "for"],
        [
            (
                b.id,
                b.unit,
                out.quantity(b.balance, b.unit, currency, digits),
                out.quantity(b.reserved, b.unit, currency, digits),
                out.quantity(b.available, b.unit, currency, digits),
                out.when(b.expires_ms),
                ",".join(b.services) or "all",
            )
            for b in buckets
        ],
    )


def _account_create(args: argparse.Namespace) -> int:
    client = Client(args)
    _, digits = _digits(client)
    request = admin_pb2.CreateAccountRequest(
        account_id=args.account_id,
        customer_id=args.customer,
        kind=admin_pb2.ACCOUNT_KIND_POSTPAID if args.postpaid else admin_pb2.ACCOUNT_KIND_PREPAID,
        opening_balance=_amount(args.opening, digits),
        credit_limit=_amount(args.credit_limit, digits),
        parent_account_id=args.parent,
        timezone=args.timezone,
    )
    reply = client.call(client.admin.CreateAccount, request)
    client.show(reply, f"account {reply.account_id} created for customer {reply.customer_id}")
    return 0


def _subscriber_create(args: argparse.Namespace) -> int:
    client = Client(args)
    request = admin_pb2.CreateSubscriberRequest(
        subscriber_id=args.subscriber_id,
        account_id=args.account,
        msisdn=args.msisdn,
        imsi=args.imsi,
        base_offer=args.offer,
    )
    reply = client.call(client.admin.CreateSubscriber, request)
    client.show(reply, f"subscriber {reply.subscriber_id} created on account {reply.account_id}")
    return 0


def _subscriber_text(subscriber: Any) -> str:
    return out.fields(
        [
            ("subscriber", subscriber.subscriber_id),
            ("account", subscriber.account_id),
            ("status", STATUS_NAMES[subscriber.status]),
            ("msisdn", subscriber.msisdn or "-"),
            ("imsi", subscriber.imsi or "-"),
            ("offers", ", ".join(subscriber.offers) or "-"),
        ]
    )


def _subscriber_show(args: argparse.Namespace) -> int:
    client = Client(args)
    subscriber = client.call(client.admin.GetSubscriber, _ref(args.who))
    if client.json:
        client.show(subscriber, "")
        return 0
    sessions = client.call(client.admin.ListSessions, _ref(args.who)).sessions
    text = _subscriber_text(subscriber)
    if sessions:
        text += "\n\n" + out.table(
            ["session", "gateway", "state", "expires"],
            [(s.session_id, s.gateway, s.state, out.when(s.expires_ms)) for s in sessions],
        )
    print(text)
    return 0


def _status(status: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = Client(args)
        request = admin_pb2.SetSubscriberStatusRequest(
            subscriber=_ref(args.who),
            status=admin_pb2.SubscriberStatus.Value(f"SUBSCRIBER_STATUS_{status}"),
            reason=args.reason,
        )
        reply = client.call(client.admin.SetSubscriberStatus, request)
        client.show(reply, f"subscriber {reply.subscriber_id} is {STATUS_NAMES[reply.status]}")
        return 0

    return run


def _offer_list(args: argparse.Namespace) -> int:
    client = Client(args)
    reply = client.call(client.admin.ListOffers, admin_pb2.ListOffersRequest())
    rows = [
        (
            o.offer_id,
            o.name,
            o.kind,
            out.money(o.price, reply.currency, reply.minor_unit_digits),
            ", ".join(
                f"{out.quantity(a.amount, a.unit)} {'/'.join(a.services)}" for a in o.allowances
            )
            or "-",
        )
        for o in reply.offers
    ]
    client.show(reply, out.table(["offer", "name", "kind", "price", "allowances"], rows))
    return 0


def _order_text(order: Any) -> str:
    pairs = [
        ("order", order.order_id),
        ("kind", order.kind),
        ("subscriber", order.subscriber_id),
        ("offer", order.offer_id),
        ("state", ORDER_STATES[order.state]),
    ]
    if order.failure:
        pairs.append(("failure", order.failure))
    pairs.append(("charged", order.charged_minor))
    if order.bucket_ids:
        pairs.append(("buckets", ", ".join(order.bucket_ids)))
    return out.fields(pairs)


def _order(kind: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = Client(args)
        order_id = args.order_id or f"cli-{uuid.uuid4().hex[:16]}"
        if kind == "buy":
            request: Message = admin_pb2.PurchaseOfferRequest(
                order_id=order_id, subscriber=_ref(args.who), offer_id=args.offer_id
            )
            reply = client.call(client.admin.PurchaseOffer, request)
        else:
            request = admin_pb2.CancelOfferRequest(
                order_id=order_id, subscriber=_ref(args.who), offer_id=args.offer_id
            )
            reply = client.call(client.admin.CancelOffer, request)
        client.show(reply, _order_text(reply))
        return 0 if reply.state == admin_pb2.ORDER_STATE_COMPLETED else 1

    return run


def _order_show(args: argparse.Namespace) -> int:
    client = Client(args)
    reply = client.call(client.admin.GetOrder, admin_pb2.GetOrderRequest(order_id=args.order_id))
    client.show(reply, _order_text(reply))
    return 0


def _balance_show(args: argparse.Namespace) -> int:
    client = Client(args)
    view = client.call(client.balance.GetBalance, _selector(args))
    head = out.fields(
        [
            ("account", view.account_id),
            ("available", out.money(view.money_available, view.currency, view.minor_unit_digits)),
        ]
    )
    client.show(
        view, head + "\n\n" + _buckets_table(view.buckets, view.currency, view.minor_unit_digits)
    )
    return 0


def _balance_topup(args: argparse.Namespace) -> int:
    client = Client(args)
    selector = _selector(args)
    view = client.call(client.balance.GetBalance, selector)
    request = balance_pb2.TopUpRequest(
        account=balance_pb2.AccountSelector(account_id=view.account_id),
        payment_id=args.payment_id,
        amount_minor=_amount(args.amount, view.minor_unit_digits),
        currency=view.currency,
    )
    reply = client.call(client.balance.TopUp, request)
    balance = out.money(reply.balance_minor, view.currency, view.minor_unit_digits)
    note = " (already applied)" if reply.replayed else ""
    client.show(reply, f"account {view.account_id}: balance {balance}{note}")
    return 0


def _usage(args: argparse.Namespace) -> int:
    client = Client(args)
    try:
        since = out.parse_day(args.since) if args.since else 0
        until = out.parse_day(args.until) if args.until else 0
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 0 < args.limit <= 5000:
        raise UsageError("--limit must be 1..5000")
    currency, digits = _digits(client)
    records: list[Any] = []
    token = ""
    last = None
    while len(records) < args.limit:
        request = balance_pb2.ListUsageRequest(
            account=_selector(args),
            from_ms=since,
            to_ms=until,
            service=args.service,
            page_size=min(500, args.limit - len(records)),
            page_token=token,
        )
        last = client.call(client.balance.ListUsage, request)
        records.extend(last.records)
        token = last.next_page_token
        if not token:
            break
    if client.json:
        assert last is not None
        del last.records[:]
        last.records.extend(records)
        client.show(last, "")
        return 0
    print(
        out.table(
            ["time", "type", "subscriber", "service", "used", "charged"],
            [
                (
                    out.when(r.time_ms),
                    r.type,
                    r.subscriber_id or "-",
                    r.service or "-",
                    out.quantity(r.units, r.unit) if r.service else "-",
                    out.money(r.money_minor, currency, digits),
                )
                for r in records
            ],
        )
    )
    return 0
