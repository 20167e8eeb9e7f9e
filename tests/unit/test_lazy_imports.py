"""A device imports only the libraries its config uses: a camera-only kiosk never loads BLE, NFC, biip or zbar."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from edge_agent.readers.scanner.config import ScannerConfig
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from tests.support.world import make_config, wait_until, write_config

REPO = Path(__file__).resolve().parents[2]

NOT_FOR_A_CAMERA_KIOSK = (
    *("bleak", "dbus_fast", "nfc", "ndef", "biip", "sqlite_utils", "pyzbar", "aiohttp", "segno", "serial", "evdev"),
)
"""Each weighs megabytes of heap or mapped code (docs/benchmarks.md, memory); none is used by this config."""
OTHER_READERS = (
    *("edge_agent.readers.ble", "edge_agent.readers.scanner", "edge_agent.presence", "edge_agent.sync.presence"),
)
"""The BLE and scanner sections' models, BLE's events and presence: ~0.4 MB of heap a device without those readers
never uses (edge_agent/config_lazy.py)."""
OTHER_ROLES = ("edge_agent.roles.handheld", "edge_agent.roles.mirror", "edge_agent.roles.shelf")
OTHER_ROLES_CONTRACT = ("edge_agent.contract.workflow", "edge_agent.contract.picking")
"""Shelf, tote, mirror, assist and picking commands and views: ~30 pydantic models each costing core-schema heap.
A kiosk sends workflow events (edge_agent.contract.workflow_event) and takes none of these."""

NOT_FOR_THE_DAEMON = ("argparse", "gettext", "edge_agent.fleet.remote_config", "edge_agent.store.readonly")
"""The command line's parser, the tools' database reader and the config slots of a push that this config does
not allow: ~0.6 MB that `edge-agent run` never calls (docs/benchmarks.md, branch ``rss`` second pass)."""

RUN = """
import atexit, json, sys
atexit.register(lambda: print("MODULES " + json.dumps(sorted(sys.modules)), flush=True))
from edge_agent.cli import main
raise SystemExit(main(sys.argv[1:]))
"""
"""`edge-agent run` as the unit starts it; the modules it loaded are printed as it exits after SIGTERM."""

BUILD = """
import json, sys
from edge_agent.config import load_config
from edge_agent.wiring import build_agent
build_agent(load_config(sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""


def test_building_a_camera_only_kiosk_imports_no_other_reader_nor_role(tmp_path: Path) -> None:
    config = write_config(make_config(tmp_path, 1883, video=tmp_path / "scan.avi"), tmp_path / "kiosk.toml")
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(config)], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert "cv2" in modules and "zxingcpp" in modules  # the probe works: what the config uses is there
    assert "edge_agent.roles.kiosk" in modules
    loaded = {m for m in modules if m.split(".")[0] in NOT_FOR_A_CAMERA_KIOSK or m.startswith(OTHER_ROLES)}
    assert loaded == set()
    assert {m for m in modules if m.startswith(OTHER_READERS)} == set()


def test_a_kiosk_builds_none_of_the_other_roles_contract_models(tmp_path: Path) -> None:
    config = write_config(make_config(tmp_path, 1883, video=tmp_path / "scan.avi"), tmp_path / "kiosk.toml")
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(config)], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert "edge_agent.contract.workflow_event" in modules  # the probe works: every role sends workflow events
    assert modules & set(OTHER_ROLES_CONTRACT) == set()


def test_a_kiosk_with_a_serial_scanner_loads_no_camera_library(tmp_path: Path) -> None:
    """pyserial itself is imported by the reader's thread as it starts (readers/scanner/reader.py)."""
    config = make_config(tmp_path, 1883)
    scanner = ScannerConfig(kind="serial", device="/dev/serial/by-id/usb-Acme_S1-if00")
    config = config.model_copy(update={"readers": config.readers.model_copy(update={"scanner": scanner})})
    path = write_config(config, tmp_path / "kiosk.toml")
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(path)], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert "edge_agent.readers.scanner.config" in modules  # the probe works: the config's section is there
    assert {m.split(".")[0] for m in modules} & {"cv2", "zxingcpp", "numpy", "evdev", "biip"} == set()


def test_the_daemon_loads_neither_argparse_nor_the_tools_modules(tmp_path: Path) -> None:
    video = write_scan_video(tmp_path / "scan.avi", demo_script(DEMO_CODES[:1], hold=4, gap=2), fps=30)
    config = write_config(make_config(tmp_path, 1883, video=video), tmp_path / "kiosk.toml")
    out = tmp_path / "agent.out"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, "run", "--config", str(config)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: "running: device" in out.read_text(errors="replace"), 60, "READY", details=out.read_text)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    lines = [line for line in out.read_text().splitlines() if line.startswith("MODULES ")]
    modules = set(json.loads(lines[-1].removeprefix("MODULES ")))
    assert "edge_agent.agent" in modules and "cv2" in modules  # the probe works: the daemon ran this config
    assert modules & set(NOT_FOR_THE_DAEMON) == set()
    assert {m for m in modules if m.startswith(OTHER_READERS)} == set()
