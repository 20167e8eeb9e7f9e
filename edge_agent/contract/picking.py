"""Picking's MQTT contract: the platform's orders, claim decisions and substitution decisions, the handheld
UI's commands and the screen model, each with its CloudEvents envelope (structured JSON, as the rest of the contract).

Every down message is a full state and retained (see :mod:`edge_agent.contract.topics`), so a replay, a
duplicate or a late subscriber converges on the same thing. Ids are constrained so they fit cart ids
(``pick-{order_id}``) and LWW attribute keys (``pick.line.{line_id}.short``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints, model_validator

from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.contract.workflow import AssociateId
from edge_agent.domain.const import MAX_WIRE_INT
from edge_agent.domain.ops import DeviceId, Gtin14

T_PICK_ORDER: Final = "com.edgeagent.pick.order.v1"
T_PICK_CLAIM: Final = "com.edgeagent.pick.claim.v1"
T_PICK_DECISIONS: Final = "com.edgeagent.pick.decisions.v1"
T_PICK_COMMAND: Final = "com.edgeagent.pick.command.v1"
T_PICK_VIEW: Final = "com.edgeagent.display.pick.v1"

OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,59}$")]
"""Fits the pick cart id ``pick-{order_id}`` (cart ids are at most 64 characters)."""
LineId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
"""Fits the attribute keys ``pick.line.{line_id}.short`` / ``.substitute`` (keys are ``[a-z0-9_.]``, ≤ 64)."""
Reason = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
OrderCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,32}$")]
"""The pickup code the customer shows (4..32 letters, digits, hyphens); compared case-insensitively."""
CodeHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MAX_PICK_LINES = 200


def pickup_code_hash(code: str) -> str:
    """``pickup_code_hash`` of a pickup code: the sha256 hex of its upper-cased ASCII text. The platform publishes
    this, the handheld compares the code the customer shows against it; neither keeps the code itself."""
    return hashlib.sha256(code.upper().encode("ascii")).hexdigest()


class PickOrderLine(Strict):
    line_id: LineId
    gtin14: Gtin14
    qty: int = Field(ge=1, le=999)


class PickOrderMessage(Strict):
    """Down, retained on ``picking/orders/{order_id}``: an order routed to the store, and its platform status.

    ``open``: waiting to be accepted and picked. ``ready_for_pickup``: the platform notified the customer (after
    the device staged it). ``closed``: the platform closed the fulfilment after the hand-over the device
    reported. ``no_show``: the hold window passed (the platform's policy) before the customer came; the goods go
    back to the shelf. ``withdrawn``: rerouted or cancelled by the platform; handhelds forget it.

    ``pickup_code_hash`` lets a handheld verify the customer's order code offline: the sha256 hex of the code
    upper-cased (``pickup_code_hash()`` in the contract); the code itself is never published. Whoever can read
    the order can try every short code against the hash offline: the platform should issue codes long enough
    (e.g. 8+ random characters) that this does not pay.
    """

    order_id: OrderId
    lines: list[PickOrderLine] = Field(min_length=1, max_length=MAX_PICK_LINES)
    assigned_at: datetime = Field(description="when the platform routed it to the store: the accept timer's start")
    deadline: datetime | None = Field(default=None, description="the promised pickup time, shown to associates")
    status: Literal["open", "ready_for_pickup", "closed", "no_show", "withdrawn"] = "open"
    notified_via: Literal["sms", "email", "push", "none"] | None = Field(
        default=None, description="ready_for_pickup: how the customer was told"
    )
    version: int = Field(
        default=1, ge=1, le=MAX_WIRE_INT, description="monotonic per order; older versions are ignored"
    )
    pickup_code_hash: CodeHash | None = Field(
        default=None, description="sha256 hex of the upper-cased pickup code the customer was given, if any"
    )

    @model_validator(mode="after")
    def _unique_lines(self) -> PickOrderMessage:
        ids = [x.line_id for x in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique")
        return self


class ClaimDecision(Strict):
    """Down, retained on ``picking/orders/{order_id}/claim``: the platform's arbitration, final once published."""

    order_id: OrderId
    device: DeviceId
    associate: AssociateId


class SubstitutionDecision(Strict):
    line_id: LineId
    to_gtin: Gtin14
    approved: bool


class SubstitutionDecisions(Strict):
    """Down, retained on ``picking/orders/{order_id}/decisions``: every decision so far (cumulative).

    A decision applies to a pending proposal of the same line *and* substitute; replays change nothing, and a
    re-proposal of an item the platform already rejected gets the same answer at once.
    """

    order_id: OrderId
    decisions: list[SubstitutionDecision] = Field(max_length=MAX_PICK_LINES * 4)


class PickCommand(Strict):
    """Down on ``dv/{device}/ui``, from the handheld's UI: the associate's action on one order.

    Picking: ``accept``, ``decline``, ``start``, ``short``, ``propose_substitution``, ``complete``, ``reject``,
    ``stage``. Customer pickup, once the platform marked the order ready for pickup: ``check_in`` (the customer
    is at the counter or the curb), ``verify`` (the associate checked who they are: ``verified_by`` is required;
    ``order_code`` needs the code the customer shows, checked on the device against the order's
    ``pickup_code_hash`` and never kept; ``id_document`` records only that a document was checked, never its
    number), ``hand_over`` (the goods went to the customer). Closing the order and declaring a no-show are the
    platform's (the order's ``closed`` / ``no_show`` status), not the UI's.
    """

    action: Literal[
        "accept",
        "decline",
        "start",
        "short",
        "propose_substitution",
        "complete",
        "reject",
        "stage",
        "check_in",
        "verify",
        "hand_over",
    ]
    associate: AssociateId
    order_id: OrderId
    line_id: LineId | None = Field(default=None, description="short, propose_substitution")
    qty: int | None = Field(default=None, ge=1, le=999, description="short: how many units cannot be picked")
    reason: Reason | None = Field(default=None, description="short (a configured reason), decline, reject")
    to_gtin: Gtin14 | None = Field(default=None, description="propose_substitution: the proposed item")
    location: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,32}$")] | None = Field(
        default=None, description="stage: the staging location scanned"
    )
    tote_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,32}$")]] = Field(
        default=[], max_length=20, description="stage: the order's totes"
    )
    mode: Literal["counter", "curbside"] | None = Field(
        default=None, description="check_in: where the customer is (counter when absent)"
    )
    verified_by: Literal["order_code", "id_document"] | None = Field(
        default=None, description="verify (required): how the associate verified the customer"
    )
    order_code: OrderCode | None = Field(
        default=None,
        description="verify by order_code: the code the customer shows; compared with the order's hash, never kept",
    )


class PickLineView(Strict):
    line_id: str
    gtin14: Gtin14
    name: str = Field(default="", max_length=200, description="from the device's catalog cache; empty when unknown")
    qty: int
    picked: int
    short: int
    short_reason: str | None = None
    substitute_gtin: Gtin14 | None = None
    substitution: Literal["proposed", "approved", "rejected"] | None = None
    state: Literal["open", "picked", "short", "substitute_proposed"]
    remaining: int


class PickOrderSummary(Strict):
    order_id: str
    lines: int
    units: int
    deadline: datetime | None = None
    state: str | None = Field(default=None, description="where the order is (the pickup list acts on it by this)")
    verified_by: Literal["order_code", "id_document"] | None = Field(
        default=None, description="customer pickup: how the customer was verified, once they were"
    )


class PickOrderView(Strict):
    order_id: str
    state: str
    picker: str | None
    claim: Literal["pending", "won", "lost"]
    lines: list[PickLineView] = Field(max_length=MAX_PICK_LINES)
    expected: list[str] = Field(default=[], description="'gtin14 xN' still to scan, substitutes included")
    location: str | None = None
    short_reasons: list[str] = Field(default=[], max_length=32, description="the reasons a short may give here")
    verified_by: Literal["order_code", "id_document"] | None = Field(
        default=None, description="customer pickup: how the associate verified the customer (never the code)"
    )


class PickView(Strict):
    """Up, retained on ``dv/{device}/picking``: the orders an associate may accept, the one in hand, and why
    the last action or scan was refused (stable reason code plus a sentence for people)."""

    available: list[PickOrderSummary] = Field(default=[], max_length=500)
    awaiting_pickup: list[PickOrderSummary] = Field(
        default=[], max_length=500, description="orders picked here, ready for their customer, other than current"
    )
    current: PickOrderView | None = None
    refused: str | None = None
    detail: str | None = None


class PickOrderEvent(CloudEvent[PickOrderMessage]):
    type: Literal["com.edgeagent.pick.order.v1"] = T_PICK_ORDER


class ClaimDecisionEvent(CloudEvent[ClaimDecision]):
    type: Literal["com.edgeagent.pick.claim.v1"] = T_PICK_CLAIM


class SubstitutionDecisionsEvent(CloudEvent[SubstitutionDecisions]):
    type: Literal["com.edgeagent.pick.decisions.v1"] = T_PICK_DECISIONS


class PickCommandEvent(CloudEvent[PickCommand]):
    type: Literal["com.edgeagent.pick.command.v1"] = T_PICK_COMMAND


class PickViewEvent(CloudEvent[PickView]):
    type: Literal["com.edgeagent.display.pick.v1"] = T_PICK_VIEW
