"""SIGTERM stops `edge-agent run` with its clean exit code, whatever the agent was doing: systemd waits
TimeoutStopSec and then kills, so a stop that hangs is a stop that loses the offline status and the WAL's tidy-up.

Each start scans a camera video (saved scans and PUBACKs keep waking the pump, the link may still be connecting)
and is stopped at a different moment of it. A stop that hung is killed by ``AgentProcess.stop`` (exit -9).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from simulators.broker import free_port
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import AgentProcess, make_config, wait_until

STARTS = 5


def test_sigterm_stops_the_agent_with_its_clean_exit_code_at_every_moment_of_a_scan(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform
) -> None:
    video = write_scan_video(tmp_path / "kiosk.avi", demo_script(DEMO_CODES, hold=6, gap=4), fps=30, seed=5)
    config = make_config(tmp_path, broker.port, video=video)
    assert config.readers.barcode is not None
    config.readers.barcode.pace = True  # played as a live camera: scans arrive while the agent stops
    proc = AgentProcess(config, tmp_path)
    codes: list[int] = []
    for start in range(STARTS):
        proc.start()
        moment = "mqtt: connected" if start % 2 else "running: device"  # the link up, or still connecting
        wait_until(lambda m=moment, log=proc.log_path: m in log.read_text(errors="replace"), 30, moment)  # type: ignore[misc]
        codes.append(proc.stop())
    assert codes == [0] * STARTS, f"exit codes {codes} (-9: it did not stop and was killed)\n{proc.log_text()}"


def test_a_clean_stop_leaves_every_saved_scan_where_an_earlier_release_reads_it(tmp_path: Path) -> None:
    """Offline, nothing is confirmed, so each scan's entry is held in its outbox row only (store/held.py); after
    SIGTERM the file's cart_entries list them all, as a fleet rollback's earlier release reads the basket."""
    video = write_scan_video(tmp_path / "kiosk.avi", demo_script(DEMO_CODES[:2], hold=6, gap=4), fps=30, seed=5)
    config = make_config(tmp_path, free_port(), video=video)  # no broker there: the uplink is down
    proc = AgentProcess(config, tmp_path)
    proc.start()
    wait_until(lambda: proc.log_text().count("saved entry.add") >= 2, 30, "both scans saved")
    assert proc.stop() == 0, proc.log_text()
    db = sqlite3.connect(proc.db_path)
    entries = dict(db.execute("SELECT entry_id, sku FROM cart_entries").fetchall())
    unsent = [json.loads(body) for (body,) in db.execute("SELECT body FROM outbox WHERE kind = 'entry.add'")]
    db.close()
    assert len(unsent) >= 2, "nothing was confirmed: every scan is still to be sent"
    assert entries == {op["op_id"]: op["sku"] for op in unsent}, "each unsent scan's line is in cart_entries"
    assert set(entries.values()) == {"0" + code for code in DEMO_CODES[:2]}
