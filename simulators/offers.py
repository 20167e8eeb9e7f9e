"""The reference platform's offers and consent records (issue 13): what a real platform must do with them.

- Consent: every ``consent.<scope>`` attribute a device writes on a profile cart (after its merge grant) is the
  shopper's change at that device; the platform records it and honours it everywhere.
- Offers: a profile cart's ``offers.session`` attribute (written by a device only with ``personalisation``) names the
  session, on the writing device, the platform may send offers to. :meth:`OfferDesk.publish` refuses without it or
  after the scope was withdrawn; the offers go retained on ``dv/{device}/offers/{session}`` and are cleared when the
  attribute is cleared or replaced (the session ended) or the scope withdrawn. The device enforces the same rules.
- Checkout: the accepted offers (``offer.<id>`` = ``accepted``) on a cart the platform seals are applied if this
  platform issued them to a session of the writing device; the edge never priced them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edge_agent.contract.base import utcnow
from edge_agent.contract.offers import Offer, SessionOffers, SessionOffersEvent
from edge_agent.contract.topics import Topics
from edge_agent.domain.consent import (
    ACCEPTED,
    CONSENT_ATTR_PREFIX,
    OFFER_ATTR_PREFIX,
    OFFERS_SESSION_ATTR,
    PERSONALISATION,
    WITHDRAWN,
)
from edge_agent.domain.ops import CartOp, OpKind
from simulators.platform.events import platform_event

log = logging.getLogger("central.offers")

Publish = Callable[[str, bytes, bool], None]
"""(topic, payload, retain): the platform's one MQTT client."""


@dataclass(frozen=True, slots=True)
class SessionLink:
    tenant: str
    store: str
    device: str
    session_id: str

    @property
    def topic(self) -> str:
        return Topics(self.tenant, self.store, self.device).offers(self.session_id)


@dataclass
class OfferDesk:
    publish_raw: Publish
    links: dict[str, SessionLink] = field(default_factory=dict)
    """Profile cart -> the session offers may go to now."""
    consent: dict[str, dict[str, str]] = field(default_factory=dict)
    """Profile cart -> scope -> ``granted`` | ``withdrawn``: the changes shoppers made at devices."""
    issued: dict[str, set[str]] = field(default_factory=dict)
    """Device -> offer ids this platform sent to its sessions (an accepted offer must be one of them)."""
    applied: dict[str, list[str]] = field(default_factory=dict)
    """Cart -> offers applied when it was sealed."""
    refused: Counter[str] = field(default_factory=Counter)

    def observe(
        self, tenant: str, store: str, ops: Iterable[CartOp], attrs_of: Callable[[str], dict[str, str | None]]
    ) -> None:
        """Applied ops, in the batch's transaction: consent changes, session links, checkouts with offers."""
        for op in ops:
            if op.kind is OpKind.CHECKOUT:
                self._checkout(op, attrs_of(op.cart_id))
            elif op.kind is not OpKind.ATTR_SET or op.key is None:
                continue
            elif op.key.startswith(CONSENT_ATTR_PREFIX) and op.value is not None:
                scope = op.key[len(CONSENT_ATTR_PREFIX) :]
                self.consent.setdefault(op.cart_id, {})[scope] = op.value
                log.info("central: %s %s at %s for %s", scope, op.value, op.device, op.cart_id)
                if scope == PERSONALISATION and op.value == WITHDRAWN:
                    self._unlink(op.cart_id)
            elif op.key == OFFERS_SESSION_ATTR:
                self._unlink(op.cart_id)
                if op.value:
                    self.links[op.cart_id] = SessionLink(tenant, store, op.device, op.value)

    def publish(self, profile_cart: str, offers: list[Offer]) -> bool:
        """Send offers to the shopper's current session; False (counted) without their personalisation consent."""
        link = self.links.get(profile_cart)
        if link is None or self.consent.get(profile_cart, {}).get(PERSONALISATION) == WITHDRAWN:
            self.refused["no_consent"] += 1
            return False
        event_id = f"offers:{link.session_id}:{utcnow().timestamp()}"
        data = SessionOffers(session_id=link.session_id, offers=offers)
        event = platform_event(SessionOffersEvent, link.tenant, "central-sim", event_id, data)
        self.issued.setdefault(link.device, set()).update(o.offer_id for o in offers)
        self.publish_raw(link.topic, event.model_dump_json(exclude_none=True).encode(), True)
        return True

    def forget(self, profile_cart: str) -> None:
        """The shopper was erased: their session link (and its retained offers) and consent records go too."""
        self._unlink(profile_cart)
        self.consent.pop(profile_cart, None)

    def session_of(self, profile_cart: str) -> str | None:
        link = self.links.get(profile_cart)
        return None if link is None else link.session_id

    def _unlink(self, profile_cart: str) -> None:
        link = self.links.pop(profile_cart, None)
        if link is not None:
            self.publish_raw(link.topic, b"", True)  # the session's offers are gone with it

    def _checkout(self, op: CartOp, attrs: dict[str, str | None]) -> None:
        issued = self.issued.get(op.device, set())
        accepted = sorted(
            key[len(OFFER_ATTR_PREFIX) :]
            for key, value in attrs.items()
            if key.startswith(OFFER_ATTR_PREFIX) and value == ACCEPTED
        )
        unknown = [o for o in accepted if o not in issued]
        self.refused["offer_not_issued"] += len(unknown)
        valid = [o for o in accepted if o in issued]
        if valid:
            self.applied[op.cart_id] = valid
            log.info("central: checkout of %s applies offers %s", op.cart_id, valid)
