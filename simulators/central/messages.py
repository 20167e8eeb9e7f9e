"""The central simulator's own down messages (the watermark, snapshot and erasure request are
simulators/platform/events.py's, shared with the workers): the kiosk told its basket was claimed."""

from __future__ import annotations

from edge_agent.contract.claim import BasketClaimed, BasketClaimedEvent
from edge_agent.contract.topics import Topics
from simulators.basket_claims import Admitted
from simulators.central.const import SOURCE
from simulators.platform.events import platform_event


def claimed_message(admitted: Admitted, claimed: BasketClaimed) -> tuple[str, bytes]:
    """(topic, payload) to the kiosk whose guest basket the shopper took."""
    event_id = f"claimed:{admitted.claim_id}"
    event = platform_event(BasketClaimedEvent, admitted.tenant, SOURCE, event_id, claimed, admitted.cart)
    return Topics(admitted.tenant, admitted.store, admitted.device).basket_claimed, event.model_dump_json().encode()
