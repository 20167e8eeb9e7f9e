"""A shopper's whole visit at the kiosk, in a real browser (Debian's Chromium through Selenium), against the real
agent, a real Mosquitto and the central simulator.

A code with a bad check digit (through the barcode reader's own decoding) and a payment card (through the real NFC
reader and the tag emulator) are refused in words, never echoing the input; each scan is highlighted and announced;
+, - and Remove on a line change the platform's cart; Checkout shows the till code as a barcode a scanner reads,
then thanks once the platform sealed the basket; End session asks first, then clears. A screenshot per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent.config import AgentConfig
from edge_agent.contract.device import T_BASKET_COMMAND
from edge_agent.readers.barcode.decoders import Symbol
from edge_agent.readers.barcode.reader import symbol_to_event
from edge_agent.roles.const import TILL_CODE_ATTR
from edge_agent.screen.const import PRICES_STALE_AFTER_S
from simulators.central import CentralPlatform
from simulators.nfc_tags import TEST_PAN, TagEmulator, payment_card
from tests.e2e.test_kiosk_screen import CATALOG, lines
from tests.e2e.test_nfc_session import SHOES, SOCKS, nfc_config, session_of, tap
from tests.e2e.test_nfc_session import tags as tags  # the fixture
from tests.support.broker import MosquittoBroker
from tests.support.browser import page_token, post, shoot, start_screen_agent, text_of
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens

AgentFactory = Callable[[AgentConfig], InProcessAgent]
BAD_CHECK_DIGIT = "4006381333932"  # SOCKS with its last digit wrong


def basket_cart(agent: InProcessAgent) -> str:
    assert agent.agent is not None
    return str(agent.call(lambda: agent.agent.basket.cart_id))  # type: ignore[union-attr]


def line_button(driver: webdriver.Chrome, gtin14: str, action: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#lines tr[data-gtin="{gtin14}"] button[data-action="{action}"]')


def refusal(driver: webdriver.Chrome) -> str:
    element = driver.find_element(By.ID, "refused")
    return element.text if element.is_displayed() else ""


def decoded_barcode(element: WebElement) -> list[str]:
    """What a till's scanner reads off the screen: the element's pixels through zxing-cpp."""
    image = cv2.imdecode(np.frombuffer(element.screenshot_as_png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [found.text for found in zxingcpp.read_barcodes(image)]


Started = tuple[InProcessAgent, WebDriverWait[Any], str]


def started(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory,
            tags: TagEmulator, browser: webdriver.Chrome) -> Started:  # fmt: skip
    screen = start_screen_agent(agent_factory, nfc_config(tmp_path, broker.port, tags))
    central.publish_catalog("acme", "s042", CATALOG)
    screen.agent.wait_for_catalog(1, 10)
    return screen.agent, screen.open(browser), screen.url


def test_a_shoppers_visit_refusals_in_words_line_changes_checkout_with_a_till_code_and_the_end(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    tags: TagEmulator,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    agent, wait, url = started(tmp_path, broker, central, agent_factory, tags, browser)
    assert agent.agent is not None
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    assert browser.find_element(By.ID, "identify").is_displayed(), "the basket invites the shopper to identify"
    assert "loyalty card" in browser.find_element(By.ID, "identify").text
    assert browser.find_element(By.ID, "checkout").is_enabled() is False, "nothing to check out yet"
    assert not browser.find_element(By.ID, "invite").is_displayed()
    # An opted-in app comes close (what the BLE reader's proximity token leads to): the screen invites.
    agent.call(lambda: agent.agent.basket.app_nearby())  # type: ignore[union-attr]
    wait.until(lambda d: d.find_element(By.ID, "invite").is_displayed())
    assert "show its code" in browser.find_element(By.ID, "invite").text
    shoot(browser, shots, "1-empty")

    # A label with a bad check digit, decoded by the barcode reader's own pipeline: refused in words.
    event = symbol_to_event(Symbol(BAD_CHECK_DIGIT, "]C0"), time.time())
    agent.call(lambda: agent.agent.submit(event))  # type: ignore[union-attr]
    wait.until(lambda d: "did not read correctly" in refusal(d))
    assert BAD_CHECK_DIGIT not in browser.page_source, "the refusal never repeats the code that was read"
    shoot(browser, shots, "2-bad-check-digit")

    # A payment card on the real NFC reader: never read, and the screen says what to do instead.
    tap(tags, payment_card())
    wait.until(lambda d: "payment card" in refusal(d))
    assert TEST_PAN not in browser.page_source
    assert agent.agent.status.rejected["nfc:not_an_ndef_tag"] == 1
    shoot(browser, shots, "3-payment-card")

    # A scan: the line appears, is flagged as the one that changed, announced; the refusal is gone.
    agent.scan(SHOES)
    wait.until(lambda d: lines(d) == [("Trail shoes", "1", "€89.99")])
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-last-changed") == SHOES)
    wait.until(lambda d: "Trail shoes" in text_of(d, "live"))
    assert refusal(browser) == ""
    shoot(browser, shots, "4-scanned")

    # + on the line: the platform's cart holds two; the buttons are big and named for a screen reader.
    more = line_button(browser, SHOES, "more")
    assert more.size["width"] >= 44 and more.size["height"] >= 44
    assert more.get_attribute("aria-label") == "One more Trail shoes"
    more.send_keys(Keys.ENTER)  # by keyboard, as a switch-access device would
    wait_until(lambda: central.cart(basket_cart(agent)) == {SHOES: 2}, 15, "platform holds two shoes")
    wait.until(lambda d: lines(d) == [("Trail shoes", "2", "€179.98")])
    focused = browser.switch_to.active_element
    assert (
        focused.get_attribute("data-action"),
        focused.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-gtin"),
    ) == ("more", SHOES), "the rebuilt row keeps the keyboard on the button pressed"
    shoot(browser, shots, "5-more")

    # Remove a second line, then - on the first: the platform follows each.
    agent.scan(SOCKS)
    wait.until(lambda d: len(lines(d)) == 2)
    line_button(browser, SOCKS, "remove").click()
    wait_until(lambda: central.cart(basket_cart(agent)) == {SHOES: 2}, 15, "socks removed on the platform")
    wait.until(lambda d: lines(d) == [("Trail shoes", "2", "€179.98")])
    line_button(browser, SHOES, "fewer").click()
    wait_until(lambda: central.cart(basket_cart(agent)) == {SHOES: 1}, 15, "one shoe on the platform")
    wait.until(lambda d: lines(d) == [("Trail shoes", "1", "€89.99")])
    assert line_button(browser, SHOES, "fewer").is_enabled() is False, "Remove takes a line away, not -"
    shoot(browser, shots, "6-fewer")

    # A command made in a session that has ended changes nothing and says why.
    stale = {"action": "remove", "session_id": "0" * 16, "gtin14": SHOES}
    token = {"X-Screen-Token": page_token(browser)}
    status, body = post(url + "actions", {"type": T_BASKET_COMMAND, "data": stale}, token)
    assert (status, body["reason"]) == (400, "stale_session")
    assert central.cart(basket_cart(agent)) == {SHOES: 1}

    # Checkout: the till code as a barcode a scanner reads; the platform seals the basket: thanks.
    paid_cart = basket_cart(agent)
    browser.find_element(By.ID, "checkout").click()
    wait.until(lambda d: d.find_element(By.ID, "paying").is_displayed())
    wait_until(lambda: central.seal(paid_cart) is not None, 15, "the platform sealed the basket")
    wait.until(lambda d: d.find_element(By.ID, "paying-title").text == "Thank you!")
    till_code = central.cart_attrs(paid_cart)[TILL_CODE_ATTR]
    assert till_code is not None and till_code.startswith("2") and len(till_code) == 13
    assert browser.find_element(By.ID, "till-digits").text.replace(" ", "") == till_code
    assert decoded_barcode(browser.find_element(By.ID, "till-barcode")) == [till_code]
    assert "pay at the till" in browser.find_element(By.ID, "paying-explain").text
    assert paid_cart not in browser.page_source, "the page never shows a cart id"
    shoot(browser, shots, "7-thank-you")

    # The next shopper scans into a fresh basket; End session asks first, then clears the screen.
    agent.scan(SOCKS)
    wait.until(lambda d: lines(d) == [("Wool socks", "1", "€8.99")])
    assert not browser.find_element(By.ID, "paying").is_displayed()
    before = session_of(agent).session_id
    browser.find_element(By.ID, "end").click()
    wait.until(lambda d: d.find_element(By.ID, "end-confirm").is_displayed())
    shoot(browser, shots, "8-end-confirm")
    assert session_of(agent).session_id == before, "asking is not ending"
    browser.find_element(By.ID, "end-yes").click()
    wait_until(lambda: session_of(agent).session_id != before, 10, "a new session")
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    wait.until(lambda d: not d.find_element(By.ID, "end-confirm").is_displayed())
    assert lines(browser) == []
    shoot(browser, shots, "9-ended")


def test_prices_cached_too_long_ago_are_confirmed_at_checkout_until_the_platform_sends_fresh_ones(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    tags: TagEmulator,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    agent, wait, _url = started(tmp_path, broker, central, agent_factory, tags, browser)
    long_ago = datetime.now(UTC) - timedelta(seconds=2 * PRICES_STALE_AFTER_S)
    central.change_item("acme", "s042", SOCKS, price_minor=899, price_as_of=long_ago.isoformat())
    agent.wait_for_catalog(2, 10)
    agent.scan(SOCKS)
    wait.until(lambda d: lines(d) == [("Wool socks", "1", "€8.99")])
    wait.until(lambda d: d.find_element(By.ID, "price-note").is_displayed())
    assert "confirmed at checkout" in browser.find_element(By.ID, "price-note").text
    shoot(browser, shots, "1-stale-prices")
    central.change_item("acme", "s042", SOCKS, price_minor=799, price_as_of=datetime.now(UTC).isoformat())
    wait.until(lambda d: lines(d) == [("Wool socks", "1", "€7.99")])
    wait.until(lambda d: not d.find_element(By.ID, "price-note").is_displayed())
    shoot(browser, shots, "2-fresh-prices")
