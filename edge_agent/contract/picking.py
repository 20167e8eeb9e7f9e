"""Picking's MQTT contract: the platform's orders, claim decisions and substitution decisions, the handheld
UI's commands and the screen model, each with its CloudEvents envelope (structured JSON, as the rest of the contract).

Every down message is a full state and retained (see :mod:`edge_agent.contract.topics`), so a replay, a
duplicate or a late subscriber converges on the same thing. Ids are constrained so they fit cart ids
(``pick-{order_id}``) and LWW attribute keys (``pick.line.{line_id}.short``).
"""

from __future__ import annotations

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
MAX_PICK_LINES = 200


class PickOrderLine(Strict):
    line_id: LineId
    gtin14: Gtin14
    qty: int = Field(ge=1, le=999)


class PickOrderMessage(Strict):
    """Down, retained on ``picking/orders/{order_id}``: an order routed to the store, and its platform status.

    ``open``: waiting to be accepted and picked. ``ready_for_pickup``: the platform notified the customer (after
    the device staged it). ``withdrawn``: rerouted or cancelled by the platform; handhelds forget it.
    """

    order_id: OrderId
    lines: list[PickOrderLine] = Field(min_length=1, max_length=MAX_PICK_LINES)
    assigned_at: datetime = Field(description="when the platform routed it to the store: the accept timer's start")
    deadline: datetime | None = Field(default=None, description="the promised pickup time, shown to associates")
    status: Literal["open", "ready_for_pickup", "withdrawn"] = "open"
    notified_via: Literal["sms", "email", "push", "none"] | None = Field(
        default=None, description="ready_for_pickup: how the customer was told"
    )
    version: int = Field(
        default=1, ge=1, le=MAX_WIRE_INT, description="monotonic per order; older versions are ignored"
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
    """Down on ``dv/{device}/ui``, from the handheld's UI: the associate's action on one order."""

    action: Literal["accept", "decline", "start", "short", "propose_substitution", "complete", "reject", "stage"]
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


class PickLineView(Strict):
    line_id: str
    gtin14: Gtin14
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


class PickOrderView(Strict):
    order_id: str
    state: str
    picker: str | None
    claim: Literal["pending", "won", "lost"]
    lines: list[PickLineView] = Field(max_length=MAX_PICK_LINES)
    expected: list[str] = Field(default=[], description="'gtin14 xN' still to scan, substitutes included")
    location: str | None = None


class PickView(Strict):
    """Up, retained on ``dv/{device}/picking``: the orders an associate may accept, the one in hand, and why
    the last action or scan was refused (stable reason code plus a sentence for people)."""

    available: list[PickOrderSummary] = Field(default=[], max_length=500)
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
