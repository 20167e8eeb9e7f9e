"""A real browser for the screens' tests: Debian's Chromium driven by Selenium through Debian's chromedriver
(the pair the bootstrap installs; ``playwright install`` cannot download browsers here), plus the few helpers
every screen test reads the page with. Screenshots go to the test's tmp dir as artefacts (and, for the demo's
``--screens``, also to ``$EDGE_AGENT_SCREENSHOTS``)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent.config import AgentConfig
from simulators.broker import free_port as free_port  # the screens' tests take their ports from here
from simulators.demo_screens import SCREENSHOTS_ENV
from tests.support.axe import assert_accessible
from tests.support.world import InProcessAgent, wait_until

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
MIN_SCREENSHOT_BYTES = 1000
"""An all-white 1080x1920 PNG is a few kilobytes; anything smaller is an error page or nothing at all."""


def with_screen(config: AgentConfig, screen_port: int, **screen: Any) -> AgentConfig:
    """The config with a ``[screen]`` section on a free loopback port (the attract screen kept away)."""
    raw: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    raw["screen"] = {"listen": f"127.0.0.1:{screen_port}", "attract_after_s": 3600, **screen}
    return AgentConfig.model_validate(raw)


@dataclass(frozen=True)
class ScreenAgent:
    """An agent serving its screen, and the screen's address (tests also post to its ``actions`` and fetch files)."""

    agent: InProcessAgent
    url: str

    def open(self, browser: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
        """The page open in the browser, its script ready; returns the page's waiter."""
        return open_page(browser, self.url)


def connected(agent: InProcessAgent) -> bool:
    return agent.connected


def catalog_in(agent: InProcessAgent) -> bool:
    """Connected with the platform's first catalog cached, so a scan or tap finds its item."""
    return agent.connected and agent.catalog_version() == 1


def start_screen_agent(
    agent_factory: Callable[[AgentConfig], InProcessAgent],
    config: AgentConfig,
    ready: Callable[[InProcessAgent], bool] = connected,
    what: str = "agent connected",
    timeout: float = 10,
) -> ScreenAgent:
    """The agent started with its screen on a free port and ``ready`` (e.g. connected, its catalog in); the page is
    opened later with ``.open(browser)``, once the test has set the platform up."""
    screen_port = free_port()
    agent = agent_factory(with_screen(config, screen_port))
    wait_until(lambda: ready(agent), timeout, what)
    return ScreenAgent(agent, f"http://127.0.0.1:{screen_port}/")


def screen_agent(
    agent_factory: Callable[[AgentConfig], InProcessAgent],
    browser: webdriver.Chrome,
    config: AgentConfig,
    ready: Callable[[InProcessAgent], bool] = connected,
    what: str = "agent connected",
    timeout: float = 10,
) -> tuple[InProcessAgent, WebDriverWait[webdriver.Chrome]]:
    """``start_screen_agent`` with its page open at once; the agent and the page's waiter."""
    screen = start_screen_agent(agent_factory, config, ready, what, timeout)
    return screen.agent, screen.open(browser)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def chromium(profile: Path) -> webdriver.Chrome:
    """Headless Debian Chromium with its own profile directory (the fixture's, or a bench's)."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "apt-get install chromium chromium-driver (bootstrap.sh)"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1080,1920",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def open_page(driver: webdriver.Chrome, url: str, timeout: float = 20) -> WebDriverWait[webdriver.Chrome]:
    """Load a screen and wait until its script has its messages and its live stream has brought the device's
    current views (a press before them races the first render, which may move the button away); returns the
    waiter."""
    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    body = (By.TAG_NAME, "body")
    wait.until(lambda d: d.find_element(*body).get_attribute("data-ready") == "true")
    wait.until(lambda d: d.find_element(*body).get_attribute("data-live") == "true")
    return wait


def rows(driver: webdriver.Chrome, table: str) -> list[tuple[str, ...]]:
    """The table's cells as the shopper reads them, in one script call (the page re-renders rows on every view)."""
    script = (
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(tr => Array.from(tr.cells).map(td => td.innerText.trim()));"
    )
    return [tuple(cells) for cells in driver.execute_script(script, f"#{table}")]


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    """An element's text content (hidden or not), read in one script call."""
    script = "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;"
    found = driver.execute_script(script, element_id)
    return "" if found is None else str(found)


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def page_token(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, 'meta[name="screen-token"]').get_attribute("content"))


def shoot(driver: webdriver.Chrome, shots: Path, name: str) -> None:
    """A step of a journey: the page passes the accessibility audit in the state it shows (every screen and state a
    journey reaches is audited, not only the pages at rest), and its screenshot is kept as the test's artefact
    (checked to be a real picture). With
    ``EDGE_AGENT_SCREENSHOTS`` set (``make demo DEMO_ARGS=--screens``) it is also kept there, under the test
    module's name without ``test_``: ``<dir>/kiosk_screen/3-merge-preview.png``."""
    assert_accessible(driver, f"{_current_test_module()}, step {name}")
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > MIN_SCREENSHOT_BYTES, f"{path} is not a screenshot"
    kept = os.environ.get(SCREENSHOTS_ENV)
    if kept:
        folder = Path(kept) / _current_test_module()
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name)


def _current_test_module() -> str:
    """The running test's module, from pytest's own PYTEST_CURRENT_TEST ("tests/e2e/test_x.py::test_y (call)")."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    module = Path(current.split("::", 1)[0]).stem if current else "screens"
    return module.removeprefix("test_") or "screens"
