"""The associate's digital tote (retail note §1.2): build with a shopper, hand off payment, collect, hand over.

A tote is a frozen value; every command returns an :class:`Outcome` with the next tote and its events. Every
event carries ``associate_id``: the associate who opened the tote, whom the platform credits (staff attribution,
as Shopify "Email cart"); the event's ``actor`` is whoever did this step, which may be a colleague collecting.

Payment is never taken here: the tote is handed to the POS (a tote code at the till) or the platform sends a
pay-by-link, and only the platform reports ``paid``. Lines for ``pickup`` or ``ship`` are fulfilled by the
platform after payment; the associate gathers the ``carry_out`` lines for the counter.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from edge_agent.domain.const import MAX_LINE_QTY
from edge_agent.domain.fulfilment import FULFILMENTS, Fulfilment
from edge_agent.domain.workflows.common import (
    NOT_PLATFORM,
    PLATFORM,
    PROFILE_SCOPE,
    SYSTEM,
    WRONG_STATE,
    Outcome,
    Source,
    WorkflowEvent,
    applied,
    is_gtin14,
    refuse,
)
from edge_agent.domain.workflows.const import DEFAULT_PARK_TTL_S


class ToteState(StrEnum):
    DRAFT = "draft"
    CUSTOMER_ATTACHED = "customer_attached"
    SHARED = "shared"
    SUBMITTED = "submitted"
    AWAITING_PAYMENT_AT_POS = "awaiting_payment_at_pos"
    PAYMENT_LINK_SENT = "payment_link_sent"
    PAID = "paid"
    COLLECTING = "collecting"
    READY_AT_COUNTER = "ready_at_counter"
    HANDED_OVER = "handed_over"
    COMPLETED = "completed"
    PARKED = "parked"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class LineState(StrEnum):
    REQUESTED = "requested"
    COLLECTED = "collected"
    UNAVAILABLE = "unavailable"
    SUBSTITUTE_PROPOSED = "substitute_proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"


EDITABLE: Final = frozenset({ToteState.DRAFT, ToteState.CUSTOMER_ATTACHED, ToteState.SHARED})
"""Before SUBMITTED: lines may change, the tote may be parked."""
AWAITING_PAYMENT: Final = frozenset({ToteState.AWAITING_PAYMENT_AT_POS, ToteState.PAYMENT_LINK_SENT})
PAYABLE: Final = AWAITING_PAYMENT | {ToteState.SUBMITTED}
"""The platform may report payment as soon as the tote is submitted: a till can scan the tote code before the
associate taps "at the till"."""
CANCELLABLE: Final = EDITABLE | AWAITING_PAYMENT | {ToteState.SUBMITTED, ToteState.PARKED}
"""Open and unpaid; a paid tote is refunded at the POS or by the platform, not cancelled here."""
FINAL: Final = frozenset({ToteState.COMPLETED, ToteState.ABANDONED, ToteState.CANCELLED})
RESOLVED_LINE_STATES: Final = frozenset(
    {LineState.COLLECTED, LineState.UNAVAILABLE, LineState.ACCEPTED, LineState.DECLINED}
)

ID_METHODS: Final = frozenset({"qr", "nfc", "app_confirm"})
"""Deliberate identification acts only (retail note §0.6): the app QR, an NFC tap, a confirm in the app."""
SHARE_CHANNELS: Final = frozenset({"qr_to_phone", "email", "sms", "app"})

EVENT_NAMES: Final = frozenset(
    {
        "tote.created",
        "tote.customer_attached",
        "tote.line_added",
        "tote.line_removed",
        "tote.shared",
        "tote.submitted",
        "tote.pos_handoff",
        "tote.payment_link_sent",
        "tote.paid",
        "tote.converted",
        "tote.collect.started",
        "tote.line_collected",
        "tote.line_unavailable",
        "tote.substitution.proposed",
        "tote.substitution.decided",
        "tote.ready",
        "tote.handed_over",
        "tote.completed",
        "tote.parked",
        "tote.resumed",
        "tote.abandoned",
        "tote.cancelled",
    }
)

REFUSAL_REASONS: Final = frozenset(
    {
        WRONG_STATE,
        NOT_PLATFORM,
        "no_associate",
        "no_tote_id",
        "unknown_method",
        "no_pseudonym",
        "customer_already_attached",
        "no_customer",
        "bad_gtin",
        "bad_quantity",
        "unknown_fulfilment",
        "no_such_line",
        "unknown_channel",
        "empty_tote",
        "no_order_id",
        "not_carry_out",
        "line_resolved",
        "no_reason",
        "not_unavailable",
        "same_item",
        "no_substitution_pending",
        "lines_unresolved",
        "park_expired",
    }
)


def line_id(gtin14: str, fulfilment: Fulfilment) -> str:
    """A tote line is keyed by product and fulfilment mode (retail note §0.4; one channel per tote)."""
    return f"{gtin14}:{fulfilment.value}"


@dataclass(frozen=True, slots=True)
class ToteLine:
    line_id: str
    gtin14: str
    qty: int
    fulfilment: Fulfilment
    state: LineState = LineState.REQUESTED
    reason: str | None = None
    """Why the line is unavailable."""
    substitute_gtin: str | None = None

    @property
    def resolved(self) -> bool:
        """Nothing left to do at the counter: a carry-out line collected, unavailable or its substitute decided;
        pickup and ship lines are the platform's to fulfil and never wait at the counter."""
        return self.fulfilment is not Fulfilment.CARRY_OUT or self.state in RESOLVED_LINE_STATES


@dataclass(frozen=True, slots=True)
class Tote:
    tote_id: str
    associate_id: str
    """The associate who opened the tote: credited for the order (attribution) on every event."""
    state: ToteState
    created_at: float
    park_ttl_s: float = DEFAULT_PARK_TTL_S
    lines: tuple[ToteLine, ...] = ()
    customer: str | None = None
    """The shopper's pseudonym once attached (never a name, email or card)."""
    customer_method: str | None = None
    profile_consent: bool = False
    """The shopper consented to "profile": only then does the pseudonym travel on the events."""
    resume_to: ToteState | None = None
    parked_at: float | None = None
    order_id: str | None = None
    collector_id: str | None = None

    # --- opening and building ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls, tote_id: str, *, associate: str, now: float, park_ttl_s: float = DEFAULT_PARK_TTL_S
    ) -> Outcome[Tote | None]:
        if not tote_id:
            return refuse(None, "no_tote_id", "a tote needs an id")
        if not associate:
            return refuse(None, "no_associate", "a tote is opened by an associate; their id is required")
        tote = cls(tote_id, associate, ToteState.DRAFT, now, park_ttl_s)
        return applied(tote, tote._event("tote.created", associate, now))

    def attach_customer(
        self, method: str, pseudonym: str, *, consent: frozenset[str] = frozenset(), associate: str, now: float
    ) -> Outcome[Tote]:
        if refused := self._check("attach a customer", associate, {ToteState.DRAFT}):
            if self.customer is not None and self.state in EDITABLE and associate:
                return refuse(self, "customer_already_attached", f"tote {self.tote_id} already has a customer")
            return refused
        if method not in ID_METHODS:
            return refuse(self, "unknown_method", f"identification {method!r} is not one of {sorted(ID_METHODS)}")
        if not pseudonym:
            return refuse(self, "no_pseudonym", "an identified shopper has a pseudonym")
        tote = replace(
            self,
            state=ToteState.CUSTOMER_ATTACHED,
            customer=pseudonym,
            customer_method=method,
            profile_consent=PROFILE_SCOPE in consent,
        )
        return applied(tote, tote._event("tote.customer_attached", associate, now, method=method))

    def add_line(self, gtin14: str, qty: int, fulfilment: str, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("add a line", associate, EDITABLE):
            return refused
        if not is_gtin14(gtin14):
            return refuse(self, "bad_gtin", f"{gtin14!r} is not a GTIN-14 with a valid check digit")
        if fulfilment not in FULFILMENTS:
            return refuse(self, "unknown_fulfilment", f"fulfilment {fulfilment!r} is not one of {sorted(FULFILMENTS)}")
        mode = Fulfilment(fulfilment)
        key = line_id(gtin14, mode)
        current = self._line(key)
        total = qty + (current.qty if current else 0)
        if qty < 1 or total > MAX_LINE_QTY:
            return refuse(self, "bad_quantity", f"a line holds 1..{MAX_LINE_QTY}; adding {qty} makes {total}")
        line = replace(current, qty=total) if current else ToteLine(key, gtin14, qty, mode)
        tote = self._with_line(line)
        return applied(
            tote,
            tote._event("tote.line_added", associate, now, line_id=key, gtin14=gtin14, qty=qty, fulfilment=mode.value),
        )

    def remove_line(self, line_id: str, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("remove a line", associate, EDITABLE):
            return refused
        line = self._line(line_id)
        if line is None:
            return refuse(self, "no_such_line", f"tote {self.tote_id} has no line {line_id}")
        tote = replace(self, lines=tuple(x for x in self.lines if x.line_id != line_id))
        data = {"line_id": line_id, "gtin14": line.gtin14, "qty": line.qty, "fulfilment": line.fulfilment.value}
        return applied(tote, tote._event("tote.line_removed", associate, now, **data))

    def share(self, channel: str, *, associate: str, now: float) -> Outcome[Tote]:
        """Send the tote to the shopper for review; may repeat while they think."""
        if refused := self._check("share", associate, {ToteState.CUSTOMER_ATTACHED, ToteState.SHARED}):
            if self.state is ToteState.DRAFT and associate:
                return refuse(self, "no_customer", "attach the shopper before sharing the tote with them")
            return refused
        if channel not in SHARE_CHANNELS:
            return refuse(self, "unknown_channel", f"share channel {channel!r} is not one of {sorted(SHARE_CHANNELS)}")
        if not self.lines:
            return refuse(self, "empty_tote", f"tote {self.tote_id} has no lines to share")
        tote = replace(self, state=ToteState.SHARED)
        return applied(tote, tote._event("tote.shared", associate, now, channel=channel))

    def submit(self, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("submit", associate, EDITABLE):
            return refused
        if not self.lines:
            return refuse(self, "empty_tote", f"tote {self.tote_id} has no lines to submit")
        tote = replace(self, state=ToteState.SUBMITTED)
        return applied(tote, tote._event("tote.submitted", associate, now, **self._summary()))

    # --- payment handoff: the device never takes payment -------------------------------------------------

    def handoff_to_pos(self, *, associate: str, now: float) -> Outcome[Tote]:
        """The tote code or QR is given to the till; the POS takes the payment."""
        allowed = {ToteState.SUBMITTED, ToteState.PAYMENT_LINK_SENT}
        if refused := self._check("hand off to the POS", associate, allowed):
            return refused
        tote = replace(self, state=ToteState.AWAITING_PAYMENT_AT_POS)
        return applied(tote, tote._event("tote.pos_handoff", associate, now, channel="pos_code"))

    def payment_link_sent(self, *, associate: str, now: float) -> Outcome[Tote]:
        """The platform sent the shopper a pay-by-link (again, or instead of the till)."""
        if refused := self._check("send a payment link", associate, {ToteState.SUBMITTED} | AWAITING_PAYMENT):
            return refused
        tote = replace(self, state=ToteState.PAYMENT_LINK_SENT)
        return applied(tote, tote._event("tote.payment_link_sent", associate, now))

    def paid(self, order_id: str, *, source: Source, now: float) -> Outcome[Tote]:
        """The platform reports payment: the only way into PAID (the device never sees the payment itself)."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform reports payment; this came from {source.value}")
        if self.state not in PAYABLE:
            return self._wrong("record payment")
        if not order_id:
            return refuse(self, "no_order_id", "a payment report names the order it created")
        tote = replace(self, state=ToteState.PAID, order_id=order_id)
        return applied(
            tote,
            tote._event("tote.paid", PLATFORM, now, order_id=order_id, **self._summary()),
            tote._event("tote.converted", PLATFORM, now, order_id=order_id),
        )

    # --- collecting for the counter ----------------------------------------------------------------------

    def start_collecting(self, *, associate: str, now: float) -> Outcome[Tote]:
        """Any associate may gather a paid tote, not only the one who built it."""
        if refused := self._check("start collecting", associate, {ToteState.PAID}):
            return refused
        tote = replace(self, state=ToteState.COLLECTING, collector_id=associate)
        return applied(tote, tote._event("tote.collect.started", associate, now, collector_id=associate))

    def line_collected(self, line_id: str, *, associate: str, now: float) -> Outcome[Tote]:
        found = self._collectable(line_id, "collect", associate, {LineState.REQUESTED})
        if isinstance(found, Outcome):
            return found
        tote = self._with_line(replace(found, state=LineState.COLLECTED))
        return applied(tote, tote._event("tote.line_collected", associate, now, line_id=line_id, gtin14=found.gtin14))

    def line_unavailable(self, line_id: str, reason: str, *, associate: str, now: float) -> Outcome[Tote]:
        found = self._collectable(line_id, "mark unavailable", associate, {LineState.REQUESTED})
        if isinstance(found, Outcome):
            return found
        if not reason:
            return refuse(self, "no_reason", "say why the line is unavailable")
        tote = self._with_line(replace(found, state=LineState.UNAVAILABLE, reason=reason))
        return applied(tote, tote._event("tote.line_unavailable", associate, now, line_id=line_id, reason=reason))

    def propose_substitution(self, line_id: str, to_gtin: str, *, associate: str, now: float) -> Outcome[Tote]:
        """Offer the shopper another item for an unavailable line; the line waits for their decision."""
        found = self._collectable(line_id, "propose a substitute", associate, {LineState.UNAVAILABLE})
        if isinstance(found, Outcome):
            return found
        if not is_gtin14(to_gtin):
            return refuse(self, "bad_gtin", f"{to_gtin!r} is not a GTIN-14 with a valid check digit")
        if to_gtin == found.gtin14:
            return refuse(self, "same_item", f"the substitute for {found.gtin14} must be another item")
        line = replace(found, state=LineState.SUBSTITUTE_PROPOSED, substitute_gtin=to_gtin)
        tote = self._with_line(line)
        data = {"line_id": line_id, "from_gtin": found.gtin14, "to_gtin": to_gtin}
        return applied(tote, tote._event("tote.substitution.proposed", associate, now, **data))

    def substitution_decided(self, line_id: str, accepted: bool, *, associate: str, now: float) -> Outcome[Tote]:
        """The shopper's answer, relayed by the associate at the counter."""
        if refused := self._check("record a substitution decision", associate, {ToteState.COLLECTING}):
            return refused
        line = self._line(line_id)
        if line is None:
            return refuse(self, "no_such_line", f"tote {self.tote_id} has no line {line_id}")
        if line.state is not LineState.SUBSTITUTE_PROPOSED:
            return refuse(self, "no_substitution_pending", f"line {line_id} is {line.state.value}, nothing to decide")
        tote = self._with_line(replace(line, state=LineState.ACCEPTED if accepted else LineState.DECLINED))
        data = {"line_id": line_id, "to_gtin": line.substitute_gtin, "accepted": accepted}
        return applied(tote, tote._event("tote.substitution.decided", associate, now, **data))

    def ready(self, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("mark ready at the counter", associate, {ToteState.COLLECTING}):
            return refused
        open_lines = [x.line_id for x in self.lines if not x.resolved]
        if open_lines:
            return refuse(self, "lines_unresolved", f"lines still to resolve: {', '.join(open_lines)}")
        tote = replace(self, state=ToteState.READY_AT_COUNTER)
        return applied(tote, tote._event("tote.ready", associate, now, **self._summary()))

    def handed_over(self, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("hand over", associate, {ToteState.READY_AT_COUNTER}):
            return refused
        tote = replace(self, state=ToteState.HANDED_OVER)
        return applied(tote, tote._event("tote.handed_over", associate, now, order_id=self.order_id))

    def complete(self, *, source: Source, now: float) -> Outcome[Tote]:
        """The platform closed the order after the hand-over."""
        if source is not Source.PLATFORM:
            return refuse(self, NOT_PLATFORM, f"only the platform closes an order; this came from {source.value}")
        if self.state is not ToteState.HANDED_OVER:
            return self._wrong("complete")
        tote = replace(self, state=ToteState.COMPLETED)
        return applied(tote, tote._event("tote.completed", PLATFORM, now, order_id=self.order_id))

    # --- park, cancel, time ------------------------------------------------------------------------------

    def park(self, *, associate: str, now: float) -> Outcome[Tote]:
        """Set the tote aside (nothing is reserved); it is abandoned if not resumed within the park TTL."""
        if refused := self._check("park", associate, EDITABLE):
            return refused
        tote = replace(self, state=ToteState.PARKED, resume_to=self.state, parked_at=now)
        return applied(tote, tote._event("tote.parked", associate, now, ttl_s=self.park_ttl_s))

    def resume(self, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("resume", associate, {ToteState.PARKED}):
            return refused
        assert self.resume_to is not None and self.parked_at is not None
        if now >= self.parked_at + self.park_ttl_s:
            return refuse(self, "park_expired", f"tote {self.tote_id} was parked longer than {self.park_ttl_s:g} s")
        tote = replace(self, state=self.resume_to, resume_to=None, parked_at=None)
        return applied(tote, tote._event("tote.resumed", associate, now, resumed_to=self.resume_to.value))

    def cancel(self, *, associate: str, now: float) -> Outcome[Tote]:
        if refused := self._check("cancel", associate, CANCELLABLE):
            return refused
        tote = replace(self, state=ToteState.CANCELLED, resume_to=None, parked_at=None)
        return applied(tote, tote._event("tote.cancelled", associate, now, cancelled_in=self.state.value))

    def tick(self, now: float) -> Outcome[Tote]:
        """Time passing: a tote parked past its TTL is abandoned. Never refused; no events when nothing is due."""
        if self.state is ToteState.PARKED and self.parked_at is not None:
            due = self.parked_at + self.park_ttl_s
            if now >= due:
                tote = replace(self, state=ToteState.ABANDONED, resume_to=None, parked_at=None)
                return applied(tote, tote._event("tote.abandoned", SYSTEM, due, reason="park_ttl"))
        return applied(self)

    # --- helpers -----------------------------------------------------------------------------------------

    def _event(self, name: str, actor: str, at: float, **data: object) -> WorkflowEvent:
        payload: dict[str, object] = {"associate_id": self.associate_id, **data}
        if self.profile_consent and self.customer is not None:
            payload["profile"] = self.customer
        return WorkflowEvent(name, self.tote_id, actor, at, payload)

    def _wrong(self, command: str) -> Outcome[Tote]:
        return refuse(self, WRONG_STATE, f"cannot {command}: tote {self.tote_id} is {self.state.value}")

    def _check(self, command: str, associate: str, allowed: AbstractSet[ToteState]) -> Outcome[Tote] | None:
        if not associate:
            return refuse(self, "no_associate", f"cannot {command} without the associate's id (attribution)")
        if self.state not in allowed:
            return self._wrong(command)
        return None

    def _collectable(
        self, line_id: str, command: str, associate: str, line_states: AbstractSet[LineState]
    ) -> ToteLine | Outcome[Tote]:
        if refused := self._check(command, associate, {ToteState.COLLECTING}):
            return refused
        line = self._line(line_id)
        if line is None:
            return refuse(self, "no_such_line", f"tote {self.tote_id} has no line {line_id}")
        if line.fulfilment is not Fulfilment.CARRY_OUT:
            return refuse(self, "not_carry_out", f"line {line_id} is {line.fulfilment.value}: the platform fulfils it")
        if line.state not in line_states:
            reason = "not_unavailable" if LineState.UNAVAILABLE in line_states else "line_resolved"
            return refuse(self, reason, f"cannot {command}: line {line_id} is {line.state.value}")
        return line

    def _line(self, key: str) -> ToteLine | None:
        return next((x for x in self.lines if x.line_id == key), None)

    def _with_line(self, line: ToteLine) -> Tote:
        if self._line(line.line_id) is None:
            return replace(self, lines=(*self.lines, line))
        return replace(self, lines=tuple(line if x.line_id == line.line_id else x for x in self.lines))

    def _summary(self) -> dict[str, object]:
        return {
            "items": [
                {"line_id": x.line_id, "gtin14": x.gtin14, "qty": x.qty, "fulfilment": x.fulfilment.value}
                for x in self.lines
            ]
        }
