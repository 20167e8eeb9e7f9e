"""Click-and-collect picking (retail note §1.3): one order, one associate, scan-to-confirm, then staging and pickup.

The platform (OMS) stays the authority for routing, substitutions and customer notices: it assigns the order,
decides proposed substitutions, says when the customer was notified and when the order is closed or a no-show.
The device is the scanner side: it refuses a wrong item, an over-pick and a serial counted twice, asks a reason
for every short, and reports its accept and pick timers' breaches. An order is never cancelled for lack of stock
here: it is rejected, and the platform reroutes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from edge_agent.domain.const import MAX_LINE_QTY
from edge_agent.domain.workflows.common import (
    NOT_PLATFORM,
    PLATFORM,
    SHOPPER,
    SYSTEM,
    WRONG_STATE,
    Outcome,
    Source,
    WorkflowEvent,
    applied,
    is_gtin14,
    refuse,
)
from edge_agent.domain.workflows.const import DEFAULT_ACCEPT_TIMER_S, DEFAULT_PICK_TIMER_S, DEFAULT_SHORT_REASONS


class PickState(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    PICKING = "picking"
    PICKED = "picked"
    STAGED = "staged"
    READY_FOR_PICKUP = "ready_for_pickup"
    CUSTOMER_ARRIVED = "customer_arrived"
    VERIFIED = "verified"
    HANDED_OVER = "handed_over"
    COMPLETED = "completed"
    REJECTED = "rejected"
    NO_SHOW = "no_show"


class PickLineState(StrEnum):
    OPEN = "open"
    PICKED = "picked"
    SHORT = "short"
    SUBSTITUTE_PROPOSED = "substitute_proposed"


class Substitution(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


FINAL: Final = frozenset(
    {PickState.DECLINED, PickState.TIMED_OUT, PickState.COMPLETED, PickState.REJECTED, PickState.NO_SHOW}
)
CHECK_IN_MODES: Final = frozenset({"counter", "curbside"})
VERIFY_METHODS: Final = frozenset({"order_qr", "nfc", "pickup_code", "id_document"})
"""IBM Sterling lists pickup identity methods; these are the ones a counter device can take or record."""

EVENT_NAMES: Final = frozenset(
    {
        "fulfilment.accepted",
        "fulfilment.declined",
        "fulfilment.accept_timer_breached",
        "fulfilment.items_failed",
        "pick.started",
        "pick.scan",
        "pick.line_short",
        "pick.substitution.proposed",
        "pick.substitution.approved",
        "pick.substitution.rejected",
        "pick.completed",
        "pick.timer_breached",
        "order.staged",
        "order.ready_for_pickup",
        "customer.checked_in",
        "pickup.verified",
        "pickup.handed_over",
        "order.closed",
        "order.no_show",
    }
)

REFUSAL_REASONS: Final = frozenset(
    {
        WRONG_STATE,
        NOT_PLATFORM,
        "no_order_id",
        "no_lines",
        "duplicate_line",
        "no_associate",
        "claimed_by_other",
        "already_accepted",
        "accept_timer_expired",
        "bad_gtin",
        "bad_quantity",
        "not_in_order",
        "line_complete",
        "serial_already_picked",
        "substitution_pending",
        "no_such_line",
        "short_reason_required",
        "unknown_short_reason",
        "same_item",
        "no_substitution_pending",
        "lines_unresolved",
        "nothing_picked",
        "no_reason",
        "no_location",
        "no_totes",
        "duplicate_tote",
        "unknown_mode",
        "unknown_method",
    }
)


@dataclass(frozen=True, slots=True)
class PickTimers:
    """Configured SLA timers; a breach is reported once per order."""

    accept_s: float = DEFAULT_ACCEPT_TIMER_S
    """ASSIGNED longer than this: ``fulfilment.accept_timer_breached`` and TIMED_OUT (the platform reroutes)."""
    pick_s: float = DEFAULT_PICK_TIMER_S
    """PICKING longer than this: ``pick.timer_breached`` (the pick goes on)."""

    def __post_init__(self) -> None:
        if self.accept_s <= 0 or self.pick_s <= 0:
            raise ValueError("pick timers must be positive")


DEFAULT_PICK_TIMERS: Final = PickTimers()


@dataclass(frozen=True, slots=True)
class PickLine:
    """An expected order line and what has happened to it."""

    line_id: str
    gtin14: str
    qty: int
    picked: int = 0
    short: int = 0
    short_reason: str | None = None
    substitute_gtin: str | None = None
    substitution: Substitution | None = None

    @property
    def remaining(self) -> int:
        return self.qty - self.picked - self.short

    @property
    def state(self) -> PickLineState:
        if self.substitution is Substitution.PROPOSED:
            return PickLineState.SUBSTITUTE_PROPOSED
        if self.remaining > 0:
            return PickLineState.OPEN
        return PickLineState.SHORT if self.short else PickLineState.PICKED

    @property
    def resolved(self) -> bool:
        return self.state in (PickLineState.PICKED, PickLineState.SHORT)

    def takes(self, gtin14: str) -> bool:
        """The item this line expects, or its substitute once the platform approved it."""
        return gtin14 == self.gtin14 or (self.substitution is Substitution.APPROVED and gtin14 == self.substitute_gtin)


@dataclass(frozen=True, slots=True)
class PickOrder:
    order_id: str
    state: PickState
    lines: tuple[PickLine, ...]
    assigned_at: float
    timers: PickTimers = DEFAULT_PICK_TIMERS
    short_reasons: tuple[str, ...] = DEFAULT_SHORT_REASONS
    picker: str | None = None
    """The one associate who claimed the order by accepting it."""
    started_at: float | None = None
    pick_breached: bool = False
    serials: frozenset[tuple[str, str]] = frozenset()
    """(gtin14, serial) of every serialised unit picked: the duplicate guard."""
    location: str | None = None
    tote_ids: tuple[str, ...] = ()

    @classmethod
    def assign(
        cls,
        order_id: str,
        lines: Sequence[PickLine],
        *,
        now: float,
        timers: PickTimers = DEFAULT_PICK_TIMERS,
        short_reasons: Sequence[str] = DEFAULT_SHORT_REASONS,
    ) -> Outcome[PickOrder | None]:
        """The platform routed an order to this store; it waits for an associate to accept it."""
        if not order_id:
            return refuse(None, "no_order_id", "an order needs an id")
        if not lines:
            return refuse(None, "no_lines", f"order {order_id} has no lines to pick")
        ids = [x.line_id for x in lines]
        if len(set(ids)) != len(ids) or not all(ids):
            return refuse(None, "duplicate_line", f"order {order_id}: line ids must be unique and non-empty")
        for x in lines:
            if not is_gtin14(x.gtin14):
                return refuse(None, "bad_gtin", f"line {x.line_id}: {x.gtin14!r} is not a valid GTIN-14")
            if not 1 <= x.qty <= MAX_LINE_QTY:
                return refuse(None, "bad_quantity", f"line {x.line_id}: quantity must be 1..{MAX_LINE_QTY}")
        fresh = tuple(PickLine(x.line_id, x.gtin14, x.qty) for x in lines)
        return applied(cls(order_id, PickState.ASSIGNED, fresh, now, timers, tuple(short_reasons)))

    # --- claim -------------------------------------------------------------------------------------------

    def accept(self, *, associate: str, now: float) -> Outcome[PickOrder]:
        if not associate:
            return refuse(self, "no_associate", "an order is accepted by an associate; their id is required")
        if self.state is not PickState.ASSIGNED:
            if self.picker is not None and self.picker != associate:
                return refuse(self, "claimed_by_other", f"order {self.order_id} is claimed by {self.picker}")
            if self.picker == associate:
                return refuse(self, "already_accepted", f"you already accepted order {self.order_id}")
            return self._wrong("accept")
        if now >= self.assigned_at + self.timers.accept_s:
            return refuse(self, "accept_timer_expired", f"order {self.order_id} waited too long; it is rerouted")
        order = replace(self, state=PickState.ACCEPTED, picker=associate)
        return applied(order, order._event("fulfilment.accepted", associate, now, picker=associate))

    def decline(self, *, associate: str, now: float, reason: str = "") -> Outcome[PickOrder]:
        """Not this associate, not now: the platform reassigns the order."""
        if not associate:
            return refuse(self, "no_associate", "an order is declined by an associate; their id is required")
        if self.state is not PickState.ASSIGNED:
            return self._wrong("decline")
        order = replace(self, state=PickState.DECLINED)
        data = {"reason": reason} if reason else {}
        return applied(order, order._event("fulfilment.declined", associate, now, **data))

    def start(self, *, associate: str, now: float) -> Outcome[PickOrder]:
        if refused := self._by_picker("start picking", associate, {PickState.ACCEPTED}):
            return refused
        order = replace(self, state=PickState.PICKING, started_at=now)
        units = sum(x.qty for x in self.lines)
        return applied(order, order._event("pick.started", associate, now, lines=len(self.lines), units=units))

    # --- scan-to-confirm ---------------------------------------------------------------------------------

    def scan(self, gtin14: str, serial: str | None = None, *, associate: str, now: float) -> Outcome[PickOrder]:
        """One unit scanned into the order: counted against the first open line that expects it."""
        if refused := self._by_picker("scan", associate, {PickState.PICKING}):
            return refused
        if not is_gtin14(gtin14):
            return refuse(self, "bad_gtin", f"{gtin14!r} is not a valid GTIN-14: scan the item's barcode")
        candidates = [x for x in self.lines if x.takes(gtin14)]
        if not candidates and any(
            x.state is PickLineState.SUBSTITUTE_PROPOSED and x.substitute_gtin == gtin14 for x in self.lines
        ):
            return refuse(self, "substitution_pending", f"{gtin14} is a proposed substitute: wait for the platform")
        if not candidates:
            return refuse(self, "not_in_order", f"{gtin14} is not in order {self.order_id}; {self._expected()}")
        if serial and (gtin14, serial) in self.serials:
            return refuse(self, "serial_already_picked", f"{gtin14} serial {serial} is already picked: scan another")
        open_lines = [x for x in candidates if x.state is PickLineState.OPEN]
        if not open_lines:
            if any(x.state is PickLineState.SUBSTITUTE_PROPOSED for x in candidates):
                return refuse(self, "substitution_pending", f"{gtin14}: a substitution waits for the platform")
            return refuse(self, "line_complete", f"{gtin14} is complete: put this unit back; {self._expected()}")
        line = open_lines[0]
        serials = self.serials | {(gtin14, serial)} if serial else self.serials
        order = replace(self._with_line(replace(line, picked=line.picked + 1)), serials=serials)
        data: dict[str, object] = {
            "line_id": line.line_id,
            "expected_gtin": line.gtin14,
            "scanned_gtin": gtin14,
            "match": True,
            "substitute": gtin14 != line.gtin14,
        }
        if serial:
            data["serial"] = serial
        return applied(order, order._event("pick.scan", associate, now, **data))

    def short(self, line_id: str, qty: int, reason: str, *, associate: str, now: float) -> Outcome[PickOrder]:
        """Some units of a line cannot be picked; the reason comes from the configured list."""
        found = self._picking_line("short a line", line_id, associate)
        if isinstance(found, Outcome):
            return found
        if not reason:
            return refuse(self, "short_reason_required", f"a short needs a reason: {', '.join(self.short_reasons)}")
        if reason not in self.short_reasons:
            return refuse(self, "unknown_short_reason", f"{reason!r} is not one of {', '.join(self.short_reasons)}")
        if found.state is PickLineState.SUBSTITUTE_PROPOSED:
            return refuse(self, "substitution_pending", f"line {line_id} waits for the platform's decision")
        if not 1 <= qty <= found.remaining:
            return refuse(self, "bad_quantity", f"line {line_id} has {found.remaining} left to pick; short {qty}?")
        order = self._with_line(replace(found, short=found.short + qty, short_reason=reason))
        data = {"line_id": line_id, "gtin14": found.gtin14, "qty": qty, "reason": reason}
        return applied(order, order._event("pick.line_short", associate, now, **data))

    def propose_substitution(self, line_id: str, to_gtin: str, *, associate: str, now: float) -> Outcome[PickOrder]:
        """Propose another item for what is left of a line; the line is blocked until the platform decides."""
        found = self._picking_line("propose a substitute", line_id, associate)
        if isinstance(found, Outcome):
            return found
        if not is_gtin14(to_gtin):
            return refuse(self, "bad_gtin", f"{to_gtin!r} is not a valid GTIN-14")
        if to_gtin == found.gtin14:
            return refuse(self, "same_item", f"the substitute for {found.gtin14} must be another item")
        if found.state is PickLineState.SUBSTITUTE_PROPOSED:
            return refuse(self, "substitution_pending", f"line {line_id} already waits for a substitution decision")
        if found.remaining == 0:
            return refuse(self, "line_complete", f"line {line_id} has nothing left to substitute")
        order = self._with_line(replace(found, substitute_gtin=to_gtin, substitution=Substitution.PROPOSED))
        data = {"line_id": line_id, "from": found.gtin14, "to": to_gtin}
        return applied(order, order._event("pick.substitution.proposed", associate, now, **data))

    def substitution_decided(self, line_id: str, approved: bool, *, source: Source, now: float) -> Outcome[PickOrder]:
        """The platform's decision: approved, the substitute counts for the line's remaining units."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform decides substitutions; this came from {source.value}")
        if self.state is not PickState.PICKING:
            return self._wrong("record a substitution decision")
        line = self._line(line_id)
        if line is None:
            return refuse(self, "no_such_line", f"order {self.order_id} has no line {line_id}")
        if line.substitution is not Substitution.PROPOSED:
            return refuse(self, "no_substitution_pending", f"line {line_id} has no substitution waiting")
        if approved:
            decided = replace(line, substitution=Substitution.APPROVED)
        else:
            decided = replace(line, substitution=Substitution.REJECTED, substitute_gtin=None)
        order = self._with_line(decided)
        name = "pick.substitution.approved" if approved else "pick.substitution.rejected"
        data = {"line_id": line_id, "from": line.gtin14, "to": line.substitute_gtin}
        return applied(order, order._event(name, PLATFORM, now, **data))

    def complete(self, *, associate: str, now: float) -> Outcome[PickOrder]:
        if refused := self._by_picker("complete the pick", associate, {PickState.PICKING}):
            return refused
        unresolved = [f"{x.line_id} ({x.state.value})" for x in self.lines if not x.resolved]
        if unresolved:
            return refuse(self, "lines_unresolved", f"lines still to resolve: {', '.join(unresolved)}")
        if not any(x.picked for x in self.lines):
            return refuse(self, "nothing_picked", "nothing was picked: reject the order so the platform reroutes it")
        order = replace(self, state=PickState.PICKED)
        lines = [{"line_id": x.line_id, "picked": x.picked, "short": x.short} for x in self.lines]
        return applied(order, order._event("pick.completed", associate, now, lines=lines))

    def reject(self, reason: str, *, associate: str, now: float) -> Outcome[PickOrder]:
        """The items cannot be supplied: the platform reroutes the order (never cancelled for lack of stock)."""
        if refused := self._by_picker("reject", associate, {PickState.ACCEPTED, PickState.PICKING}):
            return refused
        if not reason:
            return refuse(self, "no_reason", "say why the order cannot be supplied")
        order = replace(self, state=PickState.REJECTED)
        return applied(order, order._event("fulfilment.items_failed", associate, now, reason=reason))

    # --- staging and pickup ------------------------------------------------------------------------------

    def stage(self, location: str, tote_ids: Sequence[str], *, associate: str, now: float) -> Outcome[PickOrder]:
        """The order's totes are scanned into a staging location (any associate may stage)."""
        if not associate:
            return refuse(self, "no_associate", "staging is done by an associate; their id is required")
        if self.state is not PickState.PICKED:
            return self._wrong("stage")
        if not location:
            return refuse(self, "no_location", "scan the staging location")
        if not tote_ids or not all(tote_ids):
            return refuse(self, "no_totes", "scan the order's totes into the location")
        if len(set(tote_ids)) != len(tote_ids):
            return refuse(self, "duplicate_tote", "each tote is scanned once")
        order = replace(self, state=PickState.STAGED, location=location, tote_ids=tuple(tote_ids))
        return applied(order, order._event("order.staged", associate, now, location=location, tote_ids=list(tote_ids)))

    def ready_for_pickup(self, notified_via: str, *, source: Source, now: float) -> Outcome[PickOrder]:
        """The platform notified the customer; only it knows when that happened."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform notifies the customer; this came from {source.value}")
        if self.state is not PickState.STAGED:
            return self._wrong("mark ready for pickup")
        order = replace(self, state=PickState.READY_FOR_PICKUP)
        data = {"notified_via": notified_via, "location": self.location}
        return applied(order, order._event("order.ready_for_pickup", PLATFORM, now, **data))

    def check_in(self, mode: str, *, now: float, vehicle: str | None = None) -> Outcome[PickOrder]:
        """The customer checked in at the counter or the curb (QR or NFC)."""
        if self.state is not PickState.READY_FOR_PICKUP:
            return self._wrong("check in")
        if mode not in CHECK_IN_MODES:
            return refuse(self, "unknown_mode", f"check-in mode {mode!r} is not one of {sorted(CHECK_IN_MODES)}")
        order = replace(self, state=PickState.CUSTOMER_ARRIVED)
        data: dict[str, object] = {"mode": mode}
        if vehicle:
            data["vehicle"] = vehicle
        return applied(order, order._event("customer.checked_in", SHOPPER, now, **data))

    def verify(self, method: str, *, associate: str, now: float) -> Outcome[PickOrder]:
        if not associate:
            return refuse(self, "no_associate", "the pickup is verified by an associate; their id is required")
        if self.state is not PickState.CUSTOMER_ARRIVED:
            return self._wrong("verify the customer")
        if method not in VERIFY_METHODS:
            return refuse(self, "unknown_method", f"verification {method!r} is not one of {sorted(VERIFY_METHODS)}")
        order = replace(self, state=PickState.VERIFIED)
        return applied(order, order._event("pickup.verified", associate, now, method=method))

    def hand_over(self, *, associate: str, now: float) -> Outcome[PickOrder]:
        if not associate:
            return refuse(self, "no_associate", "the hand-over is done by an associate; their id is required")
        if self.state is not PickState.VERIFIED:
            return self._wrong("hand over")
        order = replace(self, state=PickState.HANDED_OVER)
        lines = [{"line_id": x.line_id, "qty": x.picked} for x in self.lines if x.picked]
        return applied(order, order._event("pickup.handed_over", associate, now, lines=lines))

    def close(self, *, source: Source, now: float) -> Outcome[PickOrder]:
        """The platform closed the fulfilment after the hand-over."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform closes an order; this came from {source.value}")
        if self.state is not PickState.HANDED_OVER:
            return self._wrong("close")
        order = replace(self, state=PickState.COMPLETED)
        return applied(order, order._event("order.closed", PLATFORM, now))

    def no_show(self, *, source: Source, now: float) -> Outcome[PickOrder]:
        """The hold window passed (the platform's policy): the goods go back to the shelf."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform declares a no-show; this came from {source.value}")
        if self.state is not PickState.READY_FOR_PICKUP:
            return self._wrong("declare a no-show")
        order = replace(self, state=PickState.NO_SHOW)
        return applied(order, order._event("order.no_show", PLATFORM, now, location=self.location))

    # --- time --------------------------------------------------------------------------------------------

    def tick(self, now: float) -> Outcome[PickOrder]:
        """The accept timer times an unaccepted order out; the pick timer's breach is reported once."""
        if self.state is PickState.ASSIGNED:
            due = self.assigned_at + self.timers.accept_s
            if now >= due:
                order = replace(self, state=PickState.TIMED_OUT)
                event = order._event("fulfilment.accept_timer_breached", SYSTEM, due, timer_s=self.timers.accept_s)
                return applied(order, event)
        elif self.state is PickState.PICKING and not self.pick_breached and self.started_at is not None:
            due = self.started_at + self.timers.pick_s
            if now >= due:
                order = replace(self, pick_breached=True)
                return applied(order, order._event("pick.timer_breached", SYSTEM, due, timer_s=self.timers.pick_s))
        return applied(self)

    # --- helpers -----------------------------------------------------------------------------------------

    def _event(self, name: str, actor: str, at: float, **data: object) -> WorkflowEvent:
        payload: dict[str, object] = {"associate_id": self.picker, **data} if self.picker else dict(data)
        return WorkflowEvent(name, self.order_id, actor, at, payload)

    def _wrong(self, command: str) -> Outcome[PickOrder]:
        return refuse(self, WRONG_STATE, f"cannot {command}: order {self.order_id} is {self.state.value}")

    def _by_picker(self, command: str, associate: str, allowed: AbstractSet[PickState]) -> Outcome[PickOrder] | None:
        if not associate:
            return refuse(self, "no_associate", f"cannot {command} without the associate's id")
        if self.state not in allowed:
            return self._wrong(command)
        if self.picker != associate:
            return refuse(self, "claimed_by_other", f"order {self.order_id} is claimed by {self.picker}")
        return None

    def _picking_line(self, command: str, line_id: str, associate: str) -> PickLine | Outcome[PickOrder]:
        if refused := self._by_picker(command, associate, {PickState.PICKING}):
            return refused
        line = self._line(line_id)
        if line is None:
            return refuse(self, "no_such_line", f"order {self.order_id} has no line {line_id}")
        return line

    def _expected(self) -> str:
        wanted = [
            f"{x.substitute_gtin if x.substitution is Substitution.APPROVED else x.gtin14} x{x.remaining}"
            for x in self.lines
            if x.state is PickLineState.OPEN
        ]
        return f"expected: {', '.join(wanted)}" if wanted else "nothing is left to pick"

    def _line(self, line_id: str) -> PickLine | None:
        return next((x for x in self.lines if x.line_id == line_id), None)

    def _with_line(self, line: PickLine) -> PickOrder:
        return replace(self, lines=tuple(line if x.line_id == line.line_id else x for x in self.lines))
