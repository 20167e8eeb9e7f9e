"""`make demo` is part of the product: it must keep telling its story end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
