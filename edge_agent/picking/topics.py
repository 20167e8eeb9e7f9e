"""Picking topics, under the store prefix ``rt/v1/{tenant}/st/{store}/``.

Down (platform → every handheld of the store), all QoS 1 and **retained**, one topic per order, so a handheld
that connects late, restarts or comes back from the stockroom gets the current state of every open order from
the broker without a request, and a duplicate or replay is harmless (every message is a full state, applied
idempotently):

- ``picking/orders/{order_id}``           the order and its platform status (open, ready for pickup, withdrawn);
                                          the platform clears it (empty retained payload) when it is done.
- ``picking/orders/{order_id}/claim``     the platform's claim decision: which device and associate picks it.
- ``picking/orders/{order_id}/decisions`` every substitution decision for the order so far (cumulative).

Up: nothing new for the claim, shorts, substitutions or staging: they are cart ops of the ``pick-{order_id}``
cart on the device's ``dv/{device}/ops`` topic (confirmed by the applied watermark, so they survive outages).
The handheld's screen model goes on ``dv/{device}/picking`` (retained), UI commands come on ``dv/{device}/ui``.

Handhelds subscribe with an ordinary (not shared) subscription to :func:`orders_filter`: every associate must see
the store's queue, and MQTT 5 does not deliver retained messages to shared subscriptions (MQTT 5.0 §4.8.2).
"""

from __future__ import annotations

from typing import Final, Literal

from edge_agent.sync.topics import Topics

PickLeaf = Literal["order", "claim", "decisions"]
PLATFORM_PICKING_FILTER: Final = "rt/v1/+/st/+/picking/orders/#"
"""What a platform-side observer of every store's picking would subscribe to."""


def orders_filter(topics: Topics) -> str:
    """The one subscription a handheld needs: every order, claim and decision of its store."""
    return f"{topics.prefix}/picking/orders/#"


def order_topic(topics: Topics, order_id: str) -> str:
    return f"{topics.prefix}/picking/orders/{order_id}"


def claim_topic(topics: Topics, order_id: str) -> str:
    return f"{order_topic(topics, order_id)}/claim"


def decisions_topic(topics: Topics, order_id: str) -> str:
    return f"{order_topic(topics, order_id)}/decisions"


def pick_display(topics: Topics) -> str:
    """Up, retained: the handheld's picking screen (:class:`edge_agent.picking.messages.PickView`)."""
    return f"{topics.prefix}/dv/{topics.device}/picking"


def parse_picking_topic(topics: Topics, topic: str) -> tuple[str, PickLeaf] | None:
    """``.../picking/orders/{id}[/claim|/decisions]`` of this store -> (order id, leaf); None otherwise."""
    head = f"{topics.prefix}/picking/orders/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if not parts[0]:
        return None
    if len(parts) == 1:
        return parts[0], "order"
    if len(parts) == 2 and parts[1] == "claim":
        return parts[0], "claim"
    if len(parts) == 2 and parts[1] == "decisions":
        return parts[0], "decisions"
    return None
