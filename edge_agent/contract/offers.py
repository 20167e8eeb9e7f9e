"""Consent at the device and offers with consent: the shopper's scopes, the platform's offers for a session.

- ``dv/{device}/offers/{session_id}`` (down, retained, per session): the offers the platform chose for an identified
  shopper who granted ``personalisation``. The platform clears it (empty retained payload) when the session ends or
  the scope is withdrawn; the device drops offers for any session but its current one and for a shopper without the
  scope, whatever the platform sends.
- ``dv/{device}/ui`` takes :class:`OfferCommand` (accept, dismiss) and :class:`ConsentCommand` (grant, withdraw) from
  the device's screen. Both become durable cart ops (``offer.<id>`` on the session's cart, ``consent.<scope>`` on the
  profile cart): nothing is lost offline, and the platform confirms them like any op.

The edge never prices an offer: an accepted offer is an attribute the platform applies at checkout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.domain.ops import Gtin14

T_OFFERS: Final = "com.edgeagent.session.offers.v1"
T_OFFER_COMMAND: Final = "com.edgeagent.session.offer_command.v1"
T_CONSENT_COMMAND: Final = "com.edgeagent.session.consent_command.v1"

OFFERS_PER_MESSAGE_MAX: Final = 10
"""Offers in one message; a kiosk shows a handful (the device's frequency cap is lower still)."""

ConsentScope = Literal["profile", "cart_sync", "analytics", "personalisation"]
"""``profile``: the device may keep the shopper's profile cart and name them on events; ``cart_sync``: the session's
basket may join (merge into) the profile cart; ``analytics``: events may link the session to the profile;
``personalisation``: the platform may publish offers for the session."""

SessionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
OfferId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
"""Lower case, so ``offer.<id>`` is a cart attribute key (contract/cart.py ``SnapshotAttr``)."""


class Offer(Strict):
    """One offer as the platform words it: the device shows the text, never computes a price from it."""

    offer_id: OfferId
    title: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    detail: Annotated[str, StringConstraints(max_length=200)] = ""
    gtin14: Gtin14 | None = Field(default=None, description="the item the offer is about, when there is one")
    expires_at: AwareDatetime = Field(description="after this the device no longer shows it")


class SessionOffers(Strict):
    """Down, retained on ``dv/{device}/offers/{session_id}``: the current offers for that session (a full state)."""

    session_id: SessionId
    offers: list[Offer] = Field(default=[], max_length=OFFERS_PER_MESSAGE_MAX)


class OfferView(Strict):
    """An offer on the screen; ``accepted`` once the shopper took it, ``pending`` until the platform confirms that."""

    offer_id: OfferId
    title: str
    detail: str = ""
    gtin14: Gtin14 | None = None
    expires_at: datetime
    accepted: bool = False
    pending: bool = False


class OfferCommand(Strict):
    """Down, from the device's UI: the shopper accepts or dismisses an offer the screen shows."""

    action: Literal["accept", "dismiss"]
    session_id: SessionId
    offer_id: OfferId


class ConsentCommand(Strict):
    """Down, from the device's UI: the identified shopper grants or withdraws one scope for their session."""

    action: Literal["grant", "withdraw"]
    session_id: SessionId
    scope: ConsentScope


class SessionOffersEvent(CloudEvent[SessionOffers]):
    type: Literal["com.edgeagent.session.offers.v1"] = T_OFFERS


class OfferCommandEvent(CloudEvent[OfferCommand]):
    type: Literal["com.edgeagent.session.offer_command.v1"] = T_OFFER_COMMAND


class ConsentCommandEvent(CloudEvent[ConsentCommand]):
    type: Literal["com.edgeagent.session.consent_command.v1"] = T_CONSENT_COMMAND
