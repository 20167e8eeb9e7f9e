"""The platform's down messages built once for both platforms: the applied watermark and a cart snapshot."""

from __future__ import annotations

import uuid

from edge_agent.contract.base import utcnow
from edge_agent.contract.cart import AppliedEvent, AppliedWatermark, CartSnapshot, SnapshotEvent
from edge_agent.contract.topics import Topics


def watermark_message(
    tenant: str, store: str, wm: AppliedWatermark, source: str, answers: str | None = None
) -> tuple[str, bytes]:
    """(topic, payload) of a device's watermark; ``answers`` names the sync request it answers."""
    if answers is not None:
        wm = wm.model_copy(update={"answers": answers})
    event = AppliedEvent(
        source=f"urn:{tenant}:platform:{source}", id=f"applied:{wm.device}:{uuid.uuid4()}", time=utcnow(), data=wm
    )
    return Topics(tenant, store, wm.device).acks, event.model_dump_json().encode()


def snapshot_message(tenant: str, store: str, snap: CartSnapshot, source: str) -> tuple[str, bytes]:
    event = SnapshotEvent(
        source=f"urn:{tenant}:platform:{source}",
        id=f"snapshot:{snap.cart_id}:{snap.version}",
        time=utcnow(),
        subject=snap.cart_id,
        data=snap,
    )
    return Topics(tenant, store, "-").cart_state(snap.cart_id), event.model_dump_json().encode()
