"""`edge-agent doctor`: finds what is wrong on a device before anyone drives to the store.

Each check is a small object behind one interface (:class:`Check`: a name, what it looks at, a timeout and
``run() -> Finding``). The runner starts every check the config needs in a daemon thread and waits for each
no longer than its timeout, so one wedged driver cannot hang the doctor; it returns a pydantic
:class:`DoctorReport` that the CLI prints (and that a remote request over MQTT can carry as it is).

The verdict is the worst check's; the exit code follows it: 0 ok, 1 warn, 2 fail.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from edge_agent import __version__
from edge_agent.config import AgentConfig
from edge_agent.config_files import CheckedConfig, check_config_file
from edge_agent.fleet import doctor_const as const

__all__ = [
    "Check",
    "CheckResult",
    "DoctorReport",
    "Fact",
    "Finding",
    "Verdict",
    "fail",
    "ok",
    "plan_checks",
    "render_text",
    "report_of",
    "run_checks",
    "run_doctor",
    "warn",
]

Verdict = Literal["ok", "warn", "fail"]
_RANK: Mapping[Verdict, int] = {"ok": 0, "warn": 1, "fail": 2}
_EXIT: Mapping[Verdict, int] = {"ok": const.EXIT_OK, "warn": const.EXIT_WARN, "fail": const.EXIT_FAIL}
Fact = str | int | float | bool | None


@dataclass(frozen=True)
class Finding:
    """What one check found: its verdict, what it saw (detail) and, unless ok, what store IT should do (fix)."""

    verdict: Verdict
    detail: str
    fix: str = ""
    facts: Mapping[str, Fact] = field(default_factory=dict)


def ok(detail: str, **facts: Fact) -> Finding:
    return Finding("ok", detail, "", facts)


def warn(detail: str, fix: str, **facts: Fact) -> Finding:
    return Finding("warn", detail, fix, facts)


def fail(detail: str, fix: str, **facts: Fact) -> Finding:
    return Finding("fail", detail, fix, facts)


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    return max(verdicts, key=_RANK.__getitem__, default="ok")


def combine(findings: Sequence[Finding], ok_detail: str, **facts: Fact) -> Finding:
    """Several problems of one check as one finding: the worst verdict, every problem's detail and fix."""
    bad = [f for f in findings if f.verdict != "ok"]
    if not bad:
        return ok(ok_detail, **facts)
    return Finding(
        worst([f.verdict for f in bad]),
        "; ".join(f.detail for f in bad),
        "; ".join(f.fix for f in bad if f.fix),
        facts,
    )


class Check(Protocol):
    """One thing the doctor looks at. ``run`` does bounded I/O of its own and may raise: the runner turns an
    exception or an overrun of ``timeout_s`` into a ``fail``."""

    @property
    def name(self) -> str:
        """Stable id in the report: config, state_dir, wal, database, broker, client_certificate, camera, nfc,
        ble, clock."""
        ...

    @property
    def target(self) -> str:
        """What it looks at (a path, host:port, an adapter), to tell two checks of one name apart."""
        ...

    @property
    def timeout_s(self) -> float: ...

    def run(self) -> Finding: ...


class CheckResult(BaseModel):
    """One line of the report. Field names are stable: scripts and the platform read them."""

    model_config = ConfigDict(frozen=True)

    name: str
    target: str
    verdict: Verdict
    detail: str = Field(description="what the check found")
    fix: str = Field(default="", description="what store IT should do; empty when ok")
    facts: dict[str, Fact] = Field(default_factory=dict, description="numbers behind the verdict, e.g. free_bytes")


class DoctorReport(BaseModel):
    """`edge-agent doctor --json`."""

    model_config = ConfigDict(frozen=True)

    version: str
    config: str
    device: str | None
    verdict: Verdict
    exit_code: int = Field(description="0 ok, 1 warn, 2 fail: the worst check's verdict")
    checks: list[CheckResult]


@dataclass(frozen=True)
class ConfigCheck:
    """The config as `edge-agent config check` judges it (already loaded: the plan depends on it)."""

    checked: CheckedConfig
    name: str = "config"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.checked.path)

    def run(self) -> Finding:
        if not self.checked.problems:
            return ok("valid, and the files it names are usable")
        fix = f"correct the keys named, then run `edge-agent config check {self.checked.path}`"
        if self.checked.config is None:
            fix += "; no other check could run without a valid config"
        return fail("; ".join(self.checked.problems), fix)


def _guarded(check: Check, out: list[Finding | None], index: int) -> None:
    try:
        out[index] = check.run()
    except Exception as exc:  # a check that breaks is a finding, never a traceback for store IT
        out[index] = fail(
            f"the check could not run: {type(exc).__name__}: {exc}",
            "run the doctor again; if it repeats, report it with this output",
        )


def run_checks(checks: Sequence[Check]) -> list[CheckResult]:
    """Every check at once, each in a daemon thread, each waited for at most its timeout_s (from the start)."""
    found: list[Finding | None] = [None] * len(checks)
    threads = [
        threading.Thread(target=_guarded, args=(check, found, i), name=f"doctor-{check.name}", daemon=True)
        for i, check in enumerate(checks)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    results = []
    for i, (check, thread) in enumerate(zip(checks, threads, strict=True)):
        thread.join(max(0.0, started + check.timeout_s - time.monotonic()))
        finding = found[i] if not thread.is_alive() else None
        if finding is None:
            finding = fail(
                f"no answer within {check.timeout_s:g} s (abandoned)",
                f"the {check.name} check hung: the device or service behind {check.target} does not answer; "
                "restart it, or reboot the device",
            )
        results.append(
            CheckResult(
                name=check.name,
                target=check.target,
                verdict=finding.verdict,
                detail=finding.detail,
                fix=finding.fix,
                facts=dict(finding.facts),
            )
        )
    return results


def plan_checks(checked: CheckedConfig) -> list[Check]:
    """Only what this config needs: no camera check on a device without a camera, no TLS without [mqtt.tls]."""
    from edge_agent.fleet import doctor_broker, doctor_clock, doctor_devices, doctor_storage

    checks: list[Check] = [ConfigCheck(checked)]
    config: AgentConfig | None = checked.config
    if config is None:
        return checks
    db = config.database_path()
    checks += [
        doctor_storage.StateDirCheck(db.parent),
        doctor_storage.WalCheck(db.parent),
        doctor_storage.DatabaseCheck(db),
    ]
    checks += doctor_broker.broker_checks(config)
    readers = config.readers
    if readers.barcode is not None and readers.barcode.enabled:
        checks.append(doctor_devices.CameraCheck(readers.barcode.source))
    if readers.nfc is not None and readers.nfc.enabled:
        checks.append(doctor_devices.NfcCheck(readers.nfc.path))
    if readers.ble is not None and readers.ble.enabled:
        checks.append(doctor_devices.BleCheck(readers.ble.adapter))
    if readers.scanner is not None and readers.scanner.enabled:
        scanner = readers.scanner
        checks.append(doctor_devices.ScannerCheck(scanner.kind, scanner.device, scanner.serial_baud))
    checks.append(doctor_clock.ClockCheck())
    return checks


def run_doctor(config_path: Path, environ: Mapping[str, str] = os.environ) -> DoctorReport:
    checked = check_config_file(config_path, environ=environ)
    return report_of(checked, run_checks(plan_checks(checked)))


def report_of(checked: CheckedConfig, results: list[CheckResult]) -> DoctorReport:
    verdict = worst([r.verdict for r in results])
    return DoctorReport(
        version=__version__,
        config=str(checked.path),
        device=None if checked.config is None else checked.config.device.id,
        verdict=verdict,
        exit_code=_EXIT[verdict],
        checks=results,
    )


def render_text(report: DoctorReport) -> str:
    """One line per check (verdict, check, target, detail, then the fix), and a last line with the verdict."""
    lines = []
    for r in report.checks:
        fix = f" -> fix: {r.fix}" if r.fix else ""
        lines.append(f"{r.verdict.upper():4}  {r.name:18} {r.target}: {r.detail}{fix}")
    counts = {v: sum(r.verdict == v for r in report.checks) for v in ("fail", "warn", "ok")}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    lines.append(f"doctor: {report.verdict} ({summary}); exit {report.exit_code}")
    return "\n".join(lines)
