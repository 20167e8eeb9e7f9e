"""The kiosk shopper session as workflow events (retail note §1.1, §6): pure values the basket hands to the
event outbox, each carrying the session's ``attribution_key`` through the envelope
(the pseudonym only with ``analytics`` consent).

A session is announced by its first act (a scan, a line change, a tap): the kiosk keeps a session ready between
shoppers, and an untouched one is no shopper's, so it starts and ends without a word. Events name products by
GTIN and count lines and units, never prices (the edge never emits revenue; prices are the platform's).

The guest basket's id travels on ``kiosk.session.started`` and on the take-to-phone ``cart.handoff``: it is the
device's own anonymous cart, and the platform's claim names it, which is how an online order from a claimed basket
finds its session. A profile cart id never travels here (it names a shopper); the merge writes the attribution key
into the profile cart itself (:data:`edge_agent.domain.session.ATTRIBUTION_ATTR`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from edge_agent.domain.session import MergePreview, Session, SessionState
from edge_agent.domain.workflows.common import SHOPPER, SYSTEM, WorkflowEvent

SESSION_STARTED: Final = "kiosk.session.started"
LINE_ADDED: Final = "cart.line_added"
LINE_REMOVED: Final = "cart.line_removed"
MERGE_PREVIEWED: Final = "cart.merge_previewed"
MERGE_CONFIRMED: Final = "cart.merge_confirmed"
MERGE_DECLINED: Final = "cart.merge_declined"
CHECKOUT_HANDOFF: Final = "checkout.handoff"
CART_HANDOFF: Final = "cart.handoff"
SESSION_ENDED: Final = "kiosk.session.ended"
BASKET_ABANDONED: Final = "basket.abandoned"

EVENT_NAMES: Final = frozenset(
    {
        SESSION_STARTED,
        LINE_ADDED,
        LINE_REMOVED,
        MERGE_PREVIEWED,
        MERGE_CONFIRMED,
        MERGE_DECLINED,
        CHECKOUT_HANDOFF,
        CART_HANDOFF,
        SESSION_ENDED,
        BASKET_ABANDONED,
    }
)

SOURCE: Final = "kiosk"
"""The ``source`` custom item parameter of retail note §6 (kiosk | tote | mirror | scan_go)."""

Trigger = Literal["scan", "line", "identity"]

ERASED: Final = "erased"
"""The end reason of a session whose shopper was erased (roles/basket.py)."""

CONSENT_WITHDRAWN: Final = "consent_withdrawn"
"""The end reason of a session whose shopper withdrew ``profile`` on the screen (roles/offers.py)."""

ENDED_BY_SHOPPER: Final = frozenset({"explicit", "checkout", "claimed", CONSENT_WITHDRAWN})
"""End reasons the shopper caused; the rest (timeout, walkaway, erased) are the system's."""

ABANDONING: Final = frozenset({"timeout", "walkaway", "explicit"})
"""End reasons that leave a basket behind when it still holds lines nobody took: the shopper left it idle, walked
off, or ended the session at the screen without paying or taking it (retail note §1.1: walks away or cancels)."""

NOT_HANDED_OFF: Final = frozenset({SessionState.ANONYMOUS, SessionState.MERGE_PREVIEW, SessionState.MERGE_DECLINED})
"""States in which the guest basket has gone nowhere: merged lines are in the profile cart and a basket kept
separate is the shopper's own cart on the platform, so neither is abandoned."""


def opened(session: Session, trigger: Trigger, now: float) -> list[WorkflowEvent]:
    """The session's first act announces it (once); later acts announce nothing."""
    if session.announced:
        return []
    session.announced = True
    data = {"cart": session.guest_cart, "trigger": trigger}
    return [WorkflowEvent(SESSION_STARTED, session.session_id, SHOPPER, now, data)]


def line_changes(
    session: Session, before: Mapping[str, int], after: Mapping[str, int], now: float
) -> list[WorkflowEvent]:
    """What the shopper's change did to the lines: a quantity raised is an add of the difference, lowered or
    removed a removal of it (GA4 and Segment have no "quantity set" event, retail note §6)."""
    events = []
    for gtin14 in sorted(set(before) | set(after)):
        delta = after.get(gtin14, 0) - before.get(gtin14, 0)
        if delta:
            events.append(_line(session, LINE_ADDED if delta > 0 else LINE_REMOVED, gtin14, abs(delta), now))
    return events


def line_added(session: Session, gtin14: str, qty: int, now: float) -> WorkflowEvent:
    return _line(session, LINE_ADDED, gtin14, qty, now)


def _line(session: Session, name: str, gtin14: str, qty: int, now: float) -> WorkflowEvent:
    return WorkflowEvent(name, session.session_id, SHOPPER, now, {"gtin14": gtin14, "qty": qty, "source": SOURCE})


def merge_previewed(session: Session, preview: MergePreview, now: float) -> WorkflowEvent:
    """The shopper sees how their basket would join their online cart: the policy and the size of the diff."""
    changed = sum(1 for ln in preview.lines if ln.result_qty != ln.online_qty)
    data = {"policy": preview.policy.value, "lines": len(preview.lines), "lines_changed": changed}
    return WorkflowEvent(MERGE_PREVIEWED, session.session_id, SHOPPER, now, data)


def merge_confirmed(session: Session, policy: str, now: float) -> WorkflowEvent:
    data = {"policy": policy, "kept_separate": session.state is SessionState.KEPT_SEPARATE}
    return WorkflowEvent(MERGE_CONFIRMED, session.session_id, SHOPPER, now, data)


def merge_declined(session: Session, now: float) -> WorkflowEvent:
    return WorkflowEvent(MERGE_DECLINED, session.session_id, SHOPPER, now, {})


def checkout_handoff(session: Session, lines: Mapping[str, int], now: float) -> WorkflowEvent:
    """The shopper asked to pay: the basket goes to the till by its code (no card data at the edge)."""
    session.handoff = "pos"
    data = {"channel": "pos", "lines": len(lines), "units": sum(lines.values()), "source": SOURCE}
    return WorkflowEvent(CHECKOUT_HANDOFF, session.session_id, SHOPPER, now, data)


def taken_to_phone(session: Session, units: int, now: float) -> WorkflowEvent:
    """The platform says the shopper claimed the guest basket on their phone (its claim names this cart)."""
    session.handoff = "qr_to_phone"
    data = {"channel": "qr_to_phone", "cart": session.guest_cart, "units": units}
    return WorkflowEvent(CART_HANDOFF, session.session_id, SHOPPER, now, data)


def ended(session: Session, reason: str, guest_lines: Mapping[str, int], now: float) -> list[WorkflowEvent]:
    """``kiosk.session.ended`` with its reason, and ``basket.abandoned`` when lines were left that nobody took.

    ``session`` is the one ending, still in the state it ended from; ``guest_lines`` what its guest basket
    holds. A session never announced ends silently: nobody used it; nor does an erased one: its shopper asked
    to be forgotten, and an event now would carry their profile out again."""
    if not session.announced or reason == ERASED:
        return []
    actor = SHOPPER if reason in ENDED_BY_SHOPPER else SYSTEM
    data: dict[str, object] = {
        "reason": reason,
        "from_state": session.state.value,
        "identified": session.identity is not None,
        "handoff": session.handoff,
        "duration_s": round(max(0.0, now - session.started_at), 1),
    }
    events = [WorkflowEvent(SESSION_ENDED, session.session_id, actor, now, data)]
    if reason in ABANDONING and session.state in NOT_HANDED_OFF and session.handoff is None and guest_lines:
        left = {"reason": reason, "lines": len(guest_lines), "units": sum(guest_lines.values()), "source": SOURCE}
        events.append(WorkflowEvent(BASKET_ABANDONED, session.session_id, SYSTEM, now, left))
    return events
