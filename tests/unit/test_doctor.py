"""The doctor's runner: verdicts, exit codes, the plan a config makes, and that no check can hang it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from edge_agent.config_files import CheckedConfig
from edge_agent.fleet.doctor import (
    Check,
    DoctorReport,
    Finding,
    fail,
    ok,
    plan_checks,
    render_text,
    report_of,
    run_checks,
    warn,
)


@dataclass(frozen=True)
class Fixed:
    finding: Finding
    name: str = "fixed"
    target: str = "here"
    timeout_s: float = 5.0

    def run(self) -> Finding:
        return self.finding


@dataclass(frozen=True)
class Hangs:
    """A check whose device never answers (a wedged driver): it waits until the test ends."""

    release: threading.Event
    name: str = "hangs"
    target: str = "/dev/wedged"
    timeout_s: float = 0.2

    def run(self) -> Finding:
        self.release.wait()
        return ok("too late")


@dataclass(frozen=True)
class Breaks:
    name: str = "breaks"
    target: str = "x"
    timeout_s: float = 5.0

    def run(self) -> Finding:
        raise RuntimeError("a bug")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def _report(*checks: Check) -> DoctorReport:
    checked = CheckedConfig(Path("x.toml"), None, [])
    return report_of(checked, run_checks(checks))


@pytest.mark.parametrize(
    ("findings", "verdict", "exit_code"),
    [
        ([ok("a"), ok("b")], "ok", 0),
        ([ok("a"), warn("b", "do b")], "warn", 1),
        ([warn("a", "do a"), fail("b", "do b"), ok("c")], "fail", 2),
    ],
)
def test_the_worst_check_decides_the_verdict_and_the_exit_code(
    findings: list[Finding], verdict: str, exit_code: int
) -> None:
    report = _report(*(Fixed(f, name=f"c{i}") for i, f in enumerate(findings)))
    assert (report.verdict, report.exit_code) == (verdict, exit_code)
    assert [r.name for r in report.checks] == [f"c{i}" for i in range(len(findings))]  # the plan's order


def test_a_check_that_hangs_is_a_failure_and_the_others_still_report(release: threading.Event) -> None:
    report = _report(Hangs(release), Fixed(ok("fine")))
    hung, fine = report.checks
    assert hung.verdict == "fail"
    assert "no answer within 0.2 s" in hung.detail
    assert "/dev/wedged" in hung.fix
    assert fine.verdict == "ok"


def test_a_check_that_raises_is_a_failure_with_the_exception_named() -> None:
    (broken,) = _report(Breaks()).checks
    assert broken.verdict == "fail"
    assert "RuntimeError: a bug" in broken.detail


def test_the_json_has_stable_field_names() -> None:
    report = _report(Fixed(warn("expires soon", "renew", days_to_expiry=3)))
    data = report.model_dump(mode="json")
    assert set(data) == {"version", "config", "device", "verdict", "exit_code", "checks"}
    assert data["checks"] == [
        {
            "name": "fixed",
            "target": "here",
            "verdict": "warn",
            "detail": "expires soon",
            "fix": "renew",
            "facts": {"days_to_expiry": 3},
        }
    ]
    assert DoctorReport.model_validate_json(report.model_dump_json()) == report


def test_the_text_is_one_line_per_check_then_the_verdict() -> None:
    text = render_text(_report(Fixed(ok("fine"), name="a"), Fixed(fail("broken", "mend it"), name="b")))
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("OK    a")
    assert lines[1].startswith("FAIL  b") and lines[1].endswith("broken -> fix: mend it")
    assert lines[2] == "doctor: fail (1 fail, 1 ok); exit 2"


def _config(**extra: Any) -> CheckedConfig:
    raw: dict[str, Any] = {
        "device": {"id": "shelf-01", "tenant": "acme", "store": "s042", "role": "shelf"},
        "storage": {"path": "/var/lib/edge-agent/agent.db"},
        "mqtt": {"endpoints": [{"host": "a", "port": 1883}, {"host": "b", "port": 1883}]},
        **extra,
    }
    return CheckedConfig(Path("shelf.toml"), AgentConfig.model_validate(raw), [])


def test_only_the_checks_the_config_needs_are_planned() -> None:
    names = [c.name for c in plan_checks(_config())]
    assert names == ["config", "state_dir", "wal", "database", "broker", "broker", "fence", "clock"]
    readers = {
        "barcode": {"source": "/dev/video0", "enabled": False},
        "nfc": {"path": "usb"},
        "ble": {"adapter": "hci1"},
    }
    tls = {"ca_file": "/etc/edge-agent/ca.pem", "cert_file": "/etc/c.pem", "key_file": "/etc/c.key"}
    config = _config(readers=readers, mqtt={"endpoints": [{"host": "a", "port": 8883}], "tls": tls})
    planned = {(c.name, c.target) for c in plan_checks(config)}
    assert ("camera", "/dev/video0") not in planned  # disabled
    assert {("nfc", "usb"), ("ble", "hci1"), ("client_certificate", "/etc/c.pem"), ("broker", "a:8883")} <= planned


def test_a_config_that_does_not_load_plans_the_config_check_alone() -> None:
    checked = CheckedConfig(Path("bad.toml"), None, ["mqtt: Field required"])
    (only,) = plan_checks(checked)
    result = only.run()
    assert (only.name, result.verdict) == ("config", "fail")
    assert "mqtt: Field required" in result.detail
