"""Take my basket to my phone: the kiosk's claim link (up, retained, for its screen) and the platform's word that
a shopper claimed the guest basket online (down).

The link is a bearer capability for an anonymous guest basket, valid minutes (edge_agent/identity/claim_token.py):
it names the device and the guest cart, never a shopper. Only the device and the platform can read
``dv/{device}/claim`` (deploy/mosquitto/edge-agent.acl), so it is as private as the kiosk's screen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.domain.ops import CartId

T_CLAIM_VIEW: Final = "com.edgeagent.basket.claim_view.v1"
T_BASKET_CLAIMED: Final = "com.edgeagent.basket.claimed.v1"

ClaimLink = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.:/_-]+/claim/EAC1\.[A-Za-z0-9_.-]+$")]


class ClaimView(Strict):
    """Up, retained on ``dv/{device}/claim``: what the kiosk's "take my basket to my phone" corner shows."""

    state: Literal["none", "offered", "claimed"] = Field(
        description="none: nothing to take (empty basket, or the shopper merged at the kiosk); offered: a link for "
        "the guest basket (shown as a QR); claimed: the basket went to the shopper's phone, a fresh basket started"
    )
    link: ClaimLink | None = Field(
        default=None, max_length=600, description="offered: https://{platform}/claim/{token}; the QR's content"
    )
    expires_at: datetime | None = Field(default=None, description="offered: when the link stops working")
    claimed_at: datetime | None = Field(default=None, description="claimed: when the platform took the basket")
    units: int | None = Field(default=None, ge=0, le=100_000, description="claimed: units that went to the phone")


class BasketClaimed(Strict):
    """Down, on ``dv/{device}/claimed``: a signed-in shopper opened the link and took the basket; the platform has
    joined the guest cart into their profile cart. Names the guest cart only: never the profile or the shopper."""

    cart: CartId = Field(description="the guest cart the link named")
    claim_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = Field(
        description="the platform's id of this claim; a duplicate delivery carries the same id"
    )
    claimed_at: datetime
    units: int = Field(ge=0, le=100_000, description="units joined into the shopper's cart")


class ClaimViewEvent(CloudEvent[ClaimView]):
    type: Literal["com.edgeagent.basket.claim_view.v1"] = T_CLAIM_VIEW


class BasketClaimedEvent(CloudEvent[BasketClaimed]):
    type: Literal["com.edgeagent.basket.claimed.v1"] = T_BASKET_CLAIMED
