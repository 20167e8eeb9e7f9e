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
SHIPPED_FILES = sorted(p for p in SYSTEMD_DIR.iterdir() if p.is_file())
# hardware.md §6 measures this unit at 1.5 with systemd 252; 2.0 leaves room for a justified
# addition (e.g. AF_BLUETOOTH) but fails if a hardening line is lost.
MAX_EXPOSURE = 2.0
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


def test_unit_verifies_without_warnings(tmp_path: Path) -> None:
    """`verify` also checks that ExecStart= exists, and /opt/edge-agent/venv only exists on an
    installed device, so a copy whose ExecStart= is /bin/true is verified instead; every other
    line is unchanged and the unit name stays the same.
    """
    text = UNIT.read_text()
    copy_text, replaced = re.subn(r"(?m)^ExecStart=.*$", f"ExecStart={EXISTING_BINARY}", text)
    assert replaced == 1
    copy = tmp_path / UNIT.name
    copy.write_text(copy_text)

    result = _run(_tool("systemd-analyze"), "verify", str(copy))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert _rejections(output) == []


def test_security_exposure_is_low() -> None:
    result = _run(_tool("systemd-analyze"), "security", "--offline=yes", str(UNIT))

    output = result.stdout + result.stderr
    assert _rejections(output) == []
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match is not None, output
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_sysusers_creates_every_group_the_unit_needs(tmp_path: Path) -> None:
    """A group in SupplementaryGroups= that does not exist fails the unit with 216/GROUP."""
    needed = {"edge-agent"}
    for line in _directive_lines(UNIT):
        key, _, value = line.partition("=")
        if key in ("User", "Group", "SupplementaryGroups"):
            needed.update(value.split())

    # An empty --root makes sysusers report everything it would create, touching nothing.
    result = _run(_tool("systemd-sysusers"), "--dry-run", f"--root={tmp_path}", str(SYSUSERS))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    created = set(re.findall(r"Creating group '([^']+)'", output))
    assert needed <= created, output
    assert "Creating user 'edge-agent'" in output
