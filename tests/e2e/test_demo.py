"""`make demo` is part of the product: it must keep telling its story end to end, and while it plays every
role's own screen is served on loopback with its URL printed (the screenshots of `--screens` are the screen tests'
own: `pytest -m screens`)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROLES = ("shelf", "associate-handheld", "fitting-room-mirror")
DEMO_TIMEOUT_S = 240
"""What one demo may take on a loaded CI machine (alone it plays in about 15 s)."""


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    out: Path
    """stdout, and stderr beside it (``.err``), to files: a pipe nobody reads yet would stall a demo that prints
    much."""


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Demo]]:
    """The kiosk story and every role's scene, started together: each is its own broker, platform and agent on
    free ports with a private system bus, and mostly waits on them, so they play side by side (the module takes
    about the longest one, not the sum). Each test reads its own demo's output."""
    root = tmp_path_factory.mktemp("demos")
    commands = {"kiosk": ["--quiet", "--workdir", str(root / "kiosk")]}
    commands |= {role: ["--role", role, "--quiet", "--workdir", str(root / role)] for role in ROLES}
    started = {}
    for name, args in commands.items():
        out = root / f"{name}.out"
        with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
            command = [sys.executable, "-m", "simulators.demo", *args]
            started[name] = Demo(subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr), out)
    yield started
    for demo in started.values():
        if demo.process.poll() is None:
            demo.process.kill()
        demo.process.wait()


def played(demo: Demo) -> str:
    """The demo's stdout once it ended, which must be with success."""
    returncode = demo.process.wait(timeout=DEMO_TIMEOUT_S)
    stdout = demo.out.read_text()
    assert returncode == 0, stdout[-3000:] + demo.out.with_suffix(".err").read_text()[-3000:]
    return stdout


def screen_urls(stdout: str, role: str) -> list[str]:
    """The URLs the demo printed for the role's screen, each once its page answered."""
    pattern = rf"^demo: {re.escape(role)} screen (http://127\.0\.0\.1:\d+/) \(open it in a browser"
    return re.findall(pattern, stdout, flags=re.MULTILINE)


def test_the_demo_plays_the_guest_to_shopper_story_and_the_carts_converge(
    demos: dict[str, Demo],
) -> None:
    stdout = played(demos["kiosk"])
    steps = [line for line in stdout.splitlines() if line.startswith("== ")]
    assert len(steps) == 5 and "app" in steps[0] and "loyalty card" in steps[2] and "confirms" in steps[3]
    assert "preview" in stdout and "demo: OK" in stdout
    assert len(screen_urls(stdout, "kiosk")) == 1, "the kiosk's screen URL, once it answered"
    assert "did not answer" not in stdout


@pytest.mark.parametrize("role", ROLES)
def test_each_device_role_has_a_demo_scene_that_plays_end_to_end(demos: dict[str, Demo], role: str) -> None:
    stdout = played(demos[role])
    assert f"demo: OK -- the {role} scene played end to end." in stdout
    assert len([line for line in stdout.splitlines() if line.startswith("== ")]) >= 3
    assert len(screen_urls(stdout, role)) == 1, f"the {role}'s screen URL, once it answered"
    assert "did not answer" not in stdout
