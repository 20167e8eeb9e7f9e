"""`make demo` is part of the product: it must keep telling its story end to end, and while it plays every
role's own screen is served on loopback with its URL printed (the screenshots of `--screens` are the screen tests'
own: `pytest -m screens`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def screen_urls(stdout: str, role: str) -> list[str]:
    """The URLs the demo printed for the role's screen, each once its page answered."""
    pattern = rf"^demo: {re.escape(role)} screen (http://127\.0\.0\.1:\d+/) \(open it in a browser"
    return re.findall(pattern, stdout, flags=re.MULTILINE)


def test_the_demo_plays_the_guest_to_shopper_story_and_the_carts_converge(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators.demo", "--quiet", "--workdir", str(tmp_path / "demo")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith("== ")]
    assert len(steps) == 5 and "app" in steps[0] and "loyalty card" in steps[2] and "confirms" in steps[3]
    assert "preview" in result.stdout and "demo: OK" in result.stdout
    assert len(screen_urls(result.stdout, "kiosk")) == 1, "the kiosk's screen URL, once it answered"
    assert "did not answer" not in result.stdout


@pytest.mark.parametrize("role", ["shelf", "associate-handheld", "fitting-room-mirror"])
def test_each_device_role_has_a_demo_scene_that_plays_end_to_end(tmp_path: Path, role: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators.demo", "--role", role, "--quiet", "--workdir", str(tmp_path / role)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"demo: OK -- the {role} scene played end to end." in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.startswith("== ")]) >= 3
    assert len(screen_urls(result.stdout, role)) == 1, f"the {role}'s screen URL, once it answered"
    assert "did not answer" not in result.stdout
