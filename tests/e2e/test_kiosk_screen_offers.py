"""Related items, offers and consent switches on the kiosk's own screen, in a real browser (Debian's Chromium
through Selenium), against the real agent, a real Mosquitto and the central simulator.

A scan shows the catalog's related items, named and priced; an identified shopper sees their scopes, each with a
switch, and, with "personalisation", the platform's offer, which they take (the screen says it is applied when they
pay); turning personalisation off takes the offers off the screen; a choice made while the store system is away is
shown as saved here and waiting, until the platform confirms it. axe-core audits every step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from edge_agent.config import AgentConfig
from simulators.central import CentralPlatform
from tests.e2e.test_consent_and_offers import HAT, PROFILE_CART, SHOES, SOCKS, SOCKS_OFFER, kiosk, present, socks_offer
from tests.e2e.test_consent_and_offers import platform as platform  # the fixture
from tests.support.broker import MosquittoBroker
from tests.support.browser import rows, shoot, start_screen_agent
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens

AgentFactory = Callable[[AgentConfig], InProcessAgent]
CATALOG = [
    {"gtin14": SHOES, "name": "Trail shoes", "price_minor": 8999, "currency": "EUR", "related": [SOCKS, HAT]},
    {"gtin14": SOCKS, "name": "Wool socks", "price_minor": 899, "currency": "EUR"},
    {"gtin14": HAT, "name": "Bucket hat", "price_minor": 1999, "currency": "EUR"},
]


def scopes(driver: webdriver.Chrome) -> dict[str, str]:
    """Each scope's line as the shopper reads it, in one script call (the page re-renders the list on every view)."""
    script = (
        "return Object.fromEntries(Array.from(document.querySelectorAll('#consent-list li'))"
        ".map(li => [li.dataset.scope, li.innerText.trim()]));"
    )
    found: dict[str, str] = driver.execute_script(script)
    return found


def click(driver: webdriver.Chrome, selector: str) -> None:
    """Find and press in one script call, as a finger does: no stale element between the two."""
    driver.execute_script("document.querySelector(arguments[0]).click();", selector)


def switch(driver: webdriver.Chrome, scope: str) -> None:
    click(driver, f'#consent-list li[data-scope="{scope}"] button')


def test_related_items_offers_and_consent_switches_on_the_kiosk_screen(
    tmp_path: Path,
    broker: MosquittoBroker,
    platform: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    screen = start_screen_agent(agent_factory, kiosk(tmp_path, broker.port))
    agent = screen.agent
    platform.publish_catalog("acme", "s042", CATALOG)
    agent.wait_for_catalog(1, 10)
    wait = screen.open(browser)
    assert not browser.find_element(By.ID, "consent").is_displayed(), "an anonymous session has no choices to show"

    agent.scan(SHOES)
    wait.until(lambda d: rows(d, "related-table") == [("Wool socks", "€8.99"), ("Bucket hat", "€19.99")])
    shoot(browser, shots, "1-related")

    present(agent, "profile", "cart_sync", "personalisation")
    wait.until(lambda d: d.find_element(By.ID, "consent").is_displayed())
    wait.until(lambda d: scopes(d).get("personalisation", "").startswith("Show me offers chosen for me: on"))
    assert scopes(browser)["analytics"].startswith("Link my visit to my account for the store's statistics: off")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) is not None, 15, "session linked for offers")
    assert platform.offers.publish(PROFILE_CART, [socks_offer()])
    wait.until(lambda d: d.find_element(By.ID, "offers").is_displayed())
    assert "Socks: two for one" in browser.find_element(By.ID, "offer-list").text
    shoot(browser, shots, "2-offer")

    click(browser, f'#offer-list li[data-offer="{SOCKS_OFFER}"] button[data-action="accept"]')
    wait.until(lambda d: "applies it when you pay" in d.find_element(By.ID, "offer-list").text)
    # The merge preview is still open: the session's cart is the guest basket, and the offer is on it.
    assert platform.cart_attrs(agent.cart_id).get(f"offer.{SOCKS_OFFER}") == "accepted"
    shoot(browser, shots, "3-offer-taken")

    platform.go_offline()
    switch(browser, "analytics")
    wait.until(lambda d: "not confirmed it yet" in scopes(d).get("analytics", ""))
    assert scopes(browser)["analytics"].startswith("Link my visit to my account for the store's statistics: on")
    shoot(browser, shots, "4-waiting-for-the-platform")
    platform.come_online()
    wait.until(lambda d: "not confirmed it yet" not in scopes(d).get("analytics", ""))

    switch(browser, "personalisation")
    wait.until(lambda d: not d.find_element(By.ID, "offers").is_displayed())
    assert scopes(browser)["personalisation"].startswith("Show me offers chosen for me: off")
    shoot(browser, shots, "5-personalisation-off")
