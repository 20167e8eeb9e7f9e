"""The central simulator's own down messages (the watermark and snapshot are simulators/platform/events.py's,
shared with the workers): the kiosk told its basket was claimed, the store's devices asked to forget a cart."""

from __future__ import annotations

from edge_agent.contract.base import utcnow
from edge_agent.contract.claim import BasketClaimed, BasketClaimedEvent
from edge_agent.contract.device import ErasureRequest, ErasureRequestEvent
from edge_agent.contract.topics import Topics
from simulators.basket_claims import Admitted
from simulators.central.const import SOURCE


def claimed_message(admitted: Admitted, claimed: BasketClaimed) -> tuple[str, bytes]:
    """(topic, payload) to the kiosk whose guest basket the shopper took."""
    event = BasketClaimedEvent(
        source=f"urn:{admitted.tenant}:platform:{SOURCE}",
        id=f"claimed:{admitted.claim_id}",
        time=utcnow(),
        subject=admitted.cart,
        data=claimed,
    )
    return Topics(admitted.tenant, admitted.store, admitted.device).basket_claimed, event.model_dump_json().encode()


def erasure_message(tenant: str, store: str, request_id: str, cart_id: str) -> tuple[str, bytes]:
    """(topic, payload) asking the store's devices to forget their copies of an erased shopper's cart."""
    request = ErasureRequestEvent(
        source=f"urn:{tenant}:platform:{SOURCE}",
        id=f"erasure:{request_id}",
        time=utcnow(),
        data=ErasureRequest(request_id=request_id, carts=[cart_id]),
    )
    return Topics(tenant, store, "-").erasure, request.model_dump_json().encode()
