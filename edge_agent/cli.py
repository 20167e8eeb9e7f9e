"""``edge-agent``: the daemon and the tools store IT uses on a device."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from edge_agent import __version__
from edge_agent.config import AgentConfig, ConfigError, load_config
from edge_agent.config_files import check_config_file, deployment_problems, file_problems
from edge_agent.store.db import StorageError
from edge_agent.store.faults import is_corruption

if TYPE_CHECKING:  # argparse, and the tools' own modules, are imported by the commands that use them
    import argparse

EXIT_CONFIG = 2
EXIT_STORAGE = 3
EXIT_RESTART = 75
"""EX_TEMPFAIL: the platform asked for a restart; the unit's Restart=on-failure starts the agent again."""


def _load(path: Path) -> AgentConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class RunArgs(NamedTuple):
    """What ``edge-agent run`` takes: the daemon's command line, read without argparse (see ``run_args``)."""

    config: Path
    log_level: str = "INFO"


def run_args(argv: list[str]) -> RunArgs | None:
    """``run --config FILE [--log-level LEVEL]`` (either order, ``--opt=value`` too), or None for anything else.

    The daemon is the one command a device runs for days: parsing its plain command line here keeps argparse
    and gettext (~0.4 MB of heap, docs/benchmarks.md, branch ``rss`` second pass) out of it. Any other shape --
    an abbreviation, a repeat, a value that looks like an option, ``--help``, a bad level -- returns None, and
    argparse parses it as before, with its own messages."""
    if not argv or argv[0] != "run":
        return None
    seen: dict[str, str] = {}
    rest = argv[1:]
    while rest:
        flag, eq, value = rest[0].partition("=")
        if not eq:
            if len(rest) < 2:
                return None
            value, rest = rest[1], rest[2:]
        else:
            rest = rest[1:]
        if flag not in ("--config", "--log-level") or flag in seen or value.startswith("-"):
            return None
        seen[flag] = value
    if "--config" not in seen or seen.get("--log-level", "INFO") not in LOG_LEVELS:
        return None
    return RunArgs(Path(seen["--config"]), seen.get("--log-level", "INFO"))


def cmd_run(args: RunArgs | argparse.Namespace) -> int:
    bootstrap = _load(args.config)
    problems = deployment_problems(bootstrap)  # before anything opens: a missing file is not a retry loop
    if problems:
        print(ConfigError(args.config, problems), file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(level=getattr(logging, args.log_level), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("paho").setLevel(logging.WARNING)
    from edge_agent.wiring import KeyFileError, add_remote_config, build_agent

    config, source, trial = bootstrap, Path(args.config), None
    if bootstrap.remote_config.enabled:  # the config slots' module and models only where a push is allowed
        from edge_agent.fleet.remote_config import choose_boot_config

        boot = choose_boot_config(bootstrap, source)
        config, source, trial = boot.config, boot.source, boot.trial
    try:
        agent = build_agent(config)
    except KeyFileError as exc:
        print(ConfigError(source, [str(exc)]), file=sys.stderr)
        return EXIT_CONFIG
    except StorageError as exc:
        print(f"edge-agent: storage: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    add_remote_config(agent, config, trial)
    try:
        asyncio.run(agent.run())
    except (sqlite3.DatabaseError, StorageError) as exc:
        if not is_corruption(exc):
            raise
        agent.storage_failed(f"{type(exc).__name__}: {exc}")  # logged, and marked for the quarantine at restart
    if agent.storage_fault is not None:  # systemd restarts the agent; the open quarantines the file
        print(f"edge-agent: storage: the database is corrupt: {agent.storage_fault}", file=sys.stderr)
        return EXIT_STORAGE
    if agent.stop_for == "reconfigure":  # boot again with what the config slots say now, as the same process
        logging.shutdown()
        os.execv(sys.executable, sys.orig_argv)
    return EXIT_RESTART if agent.stop_for == "restart" else 0


def _db_path(args: argparse.Namespace) -> Path:
    """The agent's database, read through store/readonly.py only: the tools never write while the daemon runs."""
    path = _load(args.config).database_path()
    if not path.exists():
        print(f"edge-agent: no database at {path} (has the agent run with this config?)", file=sys.stderr)
        raise SystemExit(EXIT_STORAGE)
    return path


def cmd_status(args: argparse.Namespace) -> int:
    from edge_agent.store import readonly
    from edge_agent.store.quarantine import quarantined_from_meta

    if args.check_fence:
        return cmd_check_fence(args)
    path = _db_path(args)
    meta = readonly.meta(path)
    stats = readonly.outbox_stats(path)
    now = time.time()
    status_at = float(meta.get("status_at", "0") or 0)
    rejects = readonly.reject_counts(path)
    quarantined = quarantined_from_meta(meta)
    report = {
        "device": meta.get("device_id"),
        "epoch": meta.get("epoch"),
        "connection": meta.get("link_state", "never started"),
        "connection_detail": meta.get("link_detail", ""),
        "endpoint": meta.get("link_endpoint", ""),
        "status_age_s": round(now - status_at, 1) if status_at else None,
        "unconfirmed_ops": stats.total,
        "pending_ops": stats.pending,
        "sent_awaiting_confirmation": stats.sent,
        "oldest_unconfirmed_age_s": None
        if stats.oldest_created_at is None
        else round(now - stats.oldest_created_at, 1),
        "rejected_inputs": rejects,
        "counters": json.loads(meta.get("counters", "{}")),
        "quarantined_database": None if quarantined is None else asdict(quarantined),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if key != "counters":
                print(f"{key:28} {value}")
    return 0


def cmd_check_fence(args: argparse.Namespace) -> int:
    """Connects as this device and tries a platform-only topic: 0 refused (fenced), 1 accepted, 3 unreachable."""
    from edge_agent.contract.topics import Topics
    from edge_agent.fence_check import check_fence
    from edge_agent.wiring import KeyFileError, link_settings, read_password

    config = _load(args.config)
    problems = file_problems(config)
    try:
        password = read_password(config) if not problems else None
    except KeyFileError as exc:
        problems.append(str(exc))
    if problems:
        print(ConfigError(args.config, problems), file=sys.stderr)
        return EXIT_CONFIG
    topic = Topics(config.device.tenant, config.device.store, config.device.id).acks
    verdict = check_fence(link_settings(config, password), topic)
    if args.json:
        print(json.dumps(verdict.as_dict(), indent=2))
    else:
        where = f" at {verdict.endpoint}" if verdict.endpoint else ""
        print(f"fence {verdict.outcome}{where} (as {verdict.client_id}): {verdict.detail}")
    return verdict.exit_code


def cmd_basket_show(args: argparse.Namespace) -> int:
    from edge_agent.store import readonly

    out: dict[str, dict[str, object]] = {
        cart_id: {"lines": {line.sku: line.qty for line in lines}, "order_id": order_id}
        for cart_id, (lines, order_id) in readonly.baskets(_db_path(args), args.cart).items()
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for cart_id, basket in out.items():
        lines = basket["lines"]
        assert isinstance(lines, dict)
        sealed = f", checked out as order {basket['order_id']}" if basket["order_id"] else ""
        print(f"basket {cart_id}: {sum(lines.values())} item(s){sealed}")
        for sku, qty in lines.items():
            print(f"  {sku}  x{qty}")
    return 0


def cmd_catalog_lookup(args: argparse.Namespace) -> int:
    """What the device would show for a code, from its catalog cache (read-only; always labelled offline)."""
    from biip.rcn import RcnRegion

    from edge_agent.identifiers.gtin import InvalidCode
    from edge_agent.identifiers.product_key import parse_code
    from edge_agent.store import readonly

    config = _load(args.config)
    try:
        region = config.identifiers.rcn_region
        key = parse_code(args.code, rcn_region=RcnRegion(region) if region else None)
    except InvalidCode as exc:
        print(f"edge-agent: {args.code!r} is not a product code: {exc.reason}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    result = readonly.lookup_code(_db_path(args), key)
    if args.json:
        print(result.model_dump_json(indent=2, exclude_none=True))
        return 0 if result.found else 1
    if not result.found:
        print(f"{result.gtin14}: {result.reason}")
        return 1
    price = "no price" if result.price_minor is None else f"{result.price_minor / 100:.2f} {result.currency}"
    print(
        f"{result.gtin14}  {result.name}  {price} (as of {result.price_as_of})  "
        f"stock {result.stock} (as of {result.stock_as_of})"
    )
    for v in result.variants:
        print(f"  also {v.gtin14}  size {v.size}  colour {v.colour}  stock {v.stock}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        error = check_config_file(path, schema_only=args.schema_only).error()
        if error is not None:
            print(error, file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: ok" + (" (schema only: files and state directory not checked)" if args.schema_only else ""))
    return EXIT_CONFIG if failed else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Every check the config needs; exit 0 ok, 1 warn, 2 fail (README "Troubleshooting")."""
    from edge_agent.fleet.doctor import render_text, run_doctor

    report = run_doctor(args.config)
    print(report.model_dump_json(indent=2) if args.json else render_text(report))
    return report.exit_code


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from edge_agent.asyncapi import render_asyncapi

    text = render_asyncapi()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog="edge-agent", description="In-store edge agent")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--log-level", default="INFO", choices=list(LOG_LEVELS))
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="pending ops, oldest unconfirmed op, connection state")
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--check-fence",
        action="store_true",
        help="connect as this device and try a platform-only topic: exit 0 refused, 1 accepted (no ACL), 3 unreachable",
    )
    status.set_defaults(func=cmd_status)

    basket = sub.add_parser("basket", help="baskets held on this device")
    basket_sub = basket.add_subparsers(dest="basket_command", required=True)
    show = basket_sub.add_parser("show", help="print baskets")
    show.add_argument("--config", type=Path, required=True)
    show.add_argument("--cart")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_basket_show)

    catalog = sub.add_parser("catalog", help="the catalog cache on this device")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    look = catalog_sub.add_parser("lookup", help="what the device knows of a code: price, stock, as-of times")
    look.add_argument("code", help="any product code: GTIN, GS1 element string, Digital Link, scale label")
    look.add_argument("--config", type=Path, required=True)
    look.add_argument("--json", action="store_true")
    look.set_defaults(func=cmd_catalog_lookup)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser(
        "check", help="validate config files and, as the user running it, the files they name and the state directory"
    )
    check.add_argument("files", nargs="+", type=Path)
    check.add_argument(
        "--schema-only",
        action="store_true",
        help="keys and values only (a template on a machine that is not the device)",
    )
    check.set_defaults(func=cmd_config_check)

    doctor = sub.add_parser(
        "doctor", help="check config, storage, broker, readers and clock; exit 0 ok, 1 warn, 2 fail"
    )
    doctor.add_argument("--config", type=Path, required=True)
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=cmd_doctor)

    asyncapi = sub.add_parser("asyncapi", help="print (or --out) the AsyncAPI 3 document of the MQTT contract")
    asyncapi.add_argument("--out", type=Path)
    asyncapi.set_defaults(func=cmd_asyncapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    daemon = run_args(sys.argv[1:] if argv is None else argv)
    if daemon is not None:
        return cmd_run(daemon)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
