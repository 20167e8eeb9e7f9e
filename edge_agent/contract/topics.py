"""Topic layout: ``rt/v1/{tenant}/st/{store}/...``; a device publishes only under its own ``dv/{device}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

PLATFORM_OPS_FILTER = "rt/v1/+/st/+/dv/+/ops"
PLATFORM_SYNC_FILTER = "rt/v1/+/st/+/dv/+/sync"
PLATFORM_ERASED_FILTER = "rt/v1/+/st/+/dv/+/erased"
PLATFORM_EVENTS_FILTER = "rt/v1/+/st/+/dv/+/events"
SHARED_INGEST_GROUP = "cart-ingest"


@dataclass(frozen=True, slots=True)
class Topics:
    tenant: str
    store: str
    device: str

    @property
    def prefix(self) -> str:
        return f"rt/v1/{self.tenant}/st/{self.store}"

    @property
    def ops(self) -> str:
        return f"{self.prefix}/dv/{self.device}/ops"

    @property
    def acks(self) -> str:
        return f"{self.prefix}/dv/{self.device}/acks"

    @property
    def status(self) -> str:
        return f"{self.prefix}/dv/{self.device}/status"

    @property
    def health(self) -> str:
        """Up, not retained: the device's health every ``[health] interval_s`` and after each connect."""
        return f"{self.prefix}/dv/{self.device}/health"

    @property
    def sync(self) -> str:
        return f"{self.prefix}/dv/{self.device}/sync"

    @property
    def session(self) -> str:
        """Up, retained: the device's current shopper session (state and merge preview) for its UI."""
        return f"{self.prefix}/dv/{self.device}/session"

    @property
    def ui(self) -> str:
        """Down: the kiosk or mirror UI's session commands (confirm or decline a merge, end the session)."""
        return f"{self.prefix}/dv/{self.device}/ui"

    def offers(self, session_id: str) -> str:
        """Down, retained per session: the platform's offers for a consented session (contract/offers.py); the
        platform clears it when the session ends or the shopper withdraws ``personalisation``."""
        return f"{self.prefix}/dv/{self.device}/offers/{session_id}"

    @property
    def offers_filter(self) -> str:
        """What the device subscribes to: every session's offers; any but the current session's is refused."""
        return f"{self.prefix}/dv/{self.device}/offers/+"

    @property
    def catalog(self) -> str:
        """Down, store-wide: catalog, price and stock updates (QoS 1; queued for offline devices)."""
        return f"{self.prefix}/catalog"

    @property
    def display(self) -> str:
        """Up, retained: what the device's screen shows for the last lookup (shelf, mirror)."""
        return f"{self.prefix}/dv/{self.device}/display"

    @property
    def events(self) -> str:
        """Up: workflow events (CloudEvents, at least once; dedupe by id) for analytics and store operations."""
        return f"{self.prefix}/dv/{self.device}/events"

    @property
    def assist_replies(self) -> str:
        """Down to a fitting-room mirror: associates' replies to its assist requests."""
        return f"{self.prefix}/dv/{self.device}/assist"

    def assist_request(self, request_id: str) -> str:
        """Up, store-wide, retained per request: an assist request as the handhelds list it (cleared when closed).
        Under the mirror's own id, so the broker's ACL lets a mirror write only its own requests."""
        return f"{self.prefix}/assist/requests/{self.device}/{request_id}"

    @property
    def presence(self) -> str:
        """Up: aggregated presence reports (occupancy and dwell per zone and bucket); never raw sightings."""
        return f"{self.prefix}/dv/{self.device}/presence"

    @property
    def erasure(self) -> str:
        """Down, store-wide: the platform's erasure requests (consent withdrawn, right to be forgotten)."""
        return f"{self.prefix}/privacy/erasure"

    @property
    def erased(self) -> str:
        """Up: this device's answer to an erasure request, once its copies are gone."""
        return f"{self.prefix}/dv/{self.device}/erased"

    @property
    def basket_claim(self) -> str:
        """Up, retained: the kiosk's "take my basket to my phone" link for its screen (contract/claim.py)."""
        return f"{self.prefix}/dv/{self.device}/claim"

    @property
    def basket_claimed(self) -> str:
        """Down, from the platform: a shopper claimed the guest basket online (contract/claim.py)."""
        return f"{self.prefix}/dv/{self.device}/claimed"

    @property
    def requests(self) -> str:
        """Down: the filter of the platform's requests to this device (``request/<name>``, names with slashes)."""
        return f"{self.prefix}/dv/{self.device}/request/#"

    def request(self, name: str) -> str:
        return f"{self.prefix}/dv/{self.device}/request/{name}"

    def response(self, name: str) -> str:
        """Up: the answer to ``request/<name>``."""
        return f"{self.prefix}/dv/{self.device}/response/{name}"

    def request_name(self, topic: str) -> str | None:
        """``config/get`` from ``.../dv/{device}/request/config/get``; None for any other topic."""
        head = f"{self.prefix}/dv/{self.device}/request/"
        return topic[len(head) :] if topic.startswith(head) and len(topic) > len(head) else None

    def cart_state(self, cart_id: str) -> str:
        return f"{self.prefix}/carts/{cart_id}/state"


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching: ``+`` is one level, a trailing ``#`` any number (MQTT 5.0 §4.7)."""
    want, have = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def parse_device_topic(topic: str) -> tuple[str, str, str, str] | None:
    """``rt/v1/{tenant}/st/{store}/dv/{device}/{leaf}`` -> (tenant, store, device, leaf)."""
    parts = topic.split("/")
    if len(parts) != 8 or parts[:2] != ["rt", "v1"] or parts[3] != "st" or parts[5] != "dv":
        return None
    return parts[2], parts[4], parts[6], parts[7]


# --- picking -------------------------------------------------------------------------------------------------
# Picking topics, under the store prefix ``rt/v1/{tenant}/st/{store}/``.
#
# Down (platform → every handheld of the store), all QoS 1 and **retained**, one topic per order, so a handheld
# that connects late, restarts or comes back from the stockroom gets the current state of every open order from
# the broker without a request, and a duplicate or replay is harmless (every message is a full state, applied
# idempotently):
#
# - ``picking/orders/{order_id}``           the order and its platform status (open, ready for pickup, withdrawn);
#                                           the platform clears it (empty retained payload) when it is done.
# - ``picking/orders/{order_id}/claim``     the platform's claim decision: which device and associate picks it.
# - ``picking/orders/{order_id}/decisions`` every substitution decision for the order so far (cumulative).
#
# Up: nothing new for the claim, shorts, substitutions or staging: they are cart ops of the ``pick-{order_id}``
# cart on the device's ``dv/{device}/ops`` topic (confirmed by the applied watermark, so they survive outages).
# The handheld's screen model goes on ``dv/{device}/picking`` (retained), UI commands come on ``dv/{device}/ui``.
#
# Handhelds subscribe with an ordinary (not shared) subscription to :func:`orders_filter`: every associate must see
# the store's queue, and MQTT 5 does not deliver retained messages to shared subscriptions (MQTT 5.0 §4.8.2).

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
    """Up, retained: the handheld's picking screen (:class:`edge_agent.contract.picking.PickView`)."""
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
