"""What a device role is, and the narrow ports it gets: a role never touches MQTT, paho or the sync package.

A role is the behaviour of one kind of device (kiosk, shelf, associate handheld, fitting-room mirror). The agent
offers it every reader event first; what it does not take goes to the shopper's basket (:mod:`.basket`), which
every device has. Inbound messages reach a role through the :class:`Route` table it declares, parsed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

from edge_agent.contract.aisle import AisleOrderView
from edge_agent.contract.base import CloudEvent
from edge_agent.contract.catalog import CatalogUpdate
from edge_agent.contract.codec import Rejected, Route

__all__ = ["Ports", "Publisher", "Recorder", "Role", "Route", "ShopperSession"]
from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import BasketCommand
from edge_agent.domain.session import Identity
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import TokenVerifier
from edge_agent.readers.events import IdentityPresented
from edge_agent.store.device import DeviceStore

if TYPE_CHECKING:
    from edge_agent.config import AgentConfig

Envelope = type[CloudEvent[Any]]


class Publisher(Protocol):
    """The one way out (edge_agent/sync/outlet.py): builds the CloudEvent, mirrors ce_type and ce_id."""

    def publish(
        self,
        topic: str,
        envelope: Envelope,
        data: BaseModel,
        *,
        event_id: str | None = None,
        retain: bool = False,
        subject: str | None = None,
    ) -> int | None: ...

    def clear(self, topic: str) -> int | None: ...


class ShopperSession(Protocol):
    """The device's shopper session (roles/basket.py), for a role that identifies shoppers itself (the mirror): the
    session then holds the shopper's consent, offers and switches, as on every shopper-facing screen."""

    def identified(self, identity: Identity) -> None: ...

    def end_session(self, reason: str = "explicit") -> None: ...

    def order_for_shopper(self, gtin14: str, qty: int, fulfilment: str) -> bool:
        """Order a line for delivery or pickup into the verified shopper's basket; False without one."""
        ...

    def orders(self) -> dict[str, AisleOrderView]:
        """The session basket's endless-aisle orders (gtin14 -> requested, confirmed or refused)."""
        ...


class Recorder(Protocol):
    """Durable when it returns (one transaction, ``meta`` included), then on its way to the platform."""

    def __call__(self, commands: Sequence[BasketCommand], meta: Mapping[str, str] | None = None) -> None: ...


@dataclass(frozen=True)
class Ports:
    """Everything a role may use: the store, durable commands, workflow events, the screen, time and the uplink."""

    config: AgentConfig
    store: DeviceStore
    topics: Topics
    verifier: TokenVerifier | None
    out: Publisher
    record: Recorder
    emit: Callable[[list[WorkflowEvent], str | None], None]
    """Workflow events with this device's and the session's context; the profile only when given or consented."""
    online: Callable[[], bool]
    follow_cart: Callable[[str], None]
    """Receive the platform's snapshots of this cart."""
    reject: Callable[[str, Rejected], None]
    """Count and log a refused inbound message (topic, reason), as the inbound router does."""
    now: Callable[[], float]
    shopper: ShopperSession | None = None
    """The shopper session, for roles; None for the basket itself (it is the session)."""
    claim_key: bytes | None = None
    """This device's own claim-link key (``[claim] key_file``); None: derived from a legacy identity key, if any."""

    @property
    def device(self) -> str:
        return self.config.device.id

    def show(self, envelope: Envelope, view: BaseModel, topic: str | None = None) -> None:
        """A screen model for the device's own UI, retained so a UI that (re)connects shows the current state."""
        self.out.publish(topic or self.topics.display, envelope, view, retain=True)


class Role:
    """One device role. Every hook has a default, so a role says only what it does differently."""

    name: ClassVar[str]

    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    def subscriptions(self) -> list[str]:
        """Topic filters beyond the ones every device has (acks, ui, erasure, catalog, its carts)."""
        return []

    def routes(self) -> list[Route]:
        return []

    def scanned(self, key: ProductKey, flush: Callable[[], None]) -> bool:
        """Take a product scan or tag tap; False leaves it to the basket. Call ``flush`` before recording
        anything, so scans of the same group that went to the basket are saved first."""
        return False

    def identity(self, event: IdentityPresented) -> bool:
        """Take a shopper's credential; False leaves it to the shopper session."""
        return False

    def cart_changed(self, cart_id: str) -> None:
        """A platform snapshot changed a cart this device holds."""

    def catalog_updated(self, update: CatalogUpdate) -> None:
        """Catalog, price or stock changed (the cache is already updated)."""

    def tick(self, now: float) -> None:
        """Workflow timers, every WORKFLOW_TICK_S."""

    def restore(self) -> None:
        """At start: pick up what the last durable transaction left (totes, pick orders)."""
