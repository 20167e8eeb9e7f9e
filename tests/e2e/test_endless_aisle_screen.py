"""The endless aisle on the device's own pages, in a real browser: an item none of which is in the store shows
where else it is, with "order for home delivery / pickup at X"; a press orders it, and the line says "requested"
until the platform confirms (kiosk), or until it confirms the tote's pickup line (handheld). Every step is audited
(axe-core, WCAG 2.2 AA) and kept as a screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from simulators.central import CentralPlatform
from tests.e2e import test_tote
from tests.e2e.test_endless_aisle import SHIRT, stock_catalog
from tests.e2e.test_handheld_screen import press, press_in, sign_in
from tests.e2e.test_spine import AgentFactory
from tests.support.broker import MosquittoBroker
from tests.support.browser import catalog_in, screen_agent, shoot
from tests.support.world import make_config

pytestmark = pytest.mark.screens


def aisle_text(driver: webdriver.Chrome) -> str:
    """Read in one script call: the rows are rebuilt on every view, so an element found first may be gone."""
    return str(
        driver.execute_script("return Array.from(document.querySelectorAll('.aisle'), e => e.innerText).join('\\n')")
    )


def test_the_kiosk_page_offers_delivery_for_an_item_out_of_stock_and_shows_it_requested_then_confirmed(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    stock_catalog(central)
    agent, wait = screen_agent(
        agent_factory,
        browser,
        make_config(tmp_path, broker.port),
        catalog_in,
        "the catalog on the kiosk",
        15,
    )
    agent.scan(SHIRT)
    wait.until(lambda d: "None in this store. Online: 5. Nearby: s007 (2)." in aisle_text(d))
    buttons = browser.execute_script("return Array.from(document.querySelectorAll('.aisle button'), b => b.innerText)")
    assert buttons == [
        "Order for home delivery",
        "Order for pickup at s007",
    ]
    shoot(browser, shots, "1-out-of-stock-here")
    central.go_offline()
    press_in(browser, '.aisle button[data-action="ship"]')
    wait.until(lambda d: "saved on this device, not sent yet" in aisle_text(d))
    shoot(browser, shots, "2-requested-offline")
    central.come_online()
    wait.until(lambda d: "Ordered for home delivery: confirmed, order ea-" in aisle_text(d))
    shoot(browser, shots, "3-confirmed")


def test_the_handheld_page_orders_a_tote_line_for_pickup_at_another_store(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    stock_catalog(central)
    agent, wait = screen_agent(
        agent_factory,
        browser,
        test_tote.handheld_config(tmp_path, broker.port),
        catalog_in,
        "the catalog on the handheld",
        15,
    )
    sign_in(browser)
    press(browser, "tote-open")
    wait.until(lambda d: d.find_element(By.ID, "tote-state").text == "Tote: open")
    test_tote.scan(agent, SHIRT)
    wait.until(lambda d: "Order for pickup at s007" in aisle_text(d))
    shoot(browser, shots, "1-out-of-stock-here")
    press_in(browser, '.aisle button[data-action="pickup@s007"]')
    wait.until(lambda d: "Ordered for pickup at s007: confirmed, order ea-" in aisle_text(d))
    assert [x.fulfilment for x in test_tote.view(agent).lines] == ["pickup"]
    shoot(browser, shots, "2-pickup-confirmed")
