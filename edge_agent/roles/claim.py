"""Take my basket to my phone, at the kiosk: a short-lived signed link for the guest basket, shown as a QR, and
what happens when the platform says a shopper claimed it online.

The link is for the guest basket only: once the shopper identified at the kiosk (merge preview, merged, kept
separate) their basket already has a way to their profile, so no link is offered. The token is re-signed when the
guest cart changes (a new session) or has less than ``CLAIM_REFRESH_BEFORE_S`` left, not on every scan: the QR
stays still while the shopper scans, and the claim takes whatever the basket holds when they open the link.

After a claim the session ends and the next scan goes to a **fresh** guest basket, rather than following the
profile cart: the shopper has walked off with the basket on their phone, and the next person at the kiosk must not
see (or add to) that shopper's cart. The kiosk says "your basket is on your phone now" until a new basket starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from edge_agent.contract.claim import T_BASKET_CLAIMED, BasketClaimed, BasketClaimedEvent, ClaimView, ClaimViewEvent
from edge_agent.contract.codec import Rejected
from edge_agent.domain.session import Session, SessionState
from edge_agent.identity import const
from edge_agent.identity.claim_token import claim_key, claim_link, sign_claim
from edge_agent.roles.base import Ports, Route

log = logging.getLogger(__name__)

CLAIMS_REMEMBERED = 64
"""Claim ids kept to recognise a redelivered claim (QoS 1 is at least once); a kiosk sees a few an hour."""

NONE = ClaimView(state="none")


class BasketClaim:
    """The kiosk's claim link and its end: built by the basket, which tells it what the session holds."""

    def __init__(self, ports: Ports, end_session: Callable[[str], None]) -> None:
        self.ports = ports
        self._end_session = end_session
        """Called with the claimed guest cart: the basket ends the session and starts a fresh basket."""
        section = ports.config.claim
        legacy = ports.verifier.keys if ports.verifier is not None else ()
        self._base_url = section.base_url if section is not None else None
        self._key = ports.claim_key
        if self._key is None and legacy:
            self._key = claim_key(legacy[0], ports.device)
        self._guest_cart: str | None = None
        self._offerable = False
        self._offer: tuple[str, str, int] | None = None
        """(guest cart, link, expiry) of the link shown now."""
        self._claimed: ClaimView | None = None
        self._claim_ids: list[str] = []
        self._shown: ClaimView | None = None

    @property
    def enabled(self) -> bool:
        """A link needs both the shop's address ([claim]) and a claim key to sign it with ([claim] key_file, or one
        derived from a legacy [identity] key)."""
        return self._base_url is not None and self._key is not None

    @property
    def view(self) -> ClaimView:
        """What the kiosk shows now (also retained on ``dv/{device}/claim``)."""
        return self._shown or NONE

    def update(self, session: Session, units: int) -> None:
        """The basket changed: a link is offered while the session is anonymous and its guest basket holds
        something (not once the shopper identified, nor for a session that just ended)."""
        offerable = session.state is SessionState.ANONYMOUS and session.identity is None and units > 0
        self._guest_cart, self._offerable = session.guest_cart, offerable
        if offerable:
            self._claimed = None  # a new basket has begun: the last shopper's "on your phone" is done
        self._show()

    def tick(self) -> None:
        """Housekeeping: a link near its expiry is replaced."""
        self._show()

    def republish(self) -> None:
        """A (re)connected uplink gets the current view again."""
        self._shown = None
        self._show()

    def routes(self) -> list[Route]:
        handlers = {T_BASKET_CLAIMED: (BasketClaimedEvent, lambda _t, claimed: self.claimed(claimed))}
        return [Route(self.ports.topics.basket_claimed, handlers)] if self.enabled else []

    def subscriptions(self) -> list[str]:
        return [self.ports.topics.basket_claimed] if self.enabled else []

    def claimed(self, claimed: BasketClaimed) -> None:
        """The platform joined the guest basket into a shopper's profile: end the session, say so on the screen."""
        if claimed.claim_id in self._claim_ids:
            return  # a redelivery of a claim already shown
        if claimed.cart != self._guest_cart:
            detail = f"claim {claimed.claim_id} names a cart that is not this kiosk's current guest basket"
            self.ports.reject(self.ports.topics.basket_claimed, Rejected("claim_not_current", detail))
            return
        self._claim_ids = [*self._claim_ids[-(CLAIMS_REMEMBERED - 1) :], claimed.claim_id]
        log.info("basket %s was claimed online (%d units); starting a new basket", claimed.cart, claimed.units)
        self._claimed = ClaimView(state="claimed", claimed_at=claimed.claimed_at, units=claimed.units)
        self._offer = None
        self._end_session(claimed.cart)  # the basket calls update() with its fresh, empty guest cart
        self._show()

    def _view(self) -> ClaimView:
        if not self.enabled or self._guest_cart is None or not self._offerable:
            self._offer = None
            return self._claimed or NONE
        assert self._key is not None and self._base_url is not None
        now = self.ports.now()
        offer = self._offer
        if offer is None or offer[0] != self._guest_cart or offer[2] - now < const.CLAIM_REFRESH_BEFORE_S:
            token = sign_claim(self._key, self.ports.device, self._guest_cart, now)
            offer = self._offer = (self._guest_cart, claim_link(self._base_url, token), int(now) + const.CLAIM_TTL_S)
        return ClaimView(state="offered", link=offer[1], expires_at=datetime.fromtimestamp(offer[2], UTC))

    def _show(self) -> None:
        if not self.enabled:
            return  # a device without [claim] (or without [identity]) publishes no claim view at all
        view = self._view()
        if view != self._shown:
            self._shown = view
            self.ports.show(ClaimViewEvent, view, self.ports.topics.basket_claim)
