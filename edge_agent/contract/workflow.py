"""Store workflows: the commands and screen models of shelf, tote, mirror and assist (the workflow event every
role sends is contract/workflow_event.py).

Every field a consumer needs is in the payload; MQTT 5 user properties only mirror ``type`` and ``id``, so a
3.1.1 broker carries the same contract. docs/asyncapi.yaml is generated from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from edge_agent.contract.aisle import AisleOrderView, Availability, FulfilmentText
from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.contract.catalog import LookupResult, RelatedItem
from edge_agent.contract.catalog import VariantModel as LookupVariant
from edge_agent.contract.const import MAX_PRICE_MINOR
from edge_agent.domain.const import MAX_LINE_QTY
from edge_agent.domain.ops import CartId, DeviceId, Gtin14

T_LOOKUP: Final = "com.edgeagent.display.lookup.v1"
T_SHELF_COMMAND: Final = "com.edgeagent.shelf.command.v1"
T_LABEL_REPORT: Final = "com.edgeagent.shelf.label_report.v1"
T_TOTE_COMMAND: Final = "com.edgeagent.tote.command.v1"
T_TOTE_VIEW: Final = "com.edgeagent.display.tote.v1"
T_MIRROR_COMMAND: Final = "com.edgeagent.mirror.command.v1"
T_MIRROR_VIEW: Final = "com.edgeagent.display.mirror.v1"
T_ASSIST_REQUEST: Final = "com.edgeagent.assist.request.v1"
T_ASSIST_REPLY: Final = "com.edgeagent.assist.reply.v1"


class ShelfCommand(Strict):
    """Down, from the shelf's screen or an associate's handheld: a label price that disagrees with the system."""

    action: Literal["report_price"]
    gtin14: Gtin14
    shelf_price_minor: int = Field(ge=0, le=MAX_PRICE_MINOR)
    associate: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None


AssociateId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class LabelReport(Strict):
    """Down, from the shelf's screen: the label on the shelf does not match what the screen shows for this item.

    It names what the screen showed, so the platform's report says which price the shopper compared; the shelf
    accepts it only for the item its screen shows now."""

    gtin14: Gtin14
    shown_price_minor: int | None = Field(
        default=None, ge=0, le=MAX_PRICE_MINOR, description="the price shown; none for 'price confirmed at checkout'"
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    associate: AssociateId | None = Field(default=None, description="an associate reporting it; else the shopper")


class ToteCommand(Strict):
    """Down, from the handheld's UI: the associate's action on their digital tote."""

    action: Literal[
        "open",
        "park",
        "resume",
        "share",
        "submit",
        "handoff_to_pos",
        "payment_link",
        "cancel",
        "remove_line",
        "start_collecting",
        "line_collected",
        "line_unavailable",
        "propose_substitution",
        "substitution_decided",
        "ready",
        "handed_over",
        "order_line",
    ]
    associate: AssociateId
    tote_id: CartId | None = Field(
        default=None, description="resume a parked tote; the collection steps name the (paid) tote they work on"
    )
    line_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    channel: Literal["email", "qr_to_phone", "pos_code"] | None = None
    reason: Annotated[str, StringConstraints(max_length=64)] | None = Field(default=None, description="unavailable")
    to_gtin: Gtin14 | None = Field(default=None, description="propose_substitution: the item offered instead")
    accepted: bool | None = Field(default=None, description="substitution_decided: the shopper's answer")
    gtin14: Gtin14 | None = Field(default=None, description="order_line: the item the store lacks")
    qty: int | None = Field(default=None, ge=1, le=MAX_LINE_QTY, description="order_line: units (default 1)")
    fulfilment: FulfilmentText | None = Field(
        default=None, description="order_line: ship or pickup@{store}, asked of the platform (endless aisle)"
    )


class ToteLineView(Strict):
    line_id: str
    gtin14: Gtin14
    name: str = Field(default="", max_length=200, description="from the device's catalog cache; empty when unknown")
    qty: int
    fulfilment: str
    state: str
    order: AisleOrderView | None = Field(
        default=None, description="ship or pickup lines: requested, confirmed or refused by the platform"
    )
    availability: Availability | None = Field(
        default=None, description="none in stock here, or ordered: what online and nearby stores hold"
    )


class ToteView(Strict):
    """Up, retained, for the handheld's screen: the active tote. The customer shows as a flag, never a pseudonym."""

    tote_id: CartId | None
    state: str | None
    associate: str | None
    customer_attached: bool = False
    lines: list[ToteLineView] = Field(default=[], max_length=1000)
    parked: list[CartId] = Field(default=[], description="totes parked on this device, to resume")
    refused: str | None = Field(default=None, description="why the last action or scan was refused")
    detail: str | None = None
    related: list[RelatedItem] = Field(
        default=[], max_length=20, description="the catalog's related items for the line added last (not in the tote)"
    )


RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class MirrorCommand(Strict):
    """Down, from the mirror's touch screen: the shopper asks for another size, colour, style or help, or leaves."""

    action: Literal["request_assist", "cancel_assist", "checkout", "vacate", "order_line"]
    type: Literal["size", "colour", "style", "help"] | None = None
    target_gtin: Gtin14 | None = Field(
        default=None, description="the garment wanted (another size of it, ...); order_line: the size none here"
    )
    request_id: RequestId | None = None
    channel: Literal["pos", "app"] | None = None
    fulfilment: FulfilmentText | None = Field(
        default=None, description="order_line: ship or pickup@{store}, into the verified shopper's basket"
    )


class AssistRequestMessage(Strict):
    """Up, store-wide, retained per request: what the associates' handhelds list. No shopper identity in it."""

    request_id: RequestId
    room_id: str
    mirror: DeviceId = Field(description="answer on rt/v1/{tenant}/st/{store}/dv/{mirror}/assist")
    type: Literal["size", "colour", "style", "help"]
    target_gtin: Gtin14 | None = None
    target_name: str = ""
    state: Literal["requested", "acknowledged", "delivered", "unavailable", "cancelled"]
    level: int = Field(ge=0, description="escalation level: rises each time the acknowledgement timer runs out")
    associate: str | None = None


class AssistReply(Strict):
    """Down to the mirror, from an associate's handheld: I'm on it / here it is / we don't have it."""

    request_id: RequestId
    action: Literal["acknowledge", "delivered", "unavailable"]
    associate: AssociateId
    reason: Annotated[str, StringConstraints(max_length=120)] = ""


class GarmentView(Strict):
    """A garment in the room, with its own stock and every other size and colour of its style in this store."""

    gtin14: Gtin14
    name: str = ""
    size: str | None = None
    colour: str | None = None
    stock: int | None = Field(default=None, description="units of this very size and colour in this store")
    stock_as_of: datetime | None = Field(default=None, description="when the store's stock was counted")
    in_store: list[LookupVariant] = Field(default=[], description="other sizes and colours with their stock here")
    elsewhere: dict[Gtin14, Availability] = Field(
        default={}, description="it and its sizes none here (or ordered): what online and nearby stores hold"
    )


class AssistAnswerView(Strict):
    """A request of the room's session that is closed, kept on the mirror until the room is vacated: the shopper
    sees that it was brought, cancelled, or that it is not available and why."""

    request_id: RequestId
    type: Literal["size", "colour", "style", "help"]
    target_gtin: Gtin14 | None = None
    target_name: str = ""
    state: Literal["delivered", "unavailable", "cancelled"]
    reason: Annotated[str, StringConstraints(max_length=120)] = Field(default="", description="why not available")


class MirrorView(Strict):
    """Up, retained, for the mirror's screen. Identified is a flag; no pseudonym is ever shown or published."""

    room_id: str
    state: str
    session_id: str | None = None
    garments: list[GarmentView] = Field(default=[])
    requests: list[AssistRequestMessage] = Field(default=[])
    answered: list[AssistAnswerView] = Field(default=[], description="this session's closed requests, latest last")
    orders: dict[Gtin14, AisleOrderView] = Field(
        default={}, description="sizes the verified shopper ordered here: requested, confirmed or refused"
    )
    identified: bool = False
    offline: bool = False
    refused: str | None = None
    detail: str | None = None
    related: list[RelatedItem] = Field(
        default=[], max_length=20, description="the catalog's related items for the garment tapped last"
    )


class ShelfCommandEvent(CloudEvent[ShelfCommand]):
    type: Literal["com.edgeagent.shelf.command.v1"] = T_SHELF_COMMAND


class LabelReportEvent(CloudEvent[LabelReport]):
    type: Literal["com.edgeagent.shelf.label_report.v1"] = T_LABEL_REPORT


class ToteCommandEvent(CloudEvent[ToteCommand]):
    type: Literal["com.edgeagent.tote.command.v1"] = T_TOTE_COMMAND


class ToteViewEvent(CloudEvent[ToteView]):
    type: Literal["com.edgeagent.display.tote.v1"] = T_TOTE_VIEW


class MirrorCommandEvent(CloudEvent[MirrorCommand]):
    type: Literal["com.edgeagent.mirror.command.v1"] = T_MIRROR_COMMAND


class MirrorViewEvent(CloudEvent[MirrorView]):
    type: Literal["com.edgeagent.display.mirror.v1"] = T_MIRROR_VIEW


class AssistRequestEvent(CloudEvent[AssistRequestMessage]):
    type: Literal["com.edgeagent.assist.request.v1"] = T_ASSIST_REQUEST


class AssistReplyEvent(CloudEvent[AssistReply]):
    type: Literal["com.edgeagent.assist.reply.v1"] = T_ASSIST_REPLY


class LookupEvent(CloudEvent[LookupResult]):
    type: Literal["com.edgeagent.display.lookup.v1"] = T_LOOKUP
