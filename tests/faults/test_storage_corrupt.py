"""A corrupt database (issue 15), on a real file against real Mosquitto: garbage over pages after the header, and
over page 1, found at open; and pages going bad under a running agent, found at run time. Each time the file is
moved aside with its WAL, unchanged, the agent runs on a new database with a new epoch, and `edge-agent status` and
the health message say where the old file went."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.cli import EXIT_STORAGE
from edge_agent.config import AgentConfig
from edge_agent.contract.health import DeviceHealth
from edge_agent.store import readonly
from simulators.broker import MosquittoBroker
from tests.support.wire import WireRecorder
from tests.support.world import REPO, AgentProcess, InProcessAgent, make_config, wait_until, write_config

GTINS = ["04006381333931", "09780201379624", "05901234123457"]
HEALTH = "rt/v1/acme/st/s042/dv/kiosk-01/health"
SQLITE_HEADER_BYTES = 100
"""The database header at the start of page 1 (page size at offset 16)."""


def page_size(path: Path) -> int:
    raw = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if raw == 1 else raw


def garbage_over(path: Path, first_page: int, last_page: int | None = None) -> None:
    """Random bytes over whole pages (1-based), written the way a failing card would: in place."""
    size = page_size(path)
    pages = path.stat().st_size // size
    last = pages if last_page is None else last_page
    with path.open("r+b") as f:
        f.seek((first_page - 1) * size)
        f.write(os.urandom((last - first_page + 1) * size))
        f.flush()
        os.fsync(f.fileno())


def files_of(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(db.parent.glob(db.name + "*"))}


def status_json(config: AgentConfig, tmp_path: Path) -> dict[str, object]:
    path = write_config(config, tmp_path / "status.toml")
    out = subprocess.run(
        [sys.executable, "-m", "edge_agent", "status", "--config", str(path), "--json"],
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    )
    report: dict[str, object] = json.loads(out.stdout)
    return report


def meta_now(db: Path) -> dict[str, str]:
    """The database's meta rows, or none while it cannot be read (corrupt, or not yet created)."""
    try:
        return readonly.meta(db)
    except sqlite3.Error:
        return {}


def run_and_scan(config: AgentConfig, gtins: list[str]) -> str:
    """An agent that saves scans the platform never confirms (no platform runs): they stay in the outbox."""
    agent = InProcessAgent(config).start()
    try:
        wait_until(lambda: agent.connected, 15, "connected")
        agent.scan(*gtins)
        wait_until(lambda: agent.outbox_total() == len(gtins), 10, "scans saved")
        return readonly.meta(agent.db_path)["epoch"]
    finally:
        agent.stop()


def health_on_connect(broker: MosquittoBroker, config: AgentConfig) -> tuple[InProcessAgent, DeviceHealth]:
    with WireRecorder(broker.host, broker.port) as recorder:
        agent = InProcessAgent(config).start()
        wait_until(lambda: bool(recorder.on(HEALTH)), 15, "a health message")
        return agent, DeviceHealth.model_validate(json.loads(recorder.on(HEALTH)[0].payload)["data"])


@pytest.mark.parametrize(
    ("first_page", "last_page", "reason"),
    [(2, None, "quick_check"), (1, 1, "not a database")],
    ids=["pages-after-the-header", "page-1"],
)
def test_a_database_corrupt_at_open_is_quarantined_unchanged_and_the_agent_runs_on_a_new_epoch(
    tmp_path: Path, broker: MosquittoBroker, first_page: int, last_page: int | None, reason: str
) -> None:
    config = make_config(tmp_path, broker.port)
    db = config.database_path()
    old_epoch = run_and_scan(config, GTINS)
    assert not Path(f"{db}-wal").exists(), "a clean stop checkpoints the WAL into the file"
    garbage_over(db, first_page, last_page)
    corrupt = db.read_bytes()

    agent, health = health_on_connect(broker, config)
    try:
        quarantine = health.storage.quarantine
        assert quarantine is not None and reason in quarantine.reason
        moved = Path(quarantine.path)
        assert moved.parent == db.parent and moved.name.startswith(db.name + ".corrupt-")
        assert moved.read_bytes() == corrupt, "the quarantined file is exactly the corrupt one"
        new_epoch = readonly.meta(db)["epoch"]
        assert new_epoch != old_epoch and health.outbox.unconfirmed_ops == 0
        agent.scan(GTINS[0])
        wait_until(lambda: agent.outbox_total() == 1, 10, "a scan saved on the new database")
        report = status_json(config, tmp_path)
        assert report["epoch"] == new_epoch
        assert report["quarantined_database"] == {
            "path": str(moved),
            "reason": quarantine.reason,
            "at": quarantine.at.isoformat(),
        }
    finally:
        agent.stop()
    assert moved.read_bytes() == corrupt, "nothing writes to the quarantined file"


def test_pages_going_bad_under_a_running_agent_stop_it_with_the_storage_exit_code_and_the_restart_quarantines(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    config = make_config(tmp_path, broker.port)
    db = config.database_path()
    old_epoch = run_and_scan(config, GTINS)
    process = AgentProcess(config, tmp_path).start()
    wait_until(lambda: meta_now(db).get("link_state") == "online", 20, "the agent online", details=process.log_text)
    with sqlite3.connect(db) as other:  # every page into the main file, so the agent reads them from there
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    garbage_over(db, 2)
    assert process.proc is not None
    # The heartbeat writes the status rows every few seconds: that write meets the bad pages.
    wait_until(
        lambda: process.proc is not None and process.proc.poll() is not None,
        30,
        "the agent to stop",
        details=process.log_text,
    )
    assert process.proc.returncode == EXIT_STORAGE, process.log_text()
    assert "corrupt" in process.log_text()
    corrupt = files_of(db)

    process.start()  # what systemd's Restart=on-failure does
    try:
        wait_until(lambda: "quarantine" in meta_now(db), 20, "a quarantine", details=process.log_text)
        wait_until(lambda: meta_now(db).get("link_state") == "online", 20, "online again", details=process.log_text)
        meta = readonly.meta(db)
        quarantine = json.loads(meta["quarantine"])
        assert meta["epoch"] != old_epoch and "found corrupt at run time" in quarantine["reason"]
        moved = Path(quarantine["path"])
        assert moved.read_bytes() == corrupt[db.name], "the quarantined file is the one the agent left"
        for suffix in ("-wal", "-shm"):
            if db.name + suffix in corrupt:
                assert Path(f"{moved}{suffix}").read_bytes() == corrupt[db.name + suffix]
    finally:
        assert process.stop() == 0
