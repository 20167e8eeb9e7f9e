"""The accessibility audit itself, in the real browser under the page's own Content-Security-Policy: axe-core runs
(injected through WebDriver, which the CSP does not govern), a clean page passes, and a serious violation fails with
the rule, its help and the element it found. Every page in every language passes the audit, with its ``lang`` set
and its words filled in.

The screen server runs alone here (its own loop in a thread, no broker): the page's words, styles and CSP are all
this needs; the journeys with a real agent audit each of their steps in their own tests. Every shipped page
(``static/*.html``) is audited at rest in every shipped locale, so a new page is covered the day it lands.
"""

from __future__ import annotations

import asyncio
import threading
import typing
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver

from edge_agent.config import ScreenLocale, ScreenSection
from edge_agent.contract.codec import Rejected
from edge_agent.screen.feed import ScreenFeed
from edge_agent.screen.pages import LAYOUT
from edge_agent.screen.server import CSP, ScreenServer
from tests.support.axe import AXE_VERSION, assert_accessible, audit
from tests.support.browser import SCREENSHOTS_ENV, free_port, open_page, shoot
from tests.support.world import wait_until

pytestmark = pytest.mark.screens
DEVICE_PREFIX = "rt/v1/acme/st/s042/dv/kiosk-01/"
STATIC = Path(__file__).resolve().parents[2] / "edge_agent" / "screen" / "static"
PAGES = sorted(p.stem for p in STATIC.glob("*.html") if p.name != LAYOUT)
LOCALES = sorted(typing.get_args(ScreenLocale))


@dataclass
class LoneScreen:
    url: str
    server: ScreenServer


def _no_route(_topic: str, _payload: bytes) -> None:
    raise Rejected("unknown_topic", "no route table behind this screen")


@pytest.fixture
def lone_screen() -> Iterator[LoneScreen]:
    port = free_port()
    server = ScreenServer(
        ScreenSection(listen=f"127.0.0.1:{port}", attract_after_s=3600),
        ScreenFeed(DEVICE_PREFIX),
        DEVICE_PREFIX + "ui",
        _no_route,
        lambda _topic, _rej: None,
        lambda: True,
        bytes(32),
        "urn:acme:s042:kiosk-01",
    )
    loop = asyncio.new_event_loop()
    serving = loop.create_task(server.run())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    wait_until(lambda: server.port is not None, 10, "screen serving")
    yield LoneScreen(f"http://127.0.0.1:{port}/", server)
    loop.call_soon_threadsafe(serving.cancel)
    wait_until(serving.done, 10, "screen stopped")
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_axe_runs_under_the_pages_csp_and_fails_on_a_serious_violation(
    lone_screen: LoneScreen, browser: webdriver.Chrome
) -> None:
    open_page(browser, lone_screen.url)
    with urllib.request.urlopen(lone_screen.url, timeout=5) as response:
        served_csp = response.headers["Content-Security-Policy"]
    assert served_csp == CSP and "script-src 'self'" in served_csp, "the page axe ran on had the page's own CSP"
    assert_accessible(browser, "kiosk, empty basket")
    assert browser.execute_script("return axe.version;") == AXE_VERSION

    # A button without words and grey-on-white text: what a careless page change would bring.
    browser.execute_script(
        "const b = document.createElement('button'); b.id = 'nameless'; document.querySelector('main').append(b);"
    )
    found = {v["id"]: v for v in audit(browser)}
    assert found["button-name"]["impact"] == "critical"
    assert found["button-name"]["nodes"][0]["target"] == "#nameless"
    with pytest.raises(AssertionError) as failed:
        assert_accessible(browser, "kiosk, a nameless button")
    message = str(failed.value)
    assert "button-name (critical)" in message and "#nameless" in message and "kiosk, a nameless button" in message


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_in_every_language_passes_the_audit_with_its_words(
    lone_screen: LoneScreen, browser: webdriver.Chrome, locale: str, page: str, tmp_path: Path
) -> None:
    """Each shipped page at rest (no views yet), in each locale: lang set, every data-msg filled, no violation."""
    settings = {"listen": lone_screen.server.settings.listen, "attract_after_s": 3600, "locale": locale}
    lone_screen.server.settings = ScreenSection.model_validate(settings)
    lone_screen.server.page = page
    wait = open_page(browser, lone_screen.url)
    wait.until(lambda d: d.execute_script("return document.documentElement.lang;") == locale)
    unfilled = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-msg]'))"
        ".filter(e => e.textContent === e.dataset.msg || !e.textContent.trim()).map(e => e.dataset.msg);"
    )
    assert unfilled == [], f"{page} in {locale}: elements showing their key, not a word"
    shoot(browser, tmp_path / "screenshots", f"{page}-{locale}")


def test_a_step_shot_is_also_kept_for_the_demo_when_asked(
    lone_screen: LoneScreen, browser: webdriver.Chrome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo DEMO_ARGS=--screens` sets EDGE_AGENT_SCREENSHOTS: each step's PNG lands under the module's name."""
    demo_shots = tmp_path / "demo-screens"
    monkeypatch.setenv(SCREENSHOTS_ENV, str(demo_shots))
    open_page(browser, lone_screen.url)
    shoot(browser, tmp_path / "screenshots", "1-empty")
    kept = demo_shots / "screen_accessibility" / "1-empty.png"
    assert kept.read_bytes() == (tmp_path / "screenshots" / "1-empty.png").read_bytes()
    assert kept.read_bytes().startswith(b"\x89PNG")
