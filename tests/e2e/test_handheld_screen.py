"""The associate handheld's own screen in a real browser (Debian's Chromium through Selenium), on a phone-sized
window: the real agent with real Mosquitto and the central simulator serves the page on loopback.

The tote: the associate opens a tote on the page, scans fill it line by line (each announced), the shopper's app
code attaches them (the page shows a flag, never who), Park puts it away and Resume brings it back, Submit and
Hand off to the till reach the platform; once the platform says paid, each line is collected with its own button
and the tote is handed over. The pickup: an order is claimed, picked by scans (the page shows each line's
progress), staged; the customer checks in, a wrong order code is refused in words, the right one verifies them,
Hand over reaches the platform, which closes the order and sees how the customer was verified. A screenshot per
step is kept under the test's tmp dir.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from edge_agent.readers.events import IdentityPresented
from simulators.central import CentralPlatform
from simulators.pick_platform import PickPlatform
from tests.e2e import test_picking, test_tote
from tests.e2e.test_picking import BREAD, CHEESE, MILK, PHONE, PHONE_BLUE
from tests.e2e.test_tote import BELT, SHIRT, app_code
from tests.support.broker import MosquittoBroker
from tests.support.browser import rows, screen_agent, shoot, start_screen_agent, text_of
from tests.support.fixtures import ProxyFactory
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens

AgentFactory = test_tote.AgentFactory
ASSOCIATE = "emp-042"
CODE = "K7Q2-M9XD"
PHONE_SIZE = (412, 915)
"""A common Android phone's viewport in CSS px: the handheld's screen."""


def order_state(agent: InProcessAgent) -> str | None:
    current = test_picking.current(agent)
    return None if current is None else str(current.state)


def sign_in(browser: webdriver.Chrome) -> None:
    """The associate types their id once; the page keeps it for every command."""
    browser.set_window_size(*PHONE_SIZE)
    field = browser.find_element(By.ID, "associate")
    field.clear()
    field.send_keys(ASSOCIATE)


def press(browser: webdriver.Chrome, element_id: str) -> None:
    button = browser.find_element(By.ID, element_id)
    assert button.is_displayed(), f"#{element_id} is not on screen"
    assert button.size["width"] >= 44 and button.size["height"] >= 44, f"#{element_id} is a small target"
    button.click()


def press_in(browser: webdriver.Chrome, css: str) -> None:
    """A button inside a row or list item (re-rendered on every view, so found fresh)."""
    button = browser.find_element(By.CSS_SELECTOR, css)
    assert button.size["width"] >= 44 and button.size["height"] >= 44, f"{css} is a small target"
    button.click()


def fits_the_phone(browser: webdriver.Chrome) -> bool:
    """Nothing sticks out sideways at phone width (no horizontal scrolling)."""
    return bool(browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth;"))


def test_the_tote_on_the_handheld_page_fills_from_scans_parks_resumes_submits_and_is_collected(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    proxy = proxy_factory(broker)
    screen = start_screen_agent(agent_factory, test_tote.handheld_config(tmp_path, proxy.port))
    agent = screen.agent
    central.publish_catalog(
        "acme", "s042", [{"gtin14": SHIRT, "name": "Oxford shirt", "price_minor": 3999, "currency": "EUR"}]
    )
    agent.wait_for_catalog(1, 10)
    wait = screen.open(browser)
    browser.set_window_size(*PHONE_SIZE)
    press(browser, "tote-open")  # nobody signed in: the page asks, and sends nothing
    wait.until(lambda d: d.find_element(By.ID, "refused").text == "Enter your associate id first.")
    assert test_tote.view(agent).tote_id is None
    sign_in(browser)
    wait.until(lambda d: d.find_element(By.ID, "tote-none").is_displayed())
    assert browser.find_element(By.ID, "page-title").text == "Associate handheld"
    shoot(browser, shots, "1-no-tote")

    press(browser, "tote-open")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: open")
    tote_id = test_tote.view(agent).tote_id
    test_tote.scan(agent, SHIRT)
    wait.until(lambda d: rows(d, "tote-lines") == [(f"Oxford shirt\n{SHIRT}", "1", "in the tote", "Remove")])
    proxy.black_hole()  # the stockroom has no signal: the tote goes on filling, the banner says so
    proxy.reset_all()
    wait.until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    assert browser.find_element(By.ID, "offline").text == "Offline: changes are saved on this device and will sync."
    test_tote.scan(agent, BELT)
    wait.until(lambda d: len(rows(d, "tote-lines")) == 2)
    wait.until(lambda d: BELT in text_of(d, "live") and "2 items" in text_of(d, "live"))
    assert rows(browser, "tote-lines")[1] == (BELT, "1", "in the tote", "Remove"), "no name in the cache: the code"
    assert fits_the_phone(browser)
    shoot(browser, shots, "2-two-scans-offline")
    proxy.pass_through()
    wait_until(lambda: agent.connected, 20, "reconnected")
    wait.until(lambda d: not d.find_element(By.ID, "offline").is_displayed())

    inner = agent.agent
    assert inner is not None
    agent.call(lambda: inner.submit(IdentityPresented(app_code(), "qr", "barcode", time.time())))
    wait.until(lambda d: text_of(d, "tote-customer") == "Shopper attached.")
    assert "shopper-ada" not in browser.page_source and "profile-ada" not in browser.page_source
    shoot(browser, shots, "3-shopper-attached")

    press(browser, "tote-park")
    wait.until(lambda d: d.find_element(By.ID, "tote-none").is_displayed())
    wait.until(lambda d: d.find_element(By.ID, "parked").is_displayed())
    shoot(browser, shots, "4-parked")
    press_in(browser, f'#parked-list li[data-tote="{tote_id}"] button')
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: open, shopper attached")
    assert len(rows(browser, "tote-lines")) == 2 and not browser.find_element(By.ID, "parked").is_displayed()
    shoot(browser, shots, "5-resumed")

    press(browser, "tote-submit")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: submitted")
    assert browser.find_element(By.ID, "tote-payment-link").is_displayed(), "the till, or a link to pay by"
    press(browser, "tote-handoff")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: waiting for payment at the till")
    wait_until(
        lambda: central.cart(tote_id) == {SHIRT: 1, BELT: 1}
        and central.cart_attrs(tote_id).get("tote.state") == "awaiting_payment_at_pos",
        15, "the whole tote at the till, as the platform sees it",
        details=lambda: (central.cart(tote_id), central.cart_attrs(tote_id)),
    )  # fmt: skip
    assert central.cart_attrs(tote_id)["tote.associate"] == ASSOCIATE
    shoot(browser, shots, "6-handed-off-to-the-till")

    central.pay_tote(tote_id, "ORD-7781")  # the till took the payment
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: paid")
    press(browser, "tote-collect")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: collecting")
    press_in(browser, f'#tote-lines tr[data-line="{SHIRT}:carry_out"] button.primary')
    wait.until(lambda d: (f"Oxford shirt\n{SHIRT}", "1", "collected", "") in rows(d, "tote-lines"))
    press_in(browser, f'#tote-lines tr[data-line="{BELT}:carry_out"] button.primary')
    wait.until(lambda d: (BELT, "1", "collected", "") in rows(d, "tote-lines"))
    shoot(browser, shots, "7-collected")
    press(browser, "tote-ready")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: ready at the counter")
    press(browser, "tote-handed")
    wait.until(lambda d: d.find_element(By.ID, "tote-none").is_displayed())
    wait_until(lambda: central.cart_attrs(tote_id).get("tote.state") == "handed_over", 15, "handed over")
    assert not browser.find_element(By.ID, "refused").is_displayed()
    shoot(browser, shots, "8-handed-over")


def test_the_pickup_on_the_handheld_page_checks_in_verifies_by_order_code_and_hands_over(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    platform = PickPlatform(central, "acme", "s042").start()
    try:
        screen = start_screen_agent(agent_factory, test_picking.handheld_config(tmp_path, broker.port, "handheld-03"))
        agent = screen.agent
        central.publish_catalog(
            "acme", "s042", [{"gtin14": MILK, "name": "Milk 1 l"}, {"gtin14": BREAD, "name": "Rye bread"}]
        )
        agent.wait_for_catalog(1, 10)
        wait = screen.open(browser)
        sign_in(browser)
        lines = [("l1", MILK, 2), ("l2", BREAD, 1), ("l3", CHEESE, 1), ("l4", PHONE, 1)]
        platform.publish_order("co-3001", lines, pickup_code=CODE)

        # The pick list: claim, pick by scanning (each line's progress on the page), complete, stage.
        press(browser, "tab-pick")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#available-list li[data-order="co-3001"]'))
        assert "4 lines, 5 units" in text_of(browser, "available-list")
        shoot(browser, shots, "1-order-to-pick")
        press_in(browser, '#available-list li[data-order="co-3001"] button')
        wait.until(lambda d: d.find_element(By.ID, "pick-start").is_displayed())
        press(browser, "pick-start")
        wait.until(lambda d: text_of(d, "order-state") == "Order: picking")
        assert [o.text for o in Select(browser.find_element(By.ID, "short-reason")).options] == [
            "Inventory shortage", "Damaged", "Pick later",
        ]  # fmt: skip
        test_picking.scan(agent, MILK)
        wait.until(lambda d: rows(d, "pick-lines")[0][:3] == (f"Milk 1 l\n{MILK}", "1 of 2", "to pick"))
        assert (
            browser.find_elements(By.CSS_SELECTOR, '#pick-lines tr[data-line="l1"] button')[1].text
            == "Offer substitute"
        )
        wait.until(lambda d: "Picked Milk 1 l: 1 of 2." in text_of(d, "live"))
        shoot(browser, shots, "2-picking")
        test_picking.scan(agent, MILK)
        test_picking.scan(agent, BREAD)
        wait.until(lambda d: rows(d, "pick-lines")[:2] == [
            (f"Milk 1 l\n{MILK}", "2 of 2", "picked", ""), (f"Rye bread\n{BREAD}", "1 of 1", "picked", ""),
        ])  # fmt: skip

        # No cheese on the shelf: short it, for the reason chosen from the store's list.
        Select(browser.find_element(By.ID, "short-reason")).select_by_visible_text("Damaged")
        press_in(browser, '#pick-lines tr[data-line="l3"] button')
        wait.until(lambda d: rows(d, "pick-lines")[2][1:3] == ("0 of 1", "short (Damaged)"))
        # The phone in another colour instead: the platform approves, the substitute is scanned.
        browser.find_element(By.ID, "substitute").send_keys(PHONE_BLUE)
        press_in(browser, '#pick-lines tr[data-line="l4"] button:nth-of-type(2)')
        wait.until(lambda d: rows(d, "pick-lines")[3][2] == "substitute approved")
        assert rows(browser, "pick-lines")[3][0] == f"{PHONE} → {PHONE_BLUE}"
        assert fits_the_phone(browser)
        shoot(browser, shots, "3-short-and-substitute")
        test_picking.scan(agent, PHONE_BLUE)
        wait.until(lambda d: rows(d, "pick-lines")[3][1] == "1 of 1")
        press(browser, "pick-complete")
        wait.until(lambda d: d.find_element(By.ID, "stage-form").is_displayed())
        browser.find_element(By.ID, "stage-location").send_keys("pickup-shelf-3")
        browser.find_element(By.ID, "stage-totes").send_keys("tote-77")
        press(browser, "pick-stage")
        wait_until(lambda: order_state(agent) == "ready_for_pickup", 20, "ready for pickup (the platform notified)")
        shoot(browser, shots, "4-staged")

        # Customer pickup: check in, a wrong code refused in words, the right code, hand over.
        press(browser, "tab-pickup")
        wait.until(lambda d: text_of(d, "pickup-state") == "Order: ready for pickup")
        assert text_of(browser, "pickup-location") == "Staged at pickup-shelf-3."
        press(browser, "pickup-checkin")
        wait.until(lambda d: d.find_element(By.ID, "verify-form").is_displayed())
        wait.until(lambda d: text_of(d, "live") == "Order: customer checked in")
        shoot(browser, shots, "5-checked-in")
        browser.find_element(By.ID, "order-code").send_keys("no!")  # not even the shape of a code: a 400, in words
        press(browser, "verify-code")
        wait.until(lambda d: "check what was typed" in d.find_element(By.ID, "refused").text)
        field = browser.find_element(By.ID, "order-code")
        field.clear()
        field.send_keys("K7Q2-0000")
        press(browser, "verify-code")
        wait.until(lambda d: "not this order's code" in d.find_element(By.ID, "refused").text)
        assert text_of(browser, "pickup-state") == "Order: customer checked in"
        shoot(browser, shots, "6-wrong-code")
        field = browser.find_element(By.ID, "order-code")
        field.clear()
        field.send_keys(CODE.lower())
        press(browser, "verify-code")
        wait.until(lambda d: text_of(d, "pickup-verified") == "Verified by the order code.")
        assert not browser.find_element(By.ID, "refused").is_displayed()
        assert CODE not in browser.page_source and CODE.lower() not in browser.page_source
        shoot(browser, shots, "7-verified")
        browser.find_element(By.ID, "pickup-hand-over").send_keys(Keys.ENTER)  # from the keyboard, too
        wait.until(lambda d: text_of(d, "pickup-state") in ("Order: handed over", "Order: completed"))
        wait_until(
            lambda: (o := platform.order("co-3001")) is not None and o.status == "closed", 20,
            "the platform closed the order after the hand-over", details=lambda: platform.order("co-3001"),
        )  # fmt: skip
        wait.until(lambda d: text_of(d, "pickup-state") == "Order: completed")
        attrs = platform.attrs("co-3001")
        assert attrs["pick.verified_by"] == "order_code" and attrs["pick.state"] == "handed_over"
        assert attrs["pick.handed_over_at"] is not None
        assert text_of(browser, "pickup-verified") == "Verified by the order code."
        assert fits_the_phone(browser)
        shoot(browser, shots, "8-handed-over")
    finally:
        platform.stop()


def pick_whole(browser: webdriver.Chrome, wait: Any, agent: InProcessAgent, order_id: str, units: list[str]) -> None:
    """Claim ``order_id`` on the page, scan every unit, complete it and stage it at the pickup shelf."""
    press(browser, "tab-pick")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#available-list li[data-order="{order_id}"]'))
    press_in(browser, f'#available-list li[data-order="{order_id}"] button')
    wait.until(lambda d: d.find_element(By.ID, "pick-start").is_displayed())
    press(browser, "pick-start")
    wait.until(lambda d: text_of(d, "order-state") == "Order: picking")
    for unit in units:
        test_picking.scan(agent, unit)
    wait.until(lambda d: d.find_element(By.ID, "pick-complete").is_displayed() and not text_of(d, "order-expected"))
    press(browser, "pick-complete")
    wait.until(lambda d: d.find_element(By.ID, "stage-form").is_displayed())
    for field, value in (("stage-location", "pickup-shelf-1"), ("stage-totes", f"tote-{order_id}")):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    press(browser, "pick-stage")


def test_a_customer_arrives_while_another_order_is_in_hand_and_is_verified_by_an_id_document(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    platform = PickPlatform(central, "acme", "s042").start()
    try:
        config = test_picking.handheld_config(tmp_path, broker.port, "handheld-03")
        agent, wait = screen_agent(agent_factory, browser, config)
        sign_in(browser)
        platform.publish_order("co-4001", [("l1", BREAD, 1)])  # no pickup code: an ID document it is
        pick_whole(browser, wait, agent, "co-4001", [BREAD])
        wait_until(lambda: order_state(agent) == "ready_for_pickup", 20, "co-4001 ready for pickup")
        platform.publish_order("co-4002", [("l1", MILK, 1)])
        press(browser, "tab-pick")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#available-list li[data-order="co-4002"]'))
        press_in(browser, '#available-list li[data-order="co-4002"] button')
        wait.until(lambda d: text_of(d, "order-title") == "Order co-4002")
        wait.until(lambda d: d.find_element(By.ID, "pick-start").is_displayed())
        press(browser, "pick-start")
        wait.until(lambda d: text_of(d, "order-state") == "Order: picking")

        # co-4001's customer comes while co-4002 is being picked: it waits in the pickup list; Serve opens it.
        press(browser, "tab-pickup")
        wait.until(lambda d: "Order co-4001 (ready for pickup)" in text_of(d, "awaiting-list"))
        assert not browser.find_element(By.ID, "pickup-order").is_displayed()
        shoot(browser, shots, "1-waiting-for-the-customer")
        press_in(browser, '#awaiting-list li[data-order="co-4001"] button')
        wait.until(lambda d: text_of(d, "pickup-order-title") == "Order co-4001")
        press(browser, "pickup-checkin")
        wait.until(lambda d: d.find_element(By.ID, "verify-form").is_displayed())
        press(browser, "verify-id")
        wait.until(lambda d: text_of(d, "pickup-verified") == "Verified by an ID document.")
        assert text_of(browser, "pickup-state") == "Order: customer verified"
        shoot(browser, shots, "2-verified-by-id-document")

        test_picking.scan(agent, MILK)  # the scanner still picks for the order in hand
        wait_until(lambda: test_picking.current(agent).lines[0].picked == 1, 10, "co-4002 picked meanwhile")
        press(browser, "pickup-hand-over")
        wait_until(
            lambda: (o := platform.order("co-4001")) is not None and o.status == "closed", 20, "closed by the platform"
        )
        assert platform.attrs("co-4001")["pick.verified_by"] == "id_document"
        assert platform.attrs("co-4001")["pick.state"] == "handed_over"
        wait.until(lambda d: not d.find_element(By.ID, "pickup-order").is_displayed())
        press(browser, "tab-pick")
        wait.until(lambda d: rows(d, "pick-lines") == [(MILK, "1 of 1", "picked", "")])
        shoot(browser, shots, "3-handed-over-and-back-to-the-pick")
    finally:
        platform.stop()


def test_the_associate_switches_the_handheld_page_to_their_language(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    config = test_tote.handheld_config(tmp_path, broker.port)
    agent, wait = screen_agent(agent_factory, browser, config)
    sign_in(browser)
    press(browser, "tote-open")
    wait.until(lambda d: text_of(d, "tote-state") == "Tote: open")
    test_tote.scan(agent, SHIRT)
    wait.until(lambda d: len(rows(d, "tote-lines")) == 1)

    Select(browser.find_element(By.ID, "locale")).select_by_value("de")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de")
    wait.until(lambda d: text_of(d, "tote-state") == "Korb: offen")
    assert browser.find_element(By.ID, "tab-pick").text == "Pickliste"
    assert rows(browser, "tote-lines") == [(SHIRT, "1", "im Korb", "Entfernen")]
    shoot(browser, shots, "1-deutsch")

    Select(browser.find_element(By.ID, "locale")).select_by_value("ru")
    wait.until(lambda d: text_of(d, "tote-state") == "Корзина: открыта")
    assert browser.find_element(By.ID, "tote-park").text == "Отложить"
    shoot(browser, shots, "2-russian")
