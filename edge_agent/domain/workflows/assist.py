"""A fitting-room assist request (retail note §1.4): the shopper asks, an associate acknowledges and delivers.

Its own small machine, one per request, so a room can have several open at once. The ack timer escalates an
unacknowledged request one level per ``ack_s`` up to a maximum (each level is its own event, timed when it fell
due, even if ``tick`` ran late); after the acknowledgement the delivery timer's breach is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from edge_agent.domain.workflows.common import (
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
from edge_agent.domain.workflows.const import DEFAULT_ASSIST_ACK_S, DEFAULT_ASSIST_DELIVERY_S, DEFAULT_ASSIST_MAX_LEVEL


class AssistType(StrEnum):
    SIZE = "size"
    COLOUR = "colour"
    STYLE = "style"
    HELP = "help"


class AssistState(StrEnum):
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    DELIVERED = "delivered"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"


ASSIST_TYPES: Final = frozenset(t.value for t in AssistType)
NEEDS_TARGET: Final = frozenset({AssistType.SIZE, AssistType.COLOUR, AssistType.STYLE})
"""Another size, colour or style *of something*: the garment is named; "help" needs none."""
OPEN: Final = frozenset({AssistState.REQUESTED, AssistState.ACKNOWLEDGED})
FINAL: Final = frozenset({AssistState.DELIVERED, AssistState.UNAVAILABLE, AssistState.CANCELLED})

EVENT_NAMES: Final = frozenset(
    {
        "assist.requested",
        "assist.escalated",
        "assist.acknowledged",
        "assist.delivered",
        "assist.unavailable",
        "assist.cancelled",
        "assist.delivery_timer_breached",
    }
)

REFUSAL_REASONS: Final = frozenset(
    {
        WRONG_STATE,
        "no_request_id",
        "no_session",
        "unknown_type",
        "target_required",
        "bad_gtin",
        "no_associate",
        "already_acknowledged",
        "not_acknowledged",
        "not_shopper",
    }
)


@dataclass(frozen=True, slots=True)
class AssistTimers:
    ack_s: float = DEFAULT_ASSIST_ACK_S
    delivery_s: float = DEFAULT_ASSIST_DELIVERY_S
    max_level: int = DEFAULT_ASSIST_MAX_LEVEL

    def __post_init__(self) -> None:
        if self.ack_s <= 0 or self.delivery_s <= 0 or self.max_level < 1:
            raise ValueError("assist timers must be positive and escalate at least one level")


DEFAULT_ASSIST_TIMERS: Final = AssistTimers()


@dataclass(frozen=True, slots=True)
class AssistRequest:
    request_id: str
    room_id: str
    session_id: str
    type: AssistType
    target_gtin: str | None
    state: AssistState
    requested_at: float
    timers: AssistTimers = DEFAULT_ASSIST_TIMERS
    associate: str | None = None
    """Who acknowledged the request (and answers for it)."""
    acknowledged_at: float | None = None
    level: int = 0
    """Escalation level reached while unacknowledged; 0 = nobody escalated yet."""
    delivery_breached: bool = False

    @classmethod
    def request(
        cls,
        request_id: str,
        *,
        room_id: str,
        session_id: str,
        type: str,
        target_gtin: str | None,
        now: float,
        timers: AssistTimers = DEFAULT_ASSIST_TIMERS,
    ) -> Outcome[AssistRequest | None]:
        """The shopper taps size / colour / style / help on the mirror; the ack timer starts."""
        if not request_id:
            return refuse(None, "no_request_id", "an assist request needs an id")
        if not room_id or not session_id:
            return refuse(None, "no_session", "an assist request belongs to a room's session")
        if type not in ASSIST_TYPES:
            return refuse(None, "unknown_type", f"assist type {type!r} is not one of {sorted(ASSIST_TYPES)}")
        kind = AssistType(type)
        if kind in NEEDS_TARGET and not target_gtin:
            return refuse(None, "target_required", f"a {kind.value} request names the garment")
        if target_gtin is not None and not is_gtin14(target_gtin):
            return refuse(None, "bad_gtin", f"{target_gtin!r} is not a valid GTIN-14")
        req = cls(request_id, room_id, session_id, kind, target_gtin, AssistState.REQUESTED, now, timers)
        data: dict[str, object] = {"type": kind.value, "target_gtin": target_gtin}
        return applied(req, req._event("assist.requested", SHOPPER, now, **data))

    def acknowledge(self, *, associate: str, now: float) -> Outcome[AssistRequest]:
        """An associate takes the request on a handheld; the mirror shows the reply and the delivery timer starts."""
        if not associate:
            return refuse(self, "no_associate", "an acknowledgement names the associate")
        if self.state is AssistState.ACKNOWLEDGED:
            who = "you" if self.associate == associate else self.associate
            return refuse(self, "already_acknowledged", f"request {self.request_id} is already taken by {who}")
        if self.state is not AssistState.REQUESTED:
            return self._wrong("acknowledge")
        req = replace(self, state=AssistState.ACKNOWLEDGED, associate=associate, acknowledged_at=now)
        data = {"associate_id": associate, "response_s": now - self.requested_at, "level": self.level}
        return applied(req, req._event("assist.acknowledged", associate, now, **data))

    def delivered(self, *, associate: str, now: float) -> Outcome[AssistRequest]:
        """The garment was brought (by the acknowledging associate or a colleague)."""
        return self._answer(AssistState.DELIVERED, "assist.delivered", associate, now, {})

    def unavailable(self, *, associate: str, now: float, reason: str = "") -> Outcome[AssistRequest]:
        """None in stock: the mirror offers alternatives or an order to home."""
        return self._answer(
            AssistState.UNAVAILABLE, "assist.unavailable", associate, now, {"reason": reason} if reason else {}
        )

    def cancel(self, *, source: Source = Source.SHOPPER, now: float) -> Outcome[AssistRequest]:
        """The shopper changed their mind, or the room was vacated (``Source.SYSTEM``)."""
        if source not in (Source.SHOPPER, Source.SYSTEM):
            return refuse(self, "not_shopper", "only the shopper (or the room closing) cancels a request")
        if self.state not in OPEN:
            return self._wrong("cancel")
        req = replace(self, state=AssistState.CANCELLED)
        actor = SHOPPER if source is Source.SHOPPER else SYSTEM
        return applied(req, req._event("assist.cancelled", actor, now, cancelled_in=self.state.value))

    def tick(self, now: float) -> Outcome[AssistRequest]:
        """Escalate an unacknowledged request per elapsed ``ack_s``; report a late delivery once."""
        t = self.timers
        if self.state is AssistState.REQUESTED and self.level < t.max_level:
            due_level = min(t.max_level, int((now - self.requested_at) // t.ack_s))
            if due_level > self.level:
                req = replace(self, level=due_level)
                events = tuple(
                    req._event("assist.escalated", SYSTEM, self.requested_at + n * t.ack_s, level=n)
                    for n in range(self.level + 1, due_level + 1)
                )
                return applied(req, *events)
        if self.state is AssistState.ACKNOWLEDGED and not self.delivery_breached and self.acknowledged_at is not None:
            due = self.acknowledged_at + t.delivery_s
            if now >= due:
                req = replace(self, delivery_breached=True)
                data = {"associate_id": self.associate, "timer_s": t.delivery_s}
                return applied(req, req._event("assist.delivery_timer_breached", SYSTEM, due, **data))
        return applied(self)

    def _answer(
        self, to: AssistState, name: str, associate: str, now: float, extra: dict[str, object]
    ) -> Outcome[AssistRequest]:
        if not associate:
            return refuse(self, "no_associate", "the answer names the associate")
        if self.state is AssistState.REQUESTED:
            return refuse(self, "not_acknowledged", f"acknowledge request {self.request_id} first")
        if self.state is not AssistState.ACKNOWLEDGED:
            return self._wrong(f"mark {to.value}")
        req = replace(self, state=to)
        assert self.acknowledged_at is not None
        data = {"associate_id": associate, "delivery_s": now - self.acknowledged_at, **extra}
        return applied(req, req._event(name, associate, now, **data))

    def _event(self, name: str, actor: str, at: float, **data: object) -> WorkflowEvent:
        payload = {"room_id": self.room_id, "session_id": self.session_id, "type": self.type.value, **data}
        return WorkflowEvent(name, self.request_id, actor, at, payload)

    def _wrong(self, command: str) -> Outcome[AssistRequest]:
        return refuse(self, WRONG_STATE, f"cannot {command}: request {self.request_id} is {self.state.value}")
