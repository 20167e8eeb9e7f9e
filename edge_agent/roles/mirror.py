"""The fitting-room mirror: hang tags tapped on it fill the room's try-on list; assist requests go to the handhelds."""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.contract.workflow import (
    T_ASSIST_REPLY,
    T_MIRROR_COMMAND,
    AssistReply,
    AssistReplyEvent,
    AssistRequestEvent,
    AssistRequestMessage,
    MirrorCommand,
    MirrorCommandEvent,
    MirrorView,
    MirrorViewEvent,
)
from edge_agent.domain.workflows.assist import AssistTimers
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.base import Ports, Role, Route
from edge_agent.roles.mirror_desk import MirrorDesk


class MirrorRole(Role):
    name = "fitting-room-mirror"

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        cfg = ports.config
        self.last_view: MirrorView | None = None
        self.desk = MirrorDesk(
            ports.store,
            cfg.device.id,
            ports.verifier,
            self._emit,
            self._show,
            self._publish_request,
            ports.online,
            AssistTimers(cfg.assist.ack_s, cfg.assist.delivery_s, cfg.assist.max_level),
            cfg.session.idle_timeout_s,
            on_identified=ports.shopper.identified if ports.shopper is not None else lambda _identity: None,
        )
        if ports.shopper is not None:  # the endless aisle: a size none here, ordered for the verified shopper
            self.desk.order_for_shopper = ports.shopper.order_for_shopper
            self.desk.orders = ports.shopper.orders

    def subscriptions(self) -> list[str]:
        return [self.ports.topics.assist_replies]

    def routes(self) -> list[Route]:
        topics = self.ports.topics
        return [
            Route(topics.ui, {T_MIRROR_COMMAND: (MirrorCommandEvent, self._command)}),
            Route(topics.assist_replies, {T_ASSIST_REPLY: (AssistReplyEvent, self._reply)}),
        ]

    def scanned(self, key: ProductKey, flush: Callable[[], None]) -> bool:
        self.desk.garment_tapped(key)  # a hang tag tapped on the mirror
        return True

    def identity(self, event: IdentityPresented) -> bool:
        self.desk.identity(event)
        return True

    def cart_changed(self, cart_id: str) -> None:
        self.desk.orders_changed()

    def tick(self, now: float) -> None:
        self.desk.tick()

    def _command(self, _topic: str, cmd: MirrorCommand) -> None:
        self.desk.command(cmd)

    def _reply(self, _topic: str, reply: AssistReply) -> None:
        self.desk.reply(reply)

    def _emit(self, events: list[WorkflowEvent]) -> None:
        """A fitting room's events carry the shopper session's context: the pseudonym only with "analytics"
        (domain/consent.py). The room's end ends the shopper session: the next shopper starts with none of it."""
        self.ports.emit(events, None)
        if self.ports.shopper is not None and any(e.name == "room.session.ended" for e in events):
            self.ports.shopper.end_session("vacated")

    def _show(self, view: MirrorView) -> None:
        self.last_view = view
        self.ports.show(MirrorViewEvent, view)

    def _publish_request(self, request_id: str, message: AssistRequestMessage | None) -> None:
        """Retained per request so a handheld that comes online later still lists it; cleared once closed."""
        topic = self.ports.topics.assist_request(request_id)
        if message is None:
            self.ports.out.clear(topic)
            return
        event_id = f"{request_id}:{message.state}:{message.level}"
        self.ports.out.publish(topic, AssistRequestEvent, message, event_id=event_id, retain=True)
