"""The shipped systemd/udev/modprobe/sysusers files, checked with systemd's own tools.

systemd silently drops a directive it cannot parse (logging "…, ignoring") while the unit still
starts and the security score does not move, so a typo would quietly remove a sandbox rule.
These tests turn every such warning into a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "edge-agent.service"
SYSUSERS = SYSTEMD_DIR / "edge-agent.sysusers"
SCREEN_UNIT = SYSTEMD_DIR / "edge-agent-screen.service"
SCREEN_SYSUSERS = SYSTEMD_DIR / "edge-agent-screen.sysusers"
UNITS_WITH_USERS = [(UNIT, SYSUSERS), (SCREEN_UNIT, SCREEN_SYSUSERS)]
SHIPPED_FILES = sorted(p for p in SYSTEMD_DIR.iterdir() if p.is_file())
# hardware.md §6 measures this unit at 1.5 with systemd 252; 2.0 leaves room for a justified
# addition (e.g. AF_BLUETOOTH) but fails if a hardening line is lost.
MAX_EXPOSURE = 2.0
# The screen's browser needs what the agent does not (a JIT, its own namespace sandbox, the display and touch
# devices; the unit says why for each): measured at 2.4 with systemd 252, 3.0 fails if a hardening line is lost.
MAX_SCREEN_EXPOSURE = 3.0
EXPOSURE_CEILINGS = {UNIT: MAX_EXPOSURE, SCREEN_UNIT: MAX_SCREEN_EXPOSURE}
# Words systemd uses when it throws away part of a unit.
REJECTION_WORDS = ("ignoring", "unknown")
EXISTING_BINARY = "/bin/true"
TOOL_TIMEOUT_S = 60


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: it ships with systemd, which Debian and Raspberry Pi OS install by default")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)


def _rejections(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(w in line.lower() for w in REJECTION_WORDS)]


def _directive_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and line.strip()[0] not in "#;"]


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.name)
def test_no_trailing_comments(path: Path) -> None:
    """None of these formats has end-of-line comments; systemd drops such a line entirely."""
    offending = [line for line in _directive_lines(path) if "#" in line]
    assert offending == []


@pytest.mark.parametrize("unit", list(EXPOSURE_CEILINGS), ids=lambda p: p.name)
def test_unit_verifies_without_warnings(tmp_path: Path, unit: Path) -> None:
    """`verify` also checks that ExecStart= (and ExecStartPre=) exist, and /opt/edge-agent/venv, cage and
    chromium only exist on an installed device, so a copy whose commands are /bin/true is verified instead;
    every other line is unchanged and the unit name stays the same. Every shipped unit is copied beside it, so
    the screen's dependency on the agent's unit resolves.
    """
    for shipped in EXPOSURE_CEILINGS:
        copy_text, replaced = re.subn(r"(?m)^(ExecStart(?:Pre)?)=.*$", rf"\1={EXISTING_BINARY}", shipped.read_text())
        assert replaced >= 1
        (tmp_path / shipped.name).write_text(copy_text)
    copy = tmp_path / unit.name

    result = _run(_tool("systemd-analyze"), "verify", str(copy))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert _rejections(output) == []


@pytest.mark.parametrize("unit", list(EXPOSURE_CEILINGS), ids=lambda p: p.name)
def test_security_exposure_is_low(unit: Path) -> None:
    result = _run(_tool("systemd-analyze"), "security", "--offline=yes", str(unit))

    output = result.stdout + result.stderr
    assert _rejections(output) == []
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match is not None, output
    assert float(match.group(1)) <= EXPOSURE_CEILINGS[unit], output


@pytest.mark.parametrize(("unit", "sysusers"), UNITS_WITH_USERS, ids=lambda p: p.name)
def test_sysusers_creates_every_group_the_unit_needs(tmp_path: Path, unit: Path, sysusers: Path) -> None:
    """A group in SupplementaryGroups= that does not exist fails the unit with 216/GROUP."""
    user = unit.stem
    needed = {user}
    for line in _directive_lines(unit):
        key, _, value = line.partition("=")
        if key in ("User", "Group", "SupplementaryGroups"):
            needed.update(value.split())

    # An empty --root makes sysusers report everything it would create, touching nothing.
    result = _run(_tool("systemd-sysusers"), "--dry-run", f"--root={tmp_path}", str(sysusers))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    created = set(re.findall(r"Creating group '([^']+)'", output))
    assert needed <= created, output
    assert f"Creating user '{user}'" in output


def test_the_screen_runs_after_the_agent_and_only_while_it_runs() -> None:
    """The page token changes with every agent start: the browser starts after the agent, stops with it, and the
    agent starting (after a crash too) starts it again, so the page it shows always holds the current token."""
    lines = _directive_lines(SCREEN_UNIT)
    after = " ".join(line.partition("=")[2] for line in lines if line.startswith("After="))
    assert "edge-agent.service" in after.split()
    assert "BindsTo=edge-agent.service" in lines and "WantedBy=edge-agent.service" in lines
    start = next(line for line in lines if line.startswith("ExecStart="))
    assert "/usr/bin/chromium --kiosk --app=http://127.0.0.1:8080/" in start and "--incognito" in start
    assert "User=edge-agent-screen" in lines, "never the agent's user: the browser cannot read its keys"
