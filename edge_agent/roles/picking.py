"""Click-and-collect picking on an associate handheld: the pure PickOrder machine, persisted and synced as a cart.

Shaped like :class:`edge_agent.roles.totes.ToteDesk`: every accepted command records durable cart ops plus the
machine's JSON value in ONE transaction (``record(commands, meta)``), emits the machine's events, and shows a
view; a refusal records nothing, is counted, logged and shown with its reason.

**Durability.** An order's progress *is* a cart, ``pick-{order_id}``: each confirmed unit is an ``entry.add``
op (actor = the associate, the serial when the item has one), and the order's state, picker, claim, shorts,
substitution proposals and staging are LWW attributes (``pick.state``, ``pick.associate``, ``pick.claim``,
``pick.line.{line_id}.short`` = ``"{total short}:{reason}"``, ``pick.line.{line_id}.substitute`` = gtin,
``pick.location``, ``pick.totes``, ``pick.reason``; customer pickup's ``pick.verified_by`` and
``pick.handed_over_at``, see :mod:`edge_agent.roles.pickup`). They ride the confirmed op path, so an outage loses and
doubles nothing: the outbox keeps them until the platform's watermark covers them.

**Claim protocol** (correct on MQTT 3.1.1 and 5 alike; shared subscriptions are not relied on). Every handheld
of the store sees every order (retained, one topic per order) as ASSIGNED. ``accept`` records the accept and a
claim op (``pick.claim`` = ``"{device}:{associate}"``); the *platform* arbitrates (the first claim it applies
wins, kept in its database) and publishes a retained decision naming the device and associate. Other handhelds
then hide the order; a handheld whose claim lost drops it and shows ``claimed_by_other``. While offline an
associate may start picking an order they accepted; if the claim later loses, the ops already recorded stay
(ops are immutable) and the platform **drops** them: only the winning device's entries and attributes count
for the pick (``simulators/pick_platform.py`` does exactly this). Shared subscriptions are not used to hand
orders out because every associate must see the queue, MQTT 5 never delivers retained messages to shared
subscribers, and an order pushed to one idle handheld would wait there until its accept timer ran out.

**What stays local.** A decline hides the order on this handheld only (the store queue is shared, so it stays
available to other associates; the platform reroutes on its own accept timer). Platform facts (substitution
decisions, ready for pickup, closed, no-show) change the local machine and are written to meta, never echoed as ops.

**Timers.** ``tick(now)`` (the agent's heartbeat) times out unaccepted orders and reports a pick-timer breach
once per order. Every handheld holding an unclaimed order reports its accept-timer breach, so consumers count
``fulfilment.accept_timer_breached`` per (subject, name); an order claimed by another device is not timed here.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from edge_agent.contract.codec import Envelope, Handler, Rejected, Route
from edge_agent.contract.picking import (
    T_PICK_CLAIM,
    T_PICK_DECISIONS,
    T_PICK_ORDER,
    ClaimDecision,
    ClaimDecisionEvent,
    PickCommand,
    PickOrderEvent,
    PickOrderMessage,
    PickView,
    SubstitutionDecisions,
    SubstitutionDecisionsEvent,
)
from edge_agent.contract.topics import PickLeaf, Topics, orders_filter, parse_picking_topic
from edge_agent.domain.basket import AddItem, BasketCommand, SetAttribute
from edge_agent.domain.workflows.common import Outcome, Refused, Source, WorkflowEvent
from edge_agent.domain.workflows.const import DEFAULT_SHORT_REASONS
from edge_agent.domain.workflows.picking import (
    DEFAULT_PICK_TIMERS,
    FINAL,
    PickLine,
    PickOrder,
    PickState,
    PickTimers,
    Substitution,
)
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.roles.picking_state import HeldOrder
from edge_agent.roles.picking_view import claim_won, pick_view
from edge_agent.roles.pickup import PICKUP_ACTIONS, pickup_command, pickup_platform
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)

ORDER_KEY_PREFIX: Final = "pick:"
"""meta ``pick:{order_id}`` -> JSON {order, version, deadline, claim}; "" once the order is forgotten."""
ACTIVE_PICK_KEY: Final = "pick.active"
CART_PREFIX: Final = "pick-"
STATE_ATTR, ASSOCIATE_ATTR, CLAIM_ATTR = "pick.state", "pick.associate", "pick.claim"
LOCATION_ATTR, TOTES_ATTR, REASON_ATTR = "pick.location", "pick.totes", "pick.reason"
_IN_HAND: Final = frozenset({PickState.ACCEPTED, PickState.PICKING, PickState.PICKED, PickState.STAGED})
"""States in which a lost claim matters to the associate holding the order."""
_AT_COUNTER: Final = frozenset({PickState.CUSTOMER_ARRIVED, PickState.VERIFIED, PickState.HANDED_OVER})
"""Pickup states: the order becomes the one shown, unless another is being picked."""


def pick_cart(order_id: str) -> str:
    return f"{CART_PREFIX}{order_id}"


def short_attr(line_id: str) -> str:
    return f"pick.line.{line_id}.short"


def substitute_attr(line_id: str) -> str:
    return f"pick.line.{line_id}.substitute"


@dataclass
class PickDesk:
    store: DeviceStore
    device: str
    record: Callable[[list[BasketCommand], dict[str, str]], object]
    """Durable ops plus the machine's value, in one transaction (the agent's recorder)."""
    emit: Callable[[list[WorkflowEvent]], None]
    show: Callable[[PickView], None]
    now: Callable[[], float] = time.time
    timers: PickTimers = DEFAULT_PICK_TIMERS
    short_reasons: Sequence[str] = DEFAULT_SHORT_REASONS
    held: dict[str, HeldOrder] = field(default_factory=dict)
    active: str | None = None
    """The order this handheld works on (accepted or being picked); scans go to it while it is PICKING."""
    refused: Counter[str] = field(default_factory=Counter)
    """Refusals of the associate's commands and scans, by reason."""
    ignored: Counter[str] = field(default_factory=Counter)
    """Platform messages the machine did not take (replays, stale or out-of-order updates), by reason."""

    # --- lifecycle -----------------------------------------------------------------------------------------
    def restore(self) -> None:
        """After a restart: every order as its last durable transaction left it (retained messages replay too)."""
        self.held.clear()
        for order_id, value in self.store.meta_with_prefix(ORDER_KEY_PREFIX).items():
            self.held[order_id] = HeldOrder.from_json(value)
        active = self.store.meta(ACTIVE_PICK_KEY)
        self.active = active if active in self.held else None
        self.show(self.view())

    @property
    def orders(self) -> dict[str, PickOrder]:
        return {k: h.order for k, h in self.held.items() if h.order is not None}

    # --- the platform speaks ---------------------------------------------------------------------------------
    def order_published(self, msg: PickOrderMessage) -> None:
        """A new order for the store (ASSIGNED), or the platform's update of one: ready for pickup, withdrawn."""
        order_id = msg.order_id
        held = self.held.get(order_id)
        if held is not None and msg.version < held.version:
            self.ignored["stale_version"] += 1
            return
        if msg.status == "withdrawn":
            self.order_cleared(order_id)
            return
        if held is None or held.order is None:
            if msg.status != "open":
                self.ignored["unknown_order"] += 1  # not picked here; nothing to show
                return
            lines = [PickLine(x.line_id, x.gtin14, x.qty) for x in msg.lines]
            made = PickOrder.assign(
                order_id,
                lines,
                now=msg.assigned_at.timestamp(),
                timers=self.timers,
                short_reasons=self.short_reasons,
            )
            if made.state is None:
                reason = made.refused.reason if made.refused else "refused"
                self.ignored[reason] += 1
                log.warning("pick: order %s not taken: %s", order_id, made.refused)
                return
            held = self.held.setdefault(order_id, HeldOrder())
            held.order = made.state
            held.version = msg.version
            held.deadline = msg.deadline.timestamp() if msg.deadline else None
            held.code_hash = msg.pickup_code_hash
            self.record([], self._meta(order_id))
            self.emit(list(made.events))
            self.show(self.view())
            return
        newer, held.version = msg.version > held.version, msg.version
        held.code_hash = msg.pickup_code_hash if newer else held.code_hash
        order = held.order
        if msg.status == "ready_for_pickup" and order.state is PickState.STAGED:
            outcome = order.ready_for_pickup(msg.notified_via or "none", source=Source.PLATFORM, now=self.now())
            self._commit(order_id, outcome, "platform", ops=False)
        elif (pickup := pickup_platform(order, msg.status, now=self.now())) is not None:
            self._commit(order_id, pickup, "platform", ops=False)
        elif newer:
            self.record([], self._meta(order_id))
        else:
            self.ignored["replayed_order"] += 1

    def order_cleared(self, order_id: str) -> None:
        """The platform withdrew the order (rerouted, cancelled) or is done with it: forget it here.
        Ops already recorded for its pick cart stay in the outbox until confirmed."""
        held = self.held.pop(order_id, None)
        if held is None:
            return
        meta = {ORDER_KEY_PREFIX + order_id: ""}
        in_hand = held.order is not None and held.order.state in (PickState.ACCEPTED, PickState.PICKING)
        if self.active == order_id:
            self.active = None
            meta[ACTIVE_PICK_KEY] = ""
        self.record([], meta)
        if in_hand:
            self._refuse(Refused("order_withdrawn", f"order {order_id} was withdrawn by the platform: stop picking"))
        else:
            self.show(self.view())

    def claim_decided(self, msg: ClaimDecision) -> None:
        """The platform's arbitration. Losing an order this handheld holds drops it with ``claimed_by_other``."""
        winner = f"{msg.device}:{msg.associate}"
        held = self.held.setdefault(msg.order_id, HeldOrder())
        if held.claim == winner:
            self.ignored["replayed_claim"] += 1
            return
        held.claim = winner
        self.record([], self._meta(msg.order_id))
        order = held.order
        if order is not None and order.picker is not None and order.state in _IN_HAND and not self._won(msg.order_id):
            self._refuse(
                Refused(
                    "claimed_by_other",
                    f"order {msg.order_id} is picked by {msg.associate} on {msg.device}: put the items back",
                )
            )
            return
        self.show(self.view())

    def decision(self, msg: SubstitutionDecisions) -> None:
        """The platform's substitution decisions (cumulative): each applies to the matching pending proposal."""
        held = self.held.get(msg.order_id)
        if held is None or held.order is None or held.order.picker is None:
            self.ignored["not_picked_here"] += 1
            return
        for d in msg.decisions:
            order = self.held[msg.order_id].order
            assert order is not None
            line = next((x for x in order.lines if x.line_id == d.line_id), None)
            pending = line is not None and line.substitution is Substitution.PROPOSED
            if not pending or line is None or line.substitute_gtin != d.to_gtin:
                continue  # a replay, or a decision about another proposal
            outcome = order.substitution_decided(d.line_id, d.approved, source=Source.PLATFORM, now=self.now())
            self._commit(msg.order_id, outcome, "platform", ops=False)

    # --- the associate acts ----------------------------------------------------------------------------------
    def command(self, cmd: PickCommand) -> None:
        now, who, order_id = self.now(), cmd.associate, cmd.order_id
        held = self.held.get(order_id)
        order = held.order if held is not None else None
        if order is None:
            self._refuse(Refused("no_such_order", f"no order {order_id} on this handheld"))
            return
        if held is not None and held.claim is not None and not self._won(order_id, who):
            self._refuse(Refused("claimed_by_other", f"order {order_id} is claimed by {held.claim}"))
            return
        cart = pick_cart(order_id)
        if cmd.action in PICKUP_ACTIONS:
            assert held is not None
            outcome, attrs = pickup_command(order, cmd, cart, held.code_hash, now=now)
            if cmd.action == "verify" and outcome.refused is None:
                held.verified_by = cmd.verified_by  # recorded with the step, in the same meta write
            self._commit(order_id, outcome, who, attrs)
            return
        match cmd.action:
            case "accept":
                claim = [
                    SetAttribute(cart, CLAIM_ATTR, f"{self.device}:{who}", actor=who),
                    SetAttribute(cart, ASSOCIATE_ATTR, who, actor=who),
                ]
                self._commit(order_id, order.accept(associate=who, now=now), who, claim)
            case "decline":
                self._commit(order_id, order.decline(associate=who, now=now, reason=cmd.reason or ""), who, ops=False)
            case "start":
                self._commit(order_id, order.start(associate=who, now=now), who)
            case "short":
                line_id, reason = cmd.line_id or "", cmd.reason or ""
                outcome = order.short(line_id, cmd.qty or 0, reason, associate=who, now=now)
                line = next((x for x in outcome.state.lines if x.line_id == line_id), None)
                extra = [SetAttribute(cart, short_attr(line_id), f"{line.short}:{reason}", actor=who)] if line else []
                self._commit(order_id, outcome, who, extra)
            case "propose_substitution":
                line_id, to_gtin = cmd.line_id or "", cmd.to_gtin or ""
                outcome = order.propose_substitution(line_id, to_gtin, associate=who, now=now)
                self._commit(order_id, outcome, who, [SetAttribute(cart, substitute_attr(line_id), to_gtin, actor=who)])
            case "complete":
                self._commit(order_id, order.complete(associate=who, now=now), who)
            case "reject":
                reason = cmd.reason or ""
                outcome = order.reject(reason, associate=who, now=now)
                self._commit(order_id, outcome, who, [SetAttribute(cart, REASON_ATTR, reason, actor=who)])
            case "stage":
                outcome = order.stage(cmd.location or "", cmd.tote_ids, associate=who, now=now)
                staged = [
                    SetAttribute(cart, LOCATION_ATTR, cmd.location, actor=who),
                    SetAttribute(cart, TOTES_ATTR, ",".join(cmd.tote_ids), actor=who),
                ]
                self._commit(order_id, outcome, who, staged)

    def scanned(self, key: ProductKey) -> bool:
        """A scan while this handheld picks an order is a pick (confirmed or refused); False: not ours."""
        order_id = self.active
        held = self.held.get(order_id) if order_id else None
        order = held.order if held is not None else None
        if order_id is None or held is None or order is None or order.picker is None:
            return False
        if held.claim is not None and not self._won(order_id) and order.state is PickState.PICKING:
            self._refuse(Refused("claimed_by_other", f"order {order_id} is picked by {held.claim}: put it back"))
            return True
        if order.state is not PickState.PICKING:
            return False
        who = order.picker
        outcome = order.scan(key.gtin14, key.serial, associate=who, now=self.now())
        unit = [AddItem(pick_cart(order_id), key.gtin14, actor=who, serial=key.serial)]
        self._commit(order_id, outcome, who, unit)
        return True

    # --- time ------------------------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """The agent's heartbeat: accept timers time orders out, pick timers report a breach once."""
        for order_id, held in list(self.held.items()):
            order = held.order
            if order is None or order.state in FINAL or (held.claim is not None and not self._won(order_id)):
                continue
            outcome = order.tick(now)
            if outcome.events:
                self._commit(order_id, outcome, "system", ops=False)

    # --- internals -------------------------------------------------------------------------------------------
    def _won(self, order_id: str, associate: str | None = None) -> bool:
        """The claim decision names this device (and this associate, when given, else the local picker)."""
        held = self.held.get(order_id)
        return held is not None and claim_won(held, self.device, associate)

    def _commit(
        self,
        order_id: str,
        outcome: Outcome[PickOrder],
        actor: str,
        extra: Sequence[BasketCommand] = (),
        *,
        ops: bool = True,
    ) -> None:
        if outcome.refused is not None:
            if actor in ("platform", "system"):
                self.ignored[outcome.refused.reason] += 1
                log.info("pick: platform update not taken for %s: %s", order_id, outcome.refused)
                return
            self._refuse(outcome.refused)
            return
        held = self.held[order_id]
        before, after = held.order, outcome.state
        commands: list[BasketCommand] = list(extra) if ops else []
        if ops and (before is None or before.state is not after.state):
            commands.append(SetAttribute(pick_cart(order_id), STATE_ATTR, after.state.value, actor=actor))
        held.order = after
        shown = after.state is PickState.ACCEPTED or after.state in _AT_COUNTER
        if after.state is PickState.PICKING or (shown and not self._picking_other()):
            self.active = order_id
        self.record(commands, self._meta(order_id))
        self.emit(list(outcome.events))
        self.show(self.view())

    def _picking_other(self) -> bool:
        held = self.held.get(self.active) if self.active else None
        return held is not None and held.order is not None and held.order.state is PickState.PICKING

    def _meta(self, order_id: str) -> dict[str, str]:
        return {ORDER_KEY_PREFIX + order_id: self.held[order_id].to_json(), ACTIVE_PICK_KEY: self.active or ""}

    def _refuse(self, refused: Refused) -> None:
        self.refused[refused.reason] += 1
        log.warning("pick: refused: %s: %s", refused.reason, refused.detail)
        self.show(self.view(refused))

    def view(self, refused: Refused | None = None) -> PickView:
        return pick_view(self.held, self.active, self.device, refused, self._name)

    def _name(self, gtin14: str) -> str:
        item = self.store.catalog_item(gtin14)
        return item.name if item is not None else ""


def picking_route(desk: PickDesk, topics: Topics) -> Route:
    """The messages of :func:`edge_agent.contract.topics.orders_filter` for the desk, parsed once by the route
    table. A payload whose order id differs from its topic's, or of the wrong kind for its topic, is rejected; an
    empty payload on an order topic is the platform clearing the retained order: the desk forgets it."""

    def order_of(topic: str, order_id: str, leaf: PickLeaf) -> None:
        parsed = parse_picking_topic(topics, topic)
        if parsed is None:
            raise Rejected("unknown_topic", topic[:200])
        if parsed[1] != leaf:
            raise Rejected("unexpected_type", f"a pick {leaf} published on a {parsed[1]} topic")
        if parsed[0] != order_id:
            raise Rejected("order_mismatch", f"order {order_id[:64]!r} published under orders/{parsed[0][:64]}")

    def order(topic: str, msg: PickOrderMessage) -> None:
        order_of(topic, msg.order_id, "order")
        desk.order_published(msg)

    def claim(topic: str, msg: ClaimDecision) -> None:
        order_of(topic, msg.order_id, "claim")
        desk.claim_decided(msg)

    def decisions(topic: str, msg: SubstitutionDecisions) -> None:
        order_of(topic, msg.order_id, "decisions")
        desk.decision(msg)

    def cleared(topic: str) -> None:
        parsed = parse_picking_topic(topics, topic)
        if parsed is not None and parsed[1] == "order":
            desk.order_cleared(parsed[0])

    handlers: dict[str, tuple[Envelope, Handler]] = {
        T_PICK_ORDER: (PickOrderEvent, order),
        T_PICK_CLAIM: (ClaimDecisionEvent, claim),
        T_PICK_DECISIONS: (SubstitutionDecisionsEvent, decisions),
    }
    return Route(orders_filter(topics), handlers, on_cleared=cleared)
