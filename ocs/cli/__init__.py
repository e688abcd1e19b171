"""The ``ocs`` command line.

Exit codes: 0 success, 1 the server could not start or a command failed,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from ocs import __version__, config, logs
from ocs.errors import ConfigError, StartupError
from ocs.tasks import exit_if_close_hangs

LOOP_CLOSE_TIMEOUT_S = 10.0
"""How long a stopped server's event loop may take to close (see exit_if_close_hangs)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocs",
        description="ocs: real-time Online Charging System (Diameter Gy/Ro and gRPC).",
    )
    parser.add_argument("--version", action="version", version=f"ocs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the charging server")
    serve.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML config file (default: $OCS_CONFIG, else {config.DEFAULT_CONFIG_PATH})",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes sharing the listening ports (default: the config's workers, 1)",
    )
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)
    from ocs.billing_bridge.cli import register as register_billing

    register_billing(commands)
    from ocs.portal.cli import register as register_portal

    register_portal(commands)

    bench = commands.add_parser(
        "bench", help="load a running server with Diameter sessions, then check the balances"
    )
    _add_bench_arguments(bench)
    bench.set_defaults(handler=_bench)
    from ocs.cli.api import add_commands  # people-facing commands over the gRPC API
    from ocs.cli.care import add_care_commands  # care's day-2 commands (the Care service)

    add_care_commands(*add_commands(commands))
    return parser


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from ocs.bench.runner import add_arguments

    add_arguments(parser)


def _bench(args: argparse.Namespace) -> int:
    from ocs.bench.runner import run

    return run(args)


def _serve(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    if args.workers is not None:
        if not 1 <= args.workers <= 64:
            raise ConfigError("--workers", "", f"must be 1..64, got {args.workers}")
        cfg = cfg.model_copy(update={"workers": args.workers})
    logs.setup(cfg.log_level, args.worker_index)
    if args.worker_index is None:
        private_state_dir(cfg.state_dir)
    from ocs.app import App

    app = App(cfg, worker_index=args.worker_index, config_path=args.config)
    guard = None
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            try:
                runner.run(app.run_until_signalled())
            finally:  # armed for the runner's close, also after a failed start (exit 1 then)
                status = 0 if sys.exc_info()[0] is None else 1
                guard = exit_if_close_hangs(
                    LOOP_CLOSE_TIMEOUT_S, logging.getLogger("ocs.app"), status
                )
    finally:
        if guard is not None:
            guard.cancel()
    return 0


def json_last(argv: Sequence[str]) -> list[str]:
    """``--json`` may stand anywhere on the command line: it is moved to the end, where the
    subcommand that takes it reads it (``ocs --json customer list`` works)."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    flags = [w for w in words[:end] if w == "--json"]
    if not flags:
        return words
    return [w for w in words[:end] if w != "--json"] + ["--json"] + words[end:]


PRIVATE_UMASK = 0o077
"""Files ocs creates (ledger, invoices, settlement files, keys, Redis data) are the service
user's alone: 0600 files, 0700 directories, whichever code creates them."""


def private_state_dir(state_dir: Path) -> None:
    """Create the state dir 0700, or make an existing one so (it held 0755 before)."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = state_dir.stat().st_mode & 0o777
        if mode & ~0o700:
            state_dir.chmod(0o700)
    except OSError as exc:
        raise StartupError(f"cannot use state dir {state_dir}: {exc.strerror or exc}") from exc
    if mode & ~0o700:
        logging.getLogger("ocs.app").warning(
            "state dir was readable by others, now private path=%s mode=%o->700", state_dir, mode
        )


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(json_last(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"ocs: config error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"ocs: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
