"""The fitting-room mirror's own screen in a real browser (Debian's Chromium through Selenium), against the real
agent, real Mosquitto and real nfcpy (hang tags on the udp driver).

Hang tags tapped on the mirror appear as garments with the sizes and colours in stock here and the time the stock
was counted; "bring me this" on the page raises an assist request that the associates' handhelds see; a handheld
acknowledges it (on its way), brings it, or answers that another is not available and why, and the page shows and
announces each state. Saving the try-on list without consent is refused in words, with consent it is saved. Leaving
the room on the page purges it. A screenshot per step is kept under the test's tmp dir.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.workflow import AssistReply, AssistReplyEvent
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from simulators.central import CentralPlatform
from simulators.nfc_tags import TagEmulator
from tests.e2e.test_fitting_room import JEANS_30, JEANS_32, JEANS_34, KEY, MORNING, PREFIX, mirror_config, send, tap
from tests.support.broker import MosquittoBroker
from tests.support.browser import catalog_in, rows, screen_agent, shoot, text_of
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens

AgentFactory = Callable[[AgentConfig], InProcessAgent]
JEANS = {"name": "Slim jeans", "style": "slim-indigo", "colour": "indigo", "currency": "EUR", "price_minor": 6999}


def reply(broker: MosquittoBroker, request_id: str, action: str, reason: str = "") -> None:
    """What an associate's handheld sends the mirror."""
    data = AssistReply(request_id=request_id, action=action, associate="emp-042", reason=reason)  # type: ignore[arg-type]
    event = AssistReplyEvent(source="urn:acme:handheld-04", id=f"r-{request_id}-{action}", time=utcnow(), data=data)
    send(broker, f"{PREFIX}/dv/mirror-02/assist", event)


def press(driver: webdriver.Chrome, selector: str) -> bool:
    """Click a button the page may re-render at any moment (each view redraws the list): False to try again."""
    try:
        driver.find_element(By.CSS_SELECTOR, selector).click()
    except StaleElementReferenceException:
        return False
    return True


def request_states(driver: webdriver.Chrome) -> list[tuple[str, str]]:
    script = (
        "return Array.from(document.querySelectorAll('#request-list li'))"
        ".map(li => [li.dataset.state, li.querySelector('span').textContent]);"
    )
    return [(state, text) for state, text in driver.execute_script(script)]


def identify(agent: InProcessAgent, nonce: str, consent: tuple[str, ...]) -> None:
    now = int(time.time())
    claims = Claims(kind="app", sub="shopper-ada-7f3c", cart="profile-ada", consent=consent, iat=now, exp=now + 300,
                    nonce=nonce)  # type: ignore[arg-type]  # fmt: skip
    token = issue_token(KEY, claims)
    agent.call(lambda: agent.agent.submit(IdentityPresented(token, "qr", "camera", time.time())))  # type: ignore[union-attr]


def test_the_mirror_page_lists_sizes_in_stock_raises_an_assist_request_shows_its_states_and_leaves_the_room(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    central.publish_catalog(
        "acme",
        "s042",
        [
            {**JEANS, "gtin14": JEANS_30, "size": "30", "stock": 2, "stock_as_of": MORNING},
            {**JEANS, "gtin14": JEANS_32, "size": "32", "stock": 5, "stock_as_of": MORNING},
            {**JEANS, "gtin14": JEANS_34, "size": "34", "stock": 0, "stock_as_of": MORNING},
        ],
    )
    tags = TagEmulator.on_free_port().start()
    spy = Spy(broker)
    try:
        config = mirror_config(tmp_path, broker.port, tags.path)
        agent, wait = screen_agent(agent_factory, browser, config, catalog_in, "connected, the catalog in", 20)
        assert browser.find_element(By.ID, "vacant").is_displayed()
        assert browser.find_element(By.TAG_NAME, "h1").text == "Your fitting room"
        shoot(browser, shots, "1-vacant")

        # A hang tag tapped on the mirror: the garment, its own stock, the other sizes here, as of the count.
        tap(tags, JEANS_30, 1)
        sizes = f"sizes-{JEANS_30}"
        in_store = [("32", "indigo", "5", "Bring me this"), ("34", "indigo", "0", "None here")]
        wait.until(lambda d: rows(d, sizes) == in_store)
        garment = browser.find_element(By.CSS_SELECTOR, f'li.garment[data-gtin="{JEANS_30}"]').text
        assert "Slim jeans" in garment and "size 30" in garment and "This one in this store: 2" in garment
        assert "Stock as counted at 11/23/26" in garment, "the as-of time of the stock count, in the page's locale"
        bring = browser.find_element(By.CSS_SELECTOR, f'button[data-gtin="{JEANS_32}"]')
        assert bring.get_attribute("aria-label") == "Bring me this: Slim jeans, size 32, indigo"
        assert bring.size["width"] >= 44 and bring.size["height"] >= 44
        shoot(browser, shots, "2-garment-with-sizes")

        # "Bring me this": an assist request, on the associates' topic, shown and announced on the mirror.
        wait.until(lambda d: press(d, f'button[data-gtin="{JEANS_32}"]'))
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["requested"])
        assert request_states(browser)[0][1] == "Slim jeans, size 32, indigo: requested. An associate will answer soon."
        wait.until(lambda d: "requested" in text_of(d, "live"))
        assert agent.agent is not None
        request_id = agent.agent.role.last_view.requests[0].request_id  # type: ignore[attr-defined]
        handhelds_see = f"{PREFIX}/assist/requests/mirror-02/{request_id}"
        wait_until(lambda: bool(spy.on(handhelds_see)), 10, "the request on the associates' topic")
        assert spy.on(handhelds_see)[-1]["data"]["target_gtin"] == JEANS_32
        shoot(browser, shots, "3-requested")

        # A handheld acknowledges: on its way. Then brings it.
        reply(broker, request_id, "acknowledge")
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["acknowledged"])
        assert "on the way" in request_states(browser)[0][1]
        wait.until(lambda d: "on the way" in text_of(d, "live"))
        shoot(browser, shots, "4-on-its-way")
        reply(broker, request_id, "delivered")
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["delivered"])
        wait.until(lambda d: "brought to you" in text_of(d, "live"))
        shoot(browser, shots, "5-brought")

        # Help asked for; the associate takes it, then answers it cannot be done now, with the reason.
        wait.until(lambda d: press(d, "#help"))
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["delivered", "requested"])
        help_id = next(r.request_id for r in agent.agent.role.last_view.requests)  # type: ignore[attr-defined]
        reply(broker, help_id, "acknowledge")
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["delivered", "acknowledged"])
        reply(broker, help_id, "unavailable", "everyone is at the tills")
        wait.until(lambda d: [s for s, _ in request_states(d)] == ["delivered", "unavailable"])
        assert request_states(browser)[1][1] == "Help in the room: not available, sorry (everyone is at the tills)."
        wait.until(lambda d: "not available" in text_of(d, "live"))
        shoot(browser, shots, "6-unavailable-with-reason")

        # Saving the try-on list: without the "profile" consent, refused in words; with it, saved.
        identify(agent, "mirror-s-0001", ())
        wait.until(lambda d: d.find_element(By.ID, "refused").is_displayed())
        assert "saving needs your consent in the app" in browser.find_element(By.ID, "refused").text
        shoot(browser, shots, "7-save-refused")
        identify(agent, "mirror-s-0002", ("profile",))
        wait.until(lambda d: d.find_element(By.ID, "saved").is_displayed())
        assert not browser.find_element(By.ID, "refused").is_displayed()
        wait.until(lambda d: "Saved to your wishlist." in text_of(d, "live"))
        page = browser.page_source
        assert "shopper-ada" not in page and "profile-ada" not in page, "no pseudonym or profile id on the mirror"
        assert "04000000000001" not in page.lower(), "no NFC UID on the mirror"
        shoot(browser, shots, "8-saved")

        # Leave the room, from the keyboard: vacant, purged.
        wait.until(lambda d: d.find_element(By.ID, "leave").is_displayed())
        browser.find_element(By.ID, "leave").send_keys(" ")
        wait.until(lambda d: d.find_element(By.ID, "vacant").is_displayed())
        assert not browser.find_element(By.ID, "garments").is_displayed()
        assert request_states(browser) == []
        wait.until(lambda d: "The room is free again." in text_of(d, "live"))
        wait_until(lambda: agent.agent.role.last_view.state == "vacant", 10, "the room is vacant")  # type: ignore[attr-defined]
        shoot(browser, shots, "9-left")
    finally:
        spy.close()
        tags.stop()


def test_a_shopper_switches_the_mirror_to_their_language(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    central.publish_catalog(
        "acme",
        "s042",
        [
            {**JEANS, "gtin14": JEANS_30, "size": "30", "stock": 2, "stock_as_of": MORNING},
            {**JEANS, "gtin14": JEANS_32, "size": "32", "stock": 5, "stock_as_of": MORNING},
        ],
    )
    tags = TagEmulator.on_free_port().start()
    try:
        config = mirror_config(tmp_path, broker.port, tags.path)
        _agent, wait = screen_agent(agent_factory, browser, config, catalog_in, "connected, the catalog in", 20)
        tap(tags, JEANS_30, 1)
        wait.until(lambda d: rows(d, f"sizes-{JEANS_30}") == [("32", "indigo", "5", "Bring me this")])

        Select(browser.find_element(By.ID, "locale")).select_by_value("de")
        wait.until(lambda d: rows(d, f"sizes-{JEANS_30}") == [("32", "indigo", "5", "Bitte bringen")])
        assert browser.find_element(By.TAG_NAME, "h1").text == "Ihre Umkleidekabine"
        garment = browser.find_element(By.CSS_SELECTOR, f'li.garment[data-gtin="{JEANS_30}"]').text
        assert "Größe 30" in garment and "Bestand laut Zählung vom 23.11.26, 08:00" in garment
        assert browser.find_element(By.ID, "leave").text == "Kabine verlassen"
        shoot(browser, tmp_path / "screenshots", "1-german")
        Select(browser.find_element(By.ID, "locale")).select_by_value("et")
        wait.until(lambda d: d.find_element(By.ID, "leave").text == "Lahku kabiinist")
        shoot(browser, tmp_path / "screenshots", "2-estonian")
    finally:
        tags.stop()
