"""The kiosk's own screen in a real browser: Debian's Chromium, driven by Selenium through the system chromedriver.

The real agent (real Mosquitto, the central simulator) serves its page on loopback. Two scans appear with their
names and prices; a loyalty tap shows the merge preview; Confirm on the page joins the carts (the server adds the
confirm code from the device's screen key); an action without the page token is refused 403; with the uplink cut
the page shows the offline banner. A screenshot per step is kept under the test's tmp dir, and axe-core audits
every step (no serious or critical WCAG 2.2 AA violation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from edge_agent.config import AgentConfig
from edge_agent.domain.session import SessionState
from simulators.central import CentralPlatform
from simulators.nfc_tags import TagEmulator
from tests.e2e.test_nfc_session import KEY, ONLINE_HAT, PROFILE_CART, SHOES, SOCKS, loyalty_card, nfc_config, tap
from tests.e2e.test_nfc_session import session_of as session_of
from tests.e2e.test_nfc_session import tags as tags  # the fixture
from tests.support.broker import MosquittoBroker
from tests.support.browser import page_token, post, rows, shoot, start_screen_agent
from tests.support.fixtures import ProxyFactory
from tests.support.world import InProcessAgent, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
CATALOG = [
    {"gtin14": SHOES, "name": "Trail shoes", "price_minor": 8999, "currency": "EUR"},
    {"gtin14": SOCKS, "name": "Wool socks", "price_minor": 899, "currency": "EUR"},
    {"gtin14": ONLINE_HAT, "name": "Bucket hat", "price_minor": 1999, "currency": "EUR"},
]


pytestmark = pytest.mark.screens


def lines(driver: webdriver.Chrome) -> list[tuple[str, ...]]:
    """Name, quantity and price of each basket line (the fourth cell holds the line's buttons)."""
    return [r[:3] for r in rows(driver, "lines")]


def test_the_kiosk_page_shows_scans_confirms_a_merge_and_says_when_offline(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
    tags: TagEmulator,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    proxy = proxy_factory(broker)
    screen = start_screen_agent(agent_factory, nfc_config(tmp_path, proxy.port, tags))
    agent, url = screen.agent, screen.url
    central.publish_catalog("acme", "s042", CATALOG)
    agent.wait_for_catalog(1, 10)
    central.trust_identity_keys(KEY)
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    central.add_online(PROFILE_CART, ONLINE_HAT)

    wait = screen.open(browser)
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    shoot(browser, shots, "1-empty")

    # Two scans appear with their names and prices, and each is announced.
    agent.scan(SHOES)
    wait.until(lambda d: lines(d) == [("Trail shoes", "1", "€89.99")])
    wait.until(lambda d: "Trail shoes" in d.find_element(By.ID, "live").get_attribute("textContent"))
    agent.scan(SOCKS)
    wait.until(lambda d: len(rows(d, "lines")) == 2)
    assert sorted(lines(browser)) == [("Trail shoes", "1", "€89.99"), ("Wool socks", "1", "€8.99")]
    assert browser.find_element(By.ID, "total").text == "€98.98"
    wait.until(lambda d: "Wool socks" in d.find_element(By.ID, "live").get_attribute("textContent"))
    assert browser.find_element(By.ID, "offline").is_displayed() is False
    shoot(browser, shots, "2-two-scans")

    # A loyalty tap: the merge preview, with the online cart's hat.
    tap(tags, loyalty_card())
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    wait.until(lambda d: d.find_element(By.ID, "merge").is_displayed())
    wait.until(lambda d: ("Bucket hat", "1") in rows(d, "merge-lines"))
    page = browser.page_source
    assert PROFILE_CART not in page and "shopper-7" not in page, "the page never shows a profile id or pseudonym"
    confirm = browser.find_element(By.ID, "confirm")
    assert confirm.size["width"] >= 44 and confirm.size["height"] >= 44
    shoot(browser, shots, "3-merge-preview")

    # An action without the page token is refused (and one from another origin), and changes nothing.
    preview_id = session_of(agent).preview.preview_id
    action = {
        "type": "com.edgeagent.session.command.v1",
        "data": {"action": "confirm_merge", "session_id": session_of(agent).session_id, "preview_id": preview_id},
    }
    status, body = post(url + "actions", action, {})
    assert (status, body["reason"]) == (403, "screen_token")
    token = page_token(browser)
    status, body = post(url + "actions", action, {"X-Screen-Token": token, "Origin": "http://evil.example"})
    assert (status, body["reason"]) == (403, "screen_origin")
    status, body = post(url + "actions", {"type": "x"}, {"X-Screen-Token": token})
    assert (status, body["reason"]) == (400, "not_an_action")
    assert session_of(agent).state is SessionState.MERGE_PREVIEW

    # Confirm, by keyboard as a switch-access device would: the carts join.
    confirm.send_keys(" ")
    wait_until(lambda: session_of(agent).state is SessionState.MERGED, 10, "merged")
    wait.until(lambda d: not d.find_element(By.ID, "merge").is_displayed())
    wait_until(lambda: central.cart(PROFILE_CART) == {SHOES: 1, SOCKS: 1, ONLINE_HAT: 1}, 20, "platform holds the join")
    wait.until(lambda d: len(rows(d, "lines")) == 3)
    shoot(browser, shots, "4-merged")

    # The uplink is cut: the banner says the basket is saved here and will sync.
    proxy.black_hole()
    proxy.reset_all()
    wait.until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    assert "saved on this device" in browser.find_element(By.ID, "offline").text
    assert browser.find_element(By.ID, "price-note").is_displayed(), "offline: prices are confirmed at checkout"
    shoot(browser, shots, "5-offline")
    proxy.pass_through()
    wait_until(lambda: agent.connected, 20, "reconnected")
    wait.until(lambda d: not d.find_element(By.ID, "offline").is_displayed())
    wait.until(lambda d: not d.find_element(By.ID, "price-note").is_displayed())
    shoot(browser, shots, "6-back-online")
    for name in ("1-empty", "2-two-scans", "3-merge-preview", "4-merged", "5-offline", "6-back-online"):
        assert (shots / f"{name}.png").stat().st_size > 1000
