"""Take my basket to my phone, on the kiosk's own screen in a real browser (Debian's Chromium through Selenium).

The real agent (real Mosquitto, the central simulator) serves its page. Once the guest basket holds something the
page shows a QR, rendered by the agent as SVG on its own origin; decoded from a screenshot of the page it is exactly
the link the kiosk's claim view carries. The platform refuses an expired and a forged link with counted reasons;
the shopper takes the basket with the real link and the page says it is on their phone now, announces it, and
offers no QR any more. The QR is token-checked like the live stream. A screenshot per step.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from selenium import webdriver
from selenium.webdriver.common.by import By

from edge_agent.config import AgentConfig
from edge_agent.identity.claim_token import ClaimRefused, issue_claim, token_of_link
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.browser import page_token, shoot, start_screen_agent, text_of
from tests.support.claim import GUEST, HAT, KEY, PROFILE_CART, SHOES, SHOP, SOCKS, claim_config
from tests.support.world import InProcessAgent, wait_until

pytestmark = pytest.mark.screens
AgentFactory = Callable[[AgentConfig], InProcessAgent]
CATALOG = [
    {"gtin14": SHOES, "name": "Trail shoes", "price_minor": 8999, "currency": "EUR"},
    {"gtin14": SOCKS, "name": "Wool socks", "price_minor": 899, "currency": "EUR"},
]


def shown_link(agent: InProcessAgent) -> str | None:
    """The link in the kiosk's claim view (what dv/{device}/claim carries)."""
    return agent.call(lambda: agent.agent.basket.claim.view.link)  # type: ignore[union-attr,no-any-return]


def decoded_qr(browser: webdriver.Chrome) -> str:
    """The QR as the page shows it, decoded by zxing-cpp (the agent's own decoder library) from a screenshot of the
    image element. Not OpenCV's QRCodeDetector: it misreads about one random link in thirty."""
    png = browser.find_element(By.ID, "claim-qr").screenshot_as_png
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else ""


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.headers["Cache-Control"]
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.headers["Cache-Control"]


def test_the_kiosk_shows_a_qr_the_shopper_takes_the_basket_with_and_then_says_so(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    browser: webdriver.Chrome,
) -> None:
    shots = tmp_path / "screenshots"
    screen = start_screen_agent(agent_factory, claim_config(tmp_path, broker.port))
    agent, url = screen.agent, screen.url
    central.publish_catalog("acme", "s042", CATALOG)
    central.trust_identity_keys(KEY)
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    central.add_online(PROFILE_CART, HAT)

    wait = screen.open(browser)
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    assert not browser.find_element(By.ID, "claim").is_displayed(), "nothing to take from an empty basket"
    shoot(browser, shots, "1-empty")

    # Two scans: the QR appears, and it is the kiosk's link.
    agent.scan(SHOES, SOCKS)
    wait.until(lambda d: d.find_element(By.ID, "claim-qr").is_displayed())
    wait.until(lambda d: d.execute_script("return document.getElementById('claim-qr').naturalWidth") > 0)
    link = shown_link(agent)
    assert link is not None and link.startswith(f"{SHOP}/claim/EAC1.")
    wait.until(lambda d: decoded_qr(d) == link)  # the picture settles once the page has laid out the basket
    qr = browser.find_element(By.ID, "claim-qr")
    assert qr.size["width"] >= 300, "large enough for a phone at arm's length"
    assert qr.get_attribute("alt") == "QR code with the link that takes this basket to your phone"
    assert "The code works until" in text_of(browser, "claim-expires")
    assert PROFILE_CART not in browser.page_source and link not in browser.page_source, "the link is in the QR only"
    shoot(browser, shots, "2-qr")

    # The QR is a capability for the basket: only the page (its token) may fetch it, and nothing caches it.
    token = page_token(browser)
    assert fetch(url + "claim.svg")[0] == 403
    assert fetch(url + "claim.svg?token=" + token) == (200, "image/svg+xml", "no-store")

    # Links the platform refuses, with their counted reasons; the page still offers its own.
    wait_until(lambda: central.cart(GUEST) == {SHOES: 1, SOCKS: 1}, 20, "the guest basket synced")
    for bad, reason in (
        (issue_claim(KEY, "kiosk-01", GUEST, time.time() - 3600), "expired"),
        (issue_claim(bytes(32), "kiosk-01", GUEST, time.time()), "bad_signature"),
    ):
        with pytest.raises(ClaimRefused) as refused:
            central.claim(bad, PROFILE_CART)
        assert refused.value.reason == reason
    assert central.stats.claims_refused == {"expired": 1, "bad_signature": 1}
    assert browser.find_element(By.ID, "claim-qr").is_displayed()

    # The shopper, signed in on their phone, takes the basket with the link they scanned.
    scanned = token_of_link(decoded_qr(browser))
    assert scanned is not None
    central.claim(scanned, PROFILE_CART)
    assert central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 1}
    done = "Your basket is on your phone now."
    wait.until(lambda d: done in d.find_element(By.ID, "claim-done").text)
    wait.until(lambda d: done in text_of(d, "live"))
    assert not browser.find_element(By.ID, "claim-qr").is_displayed()
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    assert fetch(url + "claim.svg?token=" + token)[0] == 404, "no link once the basket is taken"
    assert PROFILE_CART not in browser.page_source
    shoot(browser, shots, "3-claimed")

    # The next shopper's scan: a fresh basket with a QR of its own.
    agent.scan(SOCKS)
    wait.until(lambda d: d.find_element(By.ID, "claim-qr").is_displayed())
    wait.until(lambda d: decoded_qr(d) not in ("", link))
    assert decoded_qr(browser) == shown_link(agent)
    shoot(browser, shots, "4-next-basket")
