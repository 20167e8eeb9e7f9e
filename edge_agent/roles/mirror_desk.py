"""The fitting-room mirror role: garments tapped on the mirror, what is in stock here, and assist requests.

The room's session is deliberately ephemeral (retail note §1.4): it lives in memory, is shown on the mirror
and leaves only as workflow events; vacating the room — by the shopper, an idle timeout or a restart —
purges it. A shopper who identifies with consent gets the try-on list saved to their profile as a wishlist
(the `tryon.list.saved` event), never a cart. Assist requests go to every associate's handheld (a retained
message per request on the store topic) and run their acknowledgement SLA here, escalating level by level.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from edge_agent.contract.aisle import AisleOrderView, Availability
from edge_agent.contract.workflow import (
    AssistAnswerView,
    AssistReply,
    AssistRequestMessage,
    GarmentView,
    MirrorCommand,
    MirrorView,
)
from edge_agent.domain.fulfilment import parse_fulfilment
from edge_agent.domain.session import Identity
from edge_agent.domain.workflows.assist import AssistRequest, AssistState, AssistTimers
from edge_agent.domain.workflows.common import Outcome, Refused, Source, WorkflowEvent
from edge_agent.domain.workflows.fitting_room import Room, RoomState
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import IdentityRejected, TokenVerifier
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.aisle import covers, elsewhere
from edge_agent.roles.related import related_to
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)

CLOSED_STATES: Final = frozenset({AssistState.DELIVERED, AssistState.UNAVAILABLE, AssistState.CANCELLED})

ANSWERS_SHOWN_MAX: Final = 10
"""Closed requests the mirror still lists for the session ("brought", "not available: why"): more than a shopper
asks for in one visit; the oldest go first."""


@dataclass
class MirrorDesk:
    store: DeviceStore
    room_id: str
    verifier: TokenVerifier | None
    emit: Callable[[list[WorkflowEvent]], None]
    show: Callable[[MirrorView], None]
    publish_request: Callable[[str, AssistRequestMessage | None], None]
    """Retained per request on the store topic; None clears it (the request is closed)."""
    online: Callable[[], bool]
    timers: AssistTimers = field(default_factory=AssistTimers)
    idle_timeout_s: float = 600.0
    now: Callable[[], float] = time.time
    room: Room = field(init=False)
    requests: dict[str, AssistRequest] = field(default_factory=dict)
    answered: list[tuple[str, AssistAnswerView]] = field(default_factory=list)
    """(session id, the closed request as the mirror shows it): kept only for the session it belongs to."""
    refused: Counter[str] = field(default_factory=Counter)
    last_activity: float = 0.0
    on_identified: Callable[[Identity], None] = lambda _identity: None
    """The device's shopper session takes the verified shopper too: their consent, offers and switches."""
    order_for_shopper: Callable[[str, int, str], bool] = lambda _gtin, _qty, _how: False
    """Orders a line into the verified shopper's session basket (roles/basket.py); False without a shopper."""
    orders: Callable[[], dict[str, AisleOrderView]] = dict
    """The session basket's endless-aisle orders, as the kiosk shows them (roles/aisle.py)."""

    def __post_init__(self) -> None:
        self.room = Room(self.room_id)

    # --- the shopper acts ------------------------------------------------------------------------------------
    def garment_tapped(self, key: ProductKey) -> None:
        """A hang tag tapped on the mirror: the first one opens the room's session."""
        now = self.now()
        if self.room.state is RoomState.VACANT and not self._apply(self.room.occupy(uuid.uuid4().hex, now=now)):
            return
        self._apply(self.room.garment_detected(key.gtin14, key.serial, now=now))

    def identity(self, event: IdentityPresented) -> None:
        """A loyalty tap or app QR: with "profile" consent the try-on list is saved as a wishlist; the credential
        and the pseudonym are never shown or kept on the mirror."""
        if self.verifier is None:
            self._refuse(Refused("identity_not_configured", "no [identity] section in config"))
            return
        try:
            who = self.verifier.verify(event.token, self.now(), event.method)
        except IdentityRejected as exc:
            self._refuse(Refused(exc.reason, str(exc)))
            return
        self.on_identified(who)  # first: the session's consent decides what the room's events carry
        self._apply(self.room.save_tryon_list(who.pseudonym, who.consent, now=self.now()))

    def command(self, cmd: MirrorCommand) -> None:
        now = self.now()
        match cmd.action:
            case "request_assist":
                outcome = self.room.request_assist(
                    f"as-{uuid.uuid4().hex[:12]}", cmd.type or "", cmd.target_gtin, now=now, timers=self.timers
                )
                if outcome.refused is not None or outcome.state is None:
                    self._refuse(outcome.refused or Refused("not_requested", "the request could not be made"))
                    return
                self._track(Outcome(outcome.state, outcome.events))
            case "cancel_assist":
                request = self.requests.get(cmd.request_id or "")
                if request is None:
                    self._refuse(Refused("no_such_request", f"no open request {cmd.request_id}"))
                    return
                self._track(request.cancel(source=Source.SHOPPER, now=now))
            case "checkout":
                self._apply(self.room.checkout(cmd.channel or "pos", now=now))
            case "vacate":
                self.vacate("shopper_left")
            case "order_line":
                self._order(cmd)

    def _order(self, cmd: MirrorCommand) -> None:
        """A size none here that the catalog has online or at another store, ordered for delivery or pickup there:
        the kiosk's order ops into the verified shopper's basket (the endless aisle); the platform decides it."""
        if cmd.target_gtin is None or cmd.fulfilment is None:
            self._refuse(Refused("no_order_line", "order_line names target_gtin and fulfilment (ship, pickup@<store>)"))
            return
        wanted = parse_fulfilment(cmd.fulfilment)  # the contract checked its pattern
        if not wanted.ordered:
            self._refuse(Refused("not_an_order", "order_line is for ship or pickup@<store>"))
            return
        if self.room.state is RoomState.VACANT:
            self._refuse(Refused("room_vacant", "tap a garment first"))
            return
        available = self._elsewhere(self.orders()).get(cmd.target_gtin)
        if available is None:
            detail = f"{cmd.target_gtin} is not a size in the room that is none here and available elsewhere"
            self._refuse(Refused("not_orderable", detail))
            return
        if not covers(available, wanted):
            self._refuse(Refused("not_available", f"{cmd.target_gtin}: none left for {wanted.text}"))
            return
        if not self.order_for_shopper(cmd.target_gtin, 1, wanted.text):
            self._refuse(Refused("no_shopper", "an order is for a verified shopper: tap a loyalty card or app code"))
            return
        self.last_activity = self.now()
        self.show(self.view())

    def orders_changed(self) -> None:
        """A snapshot of a cart arrived (the platform's answer to an order, perhaps): the room shows it."""
        if self.room.state is not RoomState.VACANT:
            self.show(self.view())

    # --- associates answer (from their handhelds) --------------------------------------------------------------
    def reply(self, msg: AssistReply) -> None:
        request = self.requests.get(msg.request_id)
        if request is None:
            self._refuse(Refused("no_such_request", f"no open request {msg.request_id} at {self.room_id}"))
            return
        now = self.now()
        match msg.action:
            case "acknowledge":
                self._track(request.acknowledge(associate=msg.associate, now=now))
            case "delivered":
                self._track(request.delivered(associate=msg.associate, now=now))
            case "unavailable":
                self._track(request.unavailable(associate=msg.associate, now=now, reason=msg.reason), msg.reason)

    # --- time -----------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """SLA timers: unacknowledged requests escalate; an idle room is vacated (and purged)."""
        now = self.now()
        for request in list(self.requests.values()):
            outcome = request.tick(now)
            if outcome.events:
                self._track(outcome)
        if self.room.state is not RoomState.VACANT and now - self.last_activity > self.idle_timeout_s:
            self.vacate("idle_timeout")

    def vacate(self, reason: str) -> None:
        """The room is empty again: open requests are cancelled, the session purged, nothing of it kept."""
        now = self.now()
        for request in list(self.requests.values()):
            self._track(request.cancel(source=Source.SYSTEM, now=now))
        self.answered = []
        self._apply(self.room.vacate(now=now, reason=reason))

    # --- internals ------------------------------------------------------------------------------------------
    def _apply(self, outcome: Outcome[Room]) -> bool:
        if outcome.refused is not None:
            self._refuse(outcome.refused)
            return False
        self.room = outcome.state
        self.last_activity = self.now()
        self.emit(list(outcome.events))
        self.show(self.view())
        return True

    def _track(self, outcome: Outcome[AssistRequest], reason: str = "") -> None:
        if outcome.refused is not None:
            self._refuse(outcome.refused)
            return
        request = outcome.state
        self.emit(list(outcome.events))
        if request.state in CLOSED_STATES:
            self.requests.pop(request.request_id, None)
            self.publish_request(request.request_id, None)
            self._answered(request, reason)
        else:
            self.requests[request.request_id] = request
            self.publish_request(request.request_id, self._message(request))
        self.show(self.view())

    def _answered(self, request: AssistRequest, reason: str) -> None:
        message = self._message(request)
        answer = AssistAnswerView(
            request_id=request.request_id,
            type=message.type,
            target_gtin=message.target_gtin,
            target_name=message.target_name,
            state=request.state.value,  # type: ignore[arg-type]  # one of CLOSED_STATES
            reason=reason[:120],
        )
        self.answered = [*self.answered, (request.session_id, answer)][-ANSWERS_SHOWN_MAX:]

    def _refuse(self, refused: Refused) -> None:
        self.refused[refused.reason] += 1
        log.warning("mirror: refused: %s: %s", refused.reason, refused.detail)
        self.show(self.view(refused))

    def _message(self, request: AssistRequest) -> AssistRequestMessage:
        name = ""
        if request.target_gtin is not None:
            name = self.store.lookup(ProductKey(request.target_gtin), online=True).name
        return AssistRequestMessage(
            request_id=request.request_id,
            room_id=self.room_id,
            mirror=self.room_id,
            type=request.type.value,
            target_gtin=request.target_gtin,
            target_name=name,
            state=request.state.value,
            level=request.level,
            associate=request.associate,
        )

    def _garments(self, online: bool, orders: dict[str, AisleOrderView]) -> list[GarmentView]:
        garments = []
        for g in self.room.garments:
            found = self.store.lookup(ProductKey(g.gtin14), online=online)
            sizes = [g.gtin14, *(v.gtin14 for v in found.variants)]
            there = {gt: elsewhere(self.store, self.store.catalog_item(gt), ordered=gt in orders) for gt in sizes}
            garments.append(
                GarmentView(
                    gtin14=g.gtin14,
                    name=found.name,
                    size=found.size,
                    colour=found.colour,
                    stock=found.stock,
                    stock_as_of=found.stock_as_of,
                    in_store=found.variants,
                    elsewhere={gt: a for gt, a in there.items() if a is not None},
                )
            )
        return garments

    def _elsewhere(self, orders: dict[str, AisleOrderView]) -> dict[str, Availability]:
        return {gt: a for g in self._garments(self.online(), orders) for gt, a in g.elsewhere.items()}

    def view(self, refused: Refused | None = None) -> MirrorView:
        online = self.online()
        orders = self.orders() if self.room.state is not RoomState.VACANT else {}
        garments = self._garments(online, orders)
        session = self.room.session_id
        answered = [answer for owner, answer in self.answered if session is not None and owner == session]
        return MirrorView(
            room_id=self.room_id,
            state=self.room.state.value,
            session_id=self.room.session_id,
            garments=garments,
            requests=[self._message(r) for r in self.requests.values()],
            answered=answered,
            orders={gt: o for gt, o in orders.items() if gt in _sizes(garments)},
            identified=self.room.profile is not None,
            offline=not online,
            refused=refused.reason if refused else None,
            detail=refused.detail[:200] if refused else None,
            related=related_to(self.store, garments[-1].gtin14 if garments else None, [g.gtin14 for g in garments]),
        )


def _sizes(garments: list[GarmentView]) -> set[str]:
    """The garments in the room and their other sizes and colours: the mirror shows orders of these only."""
    return {g.gtin14 for g in garments} | {v.gtin14 for g in garments for v in g.in_store}
