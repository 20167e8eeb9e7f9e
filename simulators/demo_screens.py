"""The demo's screens: every demo agent serves its role's page on a free loopback port and the demo prints the URL
once the page answers, so a person can watch the scene in a browser while it plays.

``--screens`` drives each role's journey in headless Chromium instead and keeps a PNG per step: it runs the
real-browser tests (``pytest -m screens``, the one copy of each journey) with ``EDGE_AGENT_SCREENSHOTS`` set, which
``tests/support/browser.py``'s ``shoot()`` honours by also writing ``<dir>/<test module>/<step>.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

from simulators.broker import free_port

__all__ = ["announce_screen", "free_port", "run_screen_journeys", "screen_url", "with_screen"]

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS_ENV: Final = "EDGE_AGENT_SCREENSHOTS"
"""Where shoot() (tests/support/browser.py) also writes each step's PNG."""
SCREEN_UP_TIMEOUT_S: Final = 30.0
"""The agent binds its screen after storage and the link are set up: seconds on a laptop, more on a loaded CI."""
SCREEN_POLL_S: Final = 0.2
"""How often the demo asks whether the page answers yet: quick enough that the URL appears as soon as it works."""
SCREEN_REQUEST_TIMEOUT_S: Final = 2.0
"""One request to a loopback page: an answer takes milliseconds, so two seconds only ever means it is not up."""


def with_screen(config_text: str, port: int) -> str:
    """The config with its ``[screen]`` section (the device file's, if it has one) on the demo's loopback port."""
    kept = re.sub(r"(?ms)^\[screen\][ \t]*\n.*?(?=^\[|\Z)", "", config_text)
    return kept.rstrip("\n") + f'\n\n[screen]\nlisten = "127.0.0.1:{port}"\n'


def screen_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def announce_screen(role: str, url: str, agent: subprocess.Popen[bytes]) -> bool:
    """Print the screen's URL once its page answers; say so, and go on with the scene, if it never does."""
    deadline = time.monotonic() + SCREEN_UP_TIMEOUT_S
    while time.monotonic() < deadline and agent.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=SCREEN_REQUEST_TIMEOUT_S) as response:
                if response.status == 200:
                    print(f"demo: {role} screen {url} (open it in a browser while the scene plays)", flush=True)
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(SCREEN_POLL_S)
    print(f"demo: {role} screen {url} did not answer; see the agent log", flush=True)
    return False


def run_screen_journeys(out: Path, pytest_args: list[str]) -> int:
    """Every role's journey in headless Chromium (the ``screens`` tests), a PNG per step under ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "pytest", "-q", "-m", "screens", "-p", "no:cacheprovider", *pytest_args]
    print(f"demo: {' '.join(command[1:])}, screenshots under {out}", flush=True)
    result = subprocess.run(command, cwd=REPO, env=dict(os.environ, **{SCREENSHOTS_ENV: str(out)}), check=False)
    shots = sorted(out.rglob("*.png"))
    for shot in shots:
        print(f"   {shot.relative_to(out)}")
    print(f"demo: {len(shots)} screenshots under {out}", flush=True)
    return result.returncode
