"""The commands store IT runs on a device read the database without writing to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_agent.domain.basket import AddItem
from edge_agent.store.device import DeviceStore
from tests.support.world import make_config, write_config

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_status_and_basket_show_report_what_the_database_holds(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1883)
    path = write_config(config, tmp_path / "kiosk.toml")
    store = DeviceStore.open(config.database_path(), "kiosk-01")
    store.record([AddItem("kiosk-01-basket", "04006381333931"), AddItem("kiosk-01-basket", "04006381333931")])
    store.close()
    status = json.loads(_run("status", "--config", str(path), "--json").stdout)
    assert status["unconfirmed_ops"] == 2 and status["pending_ops"] == 2
    assert status["oldest_unconfirmed_age_s"] is not None and status["connection"] == "never started"
    basket = json.loads(_run("basket", "show", "--config", str(path), "--json").stdout)
    assert basket["kiosk-01-basket"]["lines"] == {"04006381333931": 2}
    human = _run("basket", "show", "--config", str(path)).stdout
    assert "basket kiosk-01-basket: 2 item(s)" in human


def test_status_without_a_database_says_so_and_exits_3(tmp_path: Path) -> None:
    path = write_config(make_config(tmp_path, 1883), tmp_path / "kiosk.toml")
    result = _run("status", "--config", str(path))
    assert result.returncode == 3 and "no database" in result.stderr


def test_config_check_accepts_the_shipped_kiosk_config() -> None:
    result = _run("config", "check", "--schema-only", "device_config/kiosk.toml")
    assert result.returncode == 0 and "ok" in result.stdout
    # Without --schema-only it also checks the files the config names, as this machine's user sees them.
    if not Path("/etc/edge-agent/identity.pub").exists():
        on_this_machine = _run("config", "check", "device_config/kiosk.toml")
        assert on_this_machine.returncode == 2
        assert "identity.public_key_files: /etc/edge-agent/identity.pub: cannot be read" in on_this_machine.stderr
        assert "claim.key_file: /etc/edge-agent/claim.key: cannot be read" in on_this_machine.stderr


def test_run_with_an_unreadable_identity_key_names_the_file_and_the_key_and_opens_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1883)
    raw = config.model_dump(mode="json", exclude_none=True)
    missing = tmp_path / "no-such.key"
    raw["identity"] = {"key_files": [str(missing)]}
    path = write_config(type(config).model_validate(raw), tmp_path / "kiosk.toml")
    result = _run("run", "--config", str(path))
    assert result.returncode == 2
    assert str(path) in result.stderr and f"identity.key_files: {missing}: cannot be read" in result.stderr
    assert not config.database_path().exists(), "the database is not created for an agent that cannot start"
    missing.write_text("not hex at all")
    result = _run("run", "--config", str(path))
    assert result.returncode == 2 and "not a key; allowed: the key as hex digits" in result.stderr


def test_catalog_lookup_shows_what_the_device_would_show_with_as_of_times(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from edge_agent.contract.catalog import CatalogItem, CatalogUpdate

    config = make_config(tmp_path, 1883)
    path = write_config(config, tmp_path / "shelf.toml")
    store = DeviceStore.open(config.database_path(), "kiosk-01")
    when = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    item = CatalogItem(
        gtin14="04006381333931", version=1, name="Pencil", price_minor=199, currency="EUR", price_as_of=when, stock=12
    )
    store.apply_catalog(CatalogUpdate(version=1, items=[item]))
    store.close()
    shown = json.loads(_run("catalog", "lookup", "4006381333931", "--config", str(path), "--json").stdout)
    assert shown["found"] and shown["price_minor"] == 199 and shown["price_as_of"].startswith("2026-11-23T08:00")
    assert shown["offline"] is True, "the tool reads the cache, so it never claims the figures are live"
    assert _run("catalog", "lookup", "4006381333932", "--config", str(path)).returncode == 2  # bad check digit
    assert _run("catalog", "lookup", "5012345678900", "--config", str(path)).stdout.strip().endswith("not_in_catalog")


RUN_LINES = (
    ["run", "--config", "a.toml"],
    ["run", "--config=a.toml"],
    ["run", "--config", "a.toml", "--log-level", "DEBUG"],
    ["run", "--log-level=WARNING", "--config", "dir/a.toml"],
    ["run", "--config", ""],
)
"""How systemd units and people start the daemon: each is read without argparse."""
OTHER_LINES = (
    ["run", "--conf", "a.toml"],  # an abbreviation argparse allows
    ["run", "--config", "a.toml", "--config", "b.toml"],
    ["run", "--config", "a.toml", "--log-level", "TRACE"],
    ["run", "--config", "-a.toml"],
    ["run", "--config=-a.toml"],
    ["run", "--config"],
    ["run", "--help"],
    ["run"],
    ["run", "--config", "a.toml", "extra"],
    ["--version"],
    ["status", "--config", "a.toml"],
    [],
)
"""Left to argparse, which accepts some and refuses the others with its own message."""


def test_the_daemons_command_line_reads_as_argparse_reads_it() -> None:
    from edge_agent.cli import build_parser, run_args

    for argv in RUN_LINES:
        fast = run_args(argv)
        parsed = build_parser().parse_args(argv)
        assert fast is not None, argv
        assert (fast.config, fast.log_level) == (parsed.config, parsed.log_level), argv
    for argv in OTHER_LINES:
        assert run_args(argv) is None, argv
