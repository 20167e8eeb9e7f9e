"""`edge-agent doctor` on a handheld scanner: the serial port opens with real pyserial (a pty pair stands in for
the scanner), a missing or held port fails with the fix, and a wedge check lists the keyboards udev names by id
(CI has no /dev/input: the listing is checked on a directory laid out as udev lays /dev/input/by-id)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.fleet.doctor import CheckResult, run_doctor
from edge_agent.fleet.doctor_devices import ScannerCheck
from edge_agent.readers.scanner.serial_reader import open_serial
from simulators.broker import free_port
from tests.e2e.test_doctor import by_name, doctor_config
from tests.support.serial_scanner import PtyScanner


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[PtyScanner]:
    pty = PtyScanner(tmp_path / "usb-Acme_Scanner_S1-if00")
    yield pty
    pty.close()


def scanner_result(tmp_path: Path, **section: object) -> CheckResult:
    return by_name(run_doctor(doctor_config(tmp_path, free_port(), readers={"scanner": section})))["scanner"]


def test_a_serial_scanner_that_is_there_opens(tmp_path: Path, scanner: PtyScanner) -> None:
    result = scanner_result(tmp_path, kind="serial", device=str(scanner.link), baud=115200)
    assert result.verdict == "ok", result
    assert result.target == str(scanner.link) and "115200 baud" in result.detail


def test_a_missing_serial_scanner_fails_and_the_fix_names_by_id_and_dialout(tmp_path: Path) -> None:
    result = scanner_result(tmp_path, kind="serial", device=str(tmp_path / "no-such-scanner"))
    assert result.verdict == "fail"
    assert "/dev/serial/by-id" in result.fix and "dialout" in result.fix


def test_a_serial_scanner_the_agent_holds_fails_and_says_to_stop_the_agent(tmp_path: Path, scanner: PtyScanner) -> None:
    held = open_serial(str(scanner.link), 9600)  # as the running agent holds it: exclusively
    try:
        result = scanner_result(tmp_path, kind="serial", device=str(scanner.link))
    finally:
        held.close()
    assert result.verdict == "fail"
    assert "systemctl stop edge-agent" in result.fix


def test_a_wedge_check_lists_the_keyboards_by_id_so_store_it_can_pick_the_scanner(tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    for name in ("usb-Honeywell_Imaging_1950g-event-kbd", "usb-Dell_KB216-event-kbd", "usb-Logitech_M90-event-mouse"):
        (by_id / name).symlink_to("../event7")
    result = ScannerCheck("wedge", str(tmp_path / "event-kbd-gone"), 9600, by_id=by_id).run()
    assert result.verdict == "fail"
    assert f"{by_id}/usb-Dell_KB216-event-kbd, {by_id}/usb-Honeywell_Imaging_1950g-event-kbd" in result.detail
    assert "mouse" not in result.detail
    assert result.facts == {"keyboards": 2}
    assert "input group" in result.fix


def test_a_wedge_device_that_is_not_an_input_device_fails(tmp_path: Path, scanner: PtyScanner) -> None:
    result = scanner_result(tmp_path, kind="wedge", device=str(scanner.link))
    assert result.verdict == "fail"
    assert str(scanner.link) in result.detail and "keyboards by id" in result.detail


def test_the_doctor_plans_a_scanner_check_only_for_a_configured_scanner(tmp_path: Path) -> None:
    names = {r.name for r in run_doctor(doctor_config(tmp_path, free_port())).checks}
    assert "scanner" not in names
    off = {"kind": "serial", "device": os.devnull, "enabled": False}
    assert "scanner" not in by_name(run_doctor(doctor_config(tmp_path, free_port(), readers={"scanner": off})))
