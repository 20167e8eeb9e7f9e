"""The shelf's own screen in a real browser (Debian's Chromium through Selenium), against the real agent, real
Mosquitto and the central simulator's catalog.

A scan at the shelf shows the item with its price, stock and other sizes, each with its as-of time, and the items
the catalog relates to it, named and priced. "Report a wrong label" on the page becomes a durable
``shelf.label.reported`` workflow event on the device's events topic, and the page confirms it; a second report of
the same lookup is refused in words; a report forged for a price the screen does not show is refused with its
reason. An item without a price says "price confirmed at checkout". A screenshot per step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from edge_agent.config import AgentConfig
from simulators.central import CentralPlatform
from tests.e2e.test_shelf_lookup import MORNING, OXFORD_L, OXFORD_M, shelf_config
from tests.support.broker import MosquittoBroker
from tests.support.browser import catalog_in, page_token, post, rows, screen_agent, shoot, start_screen_agent, text_of
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens

AgentFactory = Callable[[AgentConfig], InProcessAgent]
TIE, BELT = "08710398502131", "04006381333931"
EVENTS = "rt/v1/acme/st/s042/dv/shelf-07/events"
T_LABEL_REPORT = "com.edgeagent.shelf.label_report.v1"


def test_the_shelf_page_shows_a_lookup_with_its_as_of_times_and_reports_a_wrong_label(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    shirt = {"name": "Oxford shirt", "style": "oxford", "colour": "blue", "currency": "EUR", "price_as_of": MORNING}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {"gtin14": OXFORD_M, "size": "M", "price_minor": 3999, "stock": 3, "stock_as_of": MORNING,
             "related": [TIE], **shirt},
            {"gtin14": OXFORD_L, "size": "L", "price_minor": 3999, "stock": 0, "stock_as_of": MORNING, **shirt},
            {"gtin14": TIE, "name": "Silk tie", "price_minor": 2499, "currency": "EUR", "price_as_of": MORNING},
            {"gtin14": BELT, "name": "Leather belt"},
        ],
    )  # fmt: skip
    spy = Spy(broker)
    try:
        config = shelf_config(tmp_path, broker.port)
        screen = start_screen_agent(agent_factory, config, catalog_in, "connected, the catalog in", 20)
        agent, url = screen.agent, screen.url
        wait = screen.open(browser)
        assert browser.find_element(By.ID, "idle").is_displayed()
        shoot(browser, shots, "1-idle")

        # A scan: name, price, stock, other sizes, each with its as-of time; related items named and priced.
        agent.scan(OXFORD_M)
        wait.until(lambda d: d.find_element(By.ID, "lookup").is_displayed())
        assert browser.find_element(By.ID, "item-name").text == "Oxford shirt"
        assert browser.find_element(By.ID, "item-variant").text == "size M, blue"
        assert browser.find_element(By.ID, "price").text == "€39.99"
        assert browser.find_element(By.ID, "price-as-of").text == "Price as of 11/23/26, 8:00 AM"
        assert browser.find_element(By.ID, "stock").text == "3"
        assert browser.find_element(By.ID, "stock-as-of").text == "Stock as of 11/23/26, 8:00 AM"
        assert rows(browser, "size-table") == [("L", "blue", "0", "11/23/26, 8:00 AM")]
        assert rows(browser, "related-table") == [("Silk tie", "€24.99")]
        assert not browser.find_element(By.ID, "offline-price").is_displayed()
        wait.until(lambda d: "Oxford shirt: €39.99" in text_of(d, "live"))
        shoot(browser, shots, "2-lookup")

        # A report forged for a price the screen does not show is refused with its reason, and sends nothing.
        forged = {"type": T_LABEL_REPORT, "data": {"gtin14": OXFORD_M, "shown_price_minor": 100, "currency": "EUR"}}
        assert post(url + "actions", forged, {"X-Screen-Token": page_token(browser)}) == (
            400,
            {"reason": "price_not_shown", "detail": "the reported price is not the one the screen shows"},
        )

        # Report a wrong label: the event reaches the broker, durable, and the page confirms it.
        report = browser.find_element(By.ID, "report-label")
        assert report.size["width"] >= 44 and report.size["height"] >= 44
        report.click()
        wait.until(lambda d: d.find_element(By.ID, "reported").is_displayed())
        wait.until(lambda d: "the store has been told" in text_of(d, "live"))

        def reported() -> list[dict[str, Any]]:
            return [e for e in spy.on(EVENTS) if e["data"]["name"] == "shelf.label.reported"]

        wait_until(lambda: len(reported()) == 1, 10, "the label report on the device's events topic")
        [event] = reported()
        assert event["type"] == "com.edgeagent.workflow.shelf.label.reported.v1" and event["subject"] == OXFORD_M
        assert (event["data"]["ga4"], event["data"]["actor"]) == ("shelf_label_reported", "shopper")
        assert event["data"]["data"] == {
            "gtin14": OXFORD_M, "shown_price_minor": 3999, "currency": "EUR", "price_as_of": MORNING.isoformat(),
            "offline": False,
        }  # fmt: skip
        shoot(browser, shots, "3-label-reported")

        # Pressed again: refused, in words.
        browser.find_element(By.ID, "report-label").send_keys(" ")
        wait.until(lambda d: d.find_element(By.ID, "refused").is_displayed())
        assert "this label is reported already" in browser.find_element(By.ID, "refused").text
        shoot(browser, shots, "4-second-report-refused")
        assert len(reported()) == 1

        # An item the catalog has no price for: "price confirmed at checkout".
        agent.scan(BELT)
        wait.until(lambda d: d.find_element(By.ID, "item-name").text == "Leather belt")
        assert browser.find_element(By.ID, "price").text == "Price confirmed at checkout"
        assert not browser.find_element(By.ID, "refused").is_displayed()
        assert not browser.find_element(By.ID, "reported").is_displayed()
        assert not browser.find_element(By.ID, "sizes").is_displayed()
        shoot(browser, shots, "5-price-at-checkout")
    finally:
        spy.close()


def test_a_shopper_switches_the_shelf_page_to_their_language_and_figures_follow_its_conventions(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shirt = {"name": "Oxford shirt", "size": "M", "colour": "blue", "currency": "EUR", "price_as_of": MORNING}
    central.publish_catalog("acme", "s042", [{"gtin14": OXFORD_M, "price_minor": 3999, "stock": 3, **shirt}])
    config = shelf_config(tmp_path, broker.port)
    agent, wait = screen_agent(agent_factory, browser, config, catalog_in, "connected, the catalog in", 20)
    agent.scan(OXFORD_M)
    wait.until(lambda d: d.find_element(By.ID, "price").text == "€39.99")

    Select(browser.find_element(By.ID, "locale")).select_by_value("de")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Preisprüfung")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert browser.find_element(By.ID, "price").text.replace("\u00a0", " ") == "39,99 €"
    assert browser.find_element(By.ID, "price-as-of").text == "Preis, Stand 23.11.26, 08:00"
    assert browser.find_element(By.ID, "report-label").text == "Falsches Etikett melden"
    shoot(browser, tmp_path / "screenshots", "1-german")
    Select(browser.find_element(By.ID, "locale")).select_by_value("ru")
    wait.until(lambda d: d.find_element(By.ID, "report-label").text == "Сообщить о неверном ценнике")
    shoot(browser, tmp_path / "screenshots", "2-russian")
