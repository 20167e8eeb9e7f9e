"""The platform's down messages built once for both platforms: the applied watermark, a cart snapshot and an
erasure request, and the envelope every platform-side event of the simulators is stamped with."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel

from edge_agent.contract.base import CloudEvent, utcnow
from edge_agent.contract.cart import AppliedEvent, AppliedWatermark, CartSnapshot, SnapshotEvent
from edge_agent.contract.device import ERASURE_CARTS_MAX, ErasureRequest, ErasureRequestEvent
from edge_agent.contract.topics import Topics

E = TypeVar("E", bound=CloudEvent[Any])


def platform_event(
    kind: type[E], tenant: str, source: str, event_id: str, data: BaseModel, subject: str | None = None
) -> E:
    """An event of the platform's ``source`` role (``urn:{tenant}:platform:{source}``), stamped now."""
    fields: dict[str, Any] = {"source": f"urn:{tenant}:platform:{source}", "id": event_id, "time": utcnow()}
    return kind(**fields, subject=subject, data=data)  # ``type`` is each event class's own default


def watermark_message(
    tenant: str, store: str, wm: AppliedWatermark, source: str, answers: str | None = None
) -> tuple[str, bytes]:
    """(topic, payload) of a device's watermark; ``answers`` names the sync request it answers."""
    if answers is not None:
        wm = wm.model_copy(update={"answers": answers})
    event = platform_event(AppliedEvent, tenant, source, f"applied:{wm.device}:{uuid.uuid4()}", wm)
    return Topics(tenant, store, wm.device).acks, event.model_dump_json().encode()


def snapshot_message(tenant: str, store: str, snap: CartSnapshot, source: str) -> tuple[str, bytes]:
    event = platform_event(SnapshotEvent, tenant, source, f"snapshot:{snap.cart_id}:{snap.version}", snap, snap.cart_id)
    return Topics(tenant, store, "-").cart_state(snap.cart_id), event.model_dump_json().encode()


def erasure_request_message(
    tenant: str, store: str, request_id: str, carts: list[str], source: str
) -> tuple[str, bytes]:
    """(topic, payload) asking the store's devices to forget ``carts`` (at most 100, the contract's bound)."""
    data = ErasureRequest(request_id=request_id, carts=carts)
    request = platform_event(ErasureRequestEvent, tenant, source, f"erasure:{request_id}", data)
    return Topics(tenant, store, "-").erasure, request.model_dump_json().encode()


def erasure_replays(tenant: str, store: str, erased: set[str], source: str) -> list[tuple[str, bytes]]:
    """The erasure asked again of a device whose sync request still lists erased carts: it was away when the
    erasure went out (neither NATS nor an expired MQTT session keeps a plain publish for it). Each replay has a
    fresh request id; a device forgets a cart however often it is asked, and answers each request."""
    ordered = sorted(erased)
    return [
        erasure_request_message(tenant, store, f"replay-{uuid.uuid4().hex}", ordered[i : i + ERASURE_CARTS_MAX], source)
        for i in range(0, len(ordered), ERASURE_CARTS_MAX)
    ]


def erasure_messages(tenant: str, store: str, request_id: str, cart_id: str, source: str) -> list[tuple[str, bytes]]:
    """What an erasure publishes once committed: the empty retained snapshot (clears the broker's copy) and the
    request asking the store's devices to forget theirs."""
    cleared = (Topics(tenant, store, "-").cart_state(cart_id), b"")
    return [cleared, erasure_request_message(tenant, store, request_id, [cart_id], source)]
