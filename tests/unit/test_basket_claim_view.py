"""The kiosk's claim corner on the real basket and session (a real SQLite DeviceStore, a clock the test moves):
when a link is offered, that it stays still while the shopper scans and is re-signed before it expires, that an
identified shopper gets none, and what the platform's word that the basket was claimed does to the session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from edge_agent.config import AgentConfig
from edge_agent.contract.claim import BasketClaimed, ClaimView
from edge_agent.contract.topics import Topics
from edge_agent.domain.session import SessionState
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity import const
from edge_agent.identity.claim_token import claim_key, token_of_link, verify_claim
from edge_agent.identity.tokens import Claims, TokenVerifier, issue_token
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.base import Envelope, Ports
from edge_agent.roles.basket import ShopperBasket
from edge_agent.roles.claim_config import ClaimSection
from edge_agent.store.device import DeviceStore

KEY = bytes.fromhex("33" * 32)
T0 = 1_790_000_000.0
SHOES, SOCKS = "09506000134352", "04006381333931"
GUEST = "kiosk-01-basket"


class Views:
    """The outlet as a role sees it (the Publisher port): what was published, by topic."""

    def __init__(self) -> None:
        self.published: list[tuple[str, BaseModel]] = []

    def publish(self, topic: str, envelope: Envelope, data: BaseModel, **_: Any) -> int | None:
        self.published.append((topic, data))
        return None

    def clear(self, topic: str) -> int | None:
        return None


class Kiosk:
    def __init__(self, tmp_path: Path, *, claim: bool = True, identity: bool = True, public_keys: bool = False) -> None:
        raw: dict[str, Any] = {
            "device": {"id": "kiosk-01", "tenant": "acme", "store": "s042", "role": "kiosk"},
            "storage": {"path": str(tmp_path / "kiosk.db")},
            "mqtt": {"endpoints": [{"host": "127.0.0.1", "port": 1883}]},
            "basket": {"cart_id": GUEST},
        }
        if identity:
            raw["identity"] = {"key_files": [str(tmp_path / "identity.key")]}
        if claim:
            raw["claim"] = {"base_url": "https://shop.example"}
        device_claim_key = None
        if public_keys:  # the device holds the platform's public key and its own claim key, no platform key
            raw["identity"] = {"public_key_files": [str(tmp_path / "identity.pub")]}
            raw["claim"]["key_file"] = str(tmp_path / "claim.key")
            device_claim_key = claim_key(KEY, "kiosk-01")
        config = AgentConfig.model_validate(raw)
        self.now = T0
        self.out = Views()
        self.rejected: list[tuple[str, str]] = []
        self.topics = Topics("acme", "s042", "kiosk-01")
        self.store = DeviceStore.open(tmp_path / "kiosk.db", "kiosk-01")
        self.ports = Ports(
            config=config,
            store=self.store,
            topics=self.topics,
            verifier=(TokenVerifier(public_keys=(b"p" * 32,)) if public_keys else TokenVerifier((KEY,)))
            if identity
            else None,
            out=self.out,
            record=lambda commands, meta=None: self.store.record(commands, meta),
            emit=lambda _events, _profile: None,
            online=lambda: True,
            follow_cart=lambda _cart: None,
            reject=lambda topic, rej: self.rejected.append((topic, rej.reason)),
            now=lambda: self.now,
            claim_key=device_claim_key,
        )
        self.basket = ShopperBasket(self.ports, screen_key=b"k" * 32)
        self.basket.start()

    def scan(self, *gtins: str) -> None:
        self.store.record([self.basket.scanned(ProductKey(g)) for g in gtins])
        self.basket.saved({self.basket.cart_id})

    def view(self) -> ClaimView:
        shown = [v for t, v in self.out.published if t == self.topics.basket_claim]
        assert all(isinstance(v, ClaimView) for v in shown)
        return shown[-1] if shown else ClaimView(state="none")  # type: ignore[return-value]

    def claimed(self, cart: str, claim_id: str = "claim-0001") -> None:
        at = datetime.fromtimestamp(self.now, UTC)
        self.basket.claim.claimed(BasketClaimed(cart=cart, claim_id=claim_id, claimed_at=at, units=2))


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    return Kiosk(tmp_path)


def test_a_link_is_offered_for_the_guest_basket_once_it_holds_something(kiosk: Kiosk) -> None:
    assert kiosk.view().state == "none"
    kiosk.scan(SHOES)
    view = kiosk.view()
    assert view.state == "offered" and view.link is not None
    token = token_of_link(view.link)
    assert token is not None
    claims = verify_claim((KEY,), token, kiosk.now)
    assert (claims.dev, claims.cart, claims.exp) == ("kiosk-01", GUEST, int(T0) + const.CLAIM_TTL_S)
    assert view.expires_at == datetime.fromtimestamp(claims.exp, UTC)


def test_the_link_stays_still_while_scanning_and_is_re_signed_before_it_expires(kiosk: Kiosk) -> None:
    kiosk.scan(SHOES)
    first = kiosk.view().link
    kiosk.now += const.CLAIM_TTL_S - const.CLAIM_REFRESH_BEFORE_S - 1
    kiosk.scan(SOCKS)
    kiosk.basket.housekeeping()
    assert kiosk.view().link == first, "the QR does not change under the shopper's eyes"
    kiosk.now += 2
    kiosk.basket.housekeeping()
    renewed = kiosk.view().link
    assert renewed is not None and renewed != first
    token = token_of_link(renewed)
    assert token is not None and verify_claim((KEY,), token, kiosk.now).exp == int(kiosk.now) + const.CLAIM_TTL_S


def test_an_identified_shopper_gets_no_link(kiosk: Kiosk) -> None:
    kiosk.scan(SHOES)
    claims = Claims(
        kind="card", sub="shopper-7-pseudo", cart="profile-7", consent=("cart_sync",), iat=int(T0), nonce="card0001"
    )
    kiosk.basket.identity(IdentityPresented(issue_token(KEY, claims), "nfc", "nfc", T0))
    assert kiosk.basket.sessions.session.state is SessionState.MERGE_PREVIEW
    assert kiosk.view().state == "none"


def test_once_the_shopper_asks_to_pay_at_the_till_the_link_goes(kiosk: Kiosk) -> None:
    kiosk.scan(SHOES)
    assert kiosk.view().state == "offered"
    kiosk.basket.checkout()
    assert kiosk.view().state == "none"


def test_a_claim_of_the_current_basket_ends_the_session_and_says_so_until_the_next_basket(kiosk: Kiosk) -> None:
    kiosk.scan(SHOES, SOCKS)
    kiosk.claimed(GUEST)
    assert kiosk.basket.cart_id != GUEST, "a fresh basket"
    assert kiosk.basket.sessions.session.guest_cart == kiosk.basket.cart_id
    assert kiosk.view().state == "claimed" and kiosk.view().units == 2 and kiosk.view().link is None
    kiosk.claimed(GUEST)  # a redelivery
    assert kiosk.rejected == []
    kiosk.scan(SOCKS)
    view = kiosk.view()
    assert view.state == "offered" and view.link is not None
    token = token_of_link(view.link)
    assert token is not None and verify_claim((KEY,), token, kiosk.now).cart == kiosk.basket.cart_id


def test_a_claim_of_another_basket_is_refused_with_a_reason_and_changes_nothing(kiosk: Kiosk) -> None:
    kiosk.scan(SHOES)
    kiosk.claimed("kiosk-01-someoneelse")
    assert kiosk.rejected == [(kiosk.topics.basket_claimed, "claim_not_current")]
    assert kiosk.basket.cart_id == GUEST and kiosk.view().state == "offered"


@pytest.mark.parametrize(("claim", "identity"), [(False, True), (True, False)])
def test_without_the_shop_s_address_or_the_identity_key_there_is_no_link(
    tmp_path: Path, claim: bool, identity: bool
) -> None:
    kiosk = Kiosk(tmp_path, claim=claim, identity=identity)
    kiosk.scan(SHOES)
    kiosk.basket.housekeeping()
    kiosk.basket.publish()
    assert [t for t, _ in kiosk.out.published if t == kiosk.topics.basket_claim] == [], "not even a 'none' view"
    assert kiosk.basket.claim.routes() == []


def test_the_shop_s_address_must_be_https() -> None:
    with pytest.raises(ValueError):
        ClaimSection.model_validate({"base_url": "http://shop.example"})
    assert ClaimSection.model_validate({"base_url": "https://shop.example/de"}).base_url == "https://shop.example/de"


def test_a_kiosk_with_public_identity_keys_signs_links_with_its_own_claim_key(tmp_path: Path) -> None:
    """No platform key on the device: the platform derived this device's claim key and still verifies under its
    own key, as for a legacy device."""
    kiosk = Kiosk(tmp_path, public_keys=True)
    kiosk.scan(SHOES)
    view = kiosk.view()
    assert view.state == "offered" and view.link is not None
    token = token_of_link(view.link)
    assert token is not None and verify_claim((KEY,), token, kiosk.now).dev == "kiosk-01"
