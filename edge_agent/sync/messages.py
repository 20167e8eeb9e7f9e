"""The MQTT contract: CloudEvents (structured JSON) envelopes and their data, as pydantic models.

Every field a consumer needs is in the payload; MQTT 5 user properties only mirror ``type`` and ``id``, so a
3.1.1 broker carries the same contract (sync note §4). docs/asyncapi.yaml is generated from these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from edge_agent.catalog.lookup import LookupResult
from edge_agent.catalog.lookup import VariantModel as LookupVariant
from edge_agent.catalog.models import CatalogUpdate
from edge_agent.const import MAX_LINE_QTY, MAX_PRICE_MINOR, MAX_WIRE_INT, MAX_WIRE_TEXT
from edge_agent.domain.ops import CartId, CartOp, DeviceId, Epoch, Gtin14, OpIdStr, Serial
from edge_agent.presence import PresenceReport

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "com.edgeagent"

T_OPS: Final = "com.edgeagent.cart.ops.v1"
T_APPLIED: Final = "com.edgeagent.cart.applied.v1"
T_SNAPSHOT: Final = "com.edgeagent.cart.snapshot.v1"
T_SYNC_REQUEST: Final = "com.edgeagent.cart.sync_request.v1"
T_STATUS: Final = "com.edgeagent.device.status.v1"
T_SESSION: Final = "com.edgeagent.session.state.v1"
T_SESSION_COMMAND: Final = "com.edgeagent.session.command.v1"
T_ERASURE: Final = "com.edgeagent.privacy.erasure.v1"
T_ERASED: Final = "com.edgeagent.privacy.erased.v1"
T_PRESENCE: Final = "com.edgeagent.presence.report.v1"
T_CATALOG: Final = "com.edgeagent.catalog.update.v1"
T_LOOKUP: Final = "com.edgeagent.display.lookup.v1"
T_WORKFLOW_PREFIX: Final = "com.edgeagent.workflow."
"""A workflow event's CloudEvents type is this prefix, its ``domain.verb`` name and ``.v1``."""
T_SHELF_COMMAND: Final = "com.edgeagent.shelf.command.v1"
T_TOTE_COMMAND: Final = "com.edgeagent.tote.command.v1"
T_TOTE_VIEW: Final = "com.edgeagent.display.tote.v1"
T_MIRROR_COMMAND: Final = "com.edgeagent.mirror.command.v1"
T_MIRROR_VIEW: Final = "com.edgeagent.display.mirror.v1"
T_ASSIST_REQUEST: Final = "com.edgeagent.assist.request.v1"
T_ASSIST_REPLY: Final = "com.edgeagent.assist.reply.v1"

MAX_OPS_PER_BATCH = 1000
MAX_WATERMARK_GAPS = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpsBatch(_Strict):
    """Up: a batch of ops from one device epoch. A resend may cut batches differently: dedupe per op."""

    device: DeviceId
    epoch: Epoch
    ops: list[CartOp] = Field(min_length=1, max_length=MAX_OPS_PER_BATCH)
    hlc_max: int = Field(ge=0, le=MAX_WIRE_INT)


class EpochWatermark(_Strict):
    epoch: Epoch
    applied_upto: int = Field(ge=0, le=MAX_WIRE_INT, description="every seq <= this is applied")
    applied_above: list[Annotated[int, Field(ge=1, le=MAX_WIRE_INT)]] = Field(
        default=[], max_length=MAX_WATERMARK_GAPS, description="seqs > applied_upto also applied"
    )


class RejectedOp(_Strict):
    op_id: OpIdStr
    reason: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)]


class AppliedWatermark(_Strict):
    """Down, retained: what the platform has applied, durably. Only this frees the device's outbox."""

    device: DeviceId
    watermarks: list[EpochWatermark] = Field(max_length=64)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)


class SnapshotEntryModel(_Strict):
    entry_id: OpIdStr
    sku: Gtin14
    qty: int = Field(ge=1, le=MAX_LINE_QTY)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)
    origin_device: DeviceId
    serial: Serial | None = None


class SnapshotAttr(_Strict):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    value: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)
    device: DeviceId
    op_id: OpIdStr


class SealModel(_Strict):
    """Written by the platform only: the cart became this order, with exactly these entries."""

    order_id: OpIdStr = Field(description="the op id of the checkout request that won")
    entry_ids: list[OpIdStr] = Field(max_length=10_000)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)


class CartSnapshot(_Strict):
    """Down, retained: the platform's state of one cart; merging it is a union, so order never matters."""

    cart_id: CartId
    version: int = Field(ge=1, le=MAX_WIRE_INT, description="monotonic per cart at the platform")
    entries: list[SnapshotEntryModel] = Field(max_length=10_000)
    tombstones: list[OpIdStr] = Field(max_length=100_000)
    attrs: list[SnapshotAttr] = Field(default=[], max_length=256)
    sealed: SealModel | None = None
    added_after_checkout: list[OpIdStr] = Field(
        default=[], max_length=10_000, description="live entries not in the seal: kept for a successor, flagged"
    )
    hlc_max: int = Field(ge=0, le=MAX_WIRE_INT)


class SyncRequest(_Strict):
    """Up: after each connect the device asks for snapshots and watermarks instead of trusting retained delivery."""

    device: DeviceId
    cart_ids: list[CartId] = Field(max_length=1000)
    catalog_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_WIRE_INT,
        description="the newest catalog version this device holds; send what changed since",
    )


class ReaderStatus(_Strict):
    state: Literal["ok", "degraded", "stopped"]
    detail: str = Field(default="", max_length=300, description="for degraded: a stable reason prefix, then text")


class DeviceStatus(_Strict):
    """Retained; also the last will. Consumers keep the highest ``session`` so a late will cannot win."""

    device: DeviceId
    state: Literal["online", "offline"]
    session: int = Field(ge=0)
    agent_version: str | None = None
    pending_ops: int | None = None
    oldest_pending_age_s: float | None = None
    readers: dict[str, ReaderStatus] | None = Field(
        default=None, description="reader name -> health; republished whenever a reader's health changes"
    )


class PreviewLineModel(_Strict):
    sku: Gtin14
    store_qty: int = Field(ge=0)
    online_qty: int = Field(ge=0)
    result_qty: int = Field(ge=0)


class SessionState(_Strict):
    """Up, retained: what the device's screen shows. No pseudonym, no credential: identified is a flag."""

    session_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
    state: Literal["anonymous", "merge_preview", "merged", "kept_separate", "merge_declined", "ended"]
    active_cart: CartId
    guest_cart: CartId
    identified: bool
    consent: list[Literal["profile", "cart_sync", "analytics"]] = []
    policy: Literal["sum", "max", "replace", "keep_online", "separate"] | None = None
    preview_id: str | None = None
    lines: list[PreviewLineModel] = Field(default=[], max_length=1000)
    end_reason: str | None = None
    refused: str | None = Field(default=None, description="reason the last UI command or tap was refused")
    app_nearby: bool = Field(
        default=False,
        description="an opted-in shopper app is close to the device: the screen may invite the shopper to "
        "identify (tap or show the app code). It identifies nobody by itself.",
    )


class SessionCommand(_Strict):
    """Down, from the device's UI: the shopper's decision. Confirm names the preview the shopper saw."""

    action: Literal["confirm_merge", "decline_merge", "end_session", "checkout"]
    session_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
    preview_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] | None = None
    confirm_code: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        default=None,
        description="confirm_merge: HMAC-SHA256 of the preview id under the device's screen key (a file on the "
        "device, never on MQTT), first 32 hex digits. Without it a confirm is refused: only a screen on the device "
        "(or the shopper tapping the same card again) can join a shopper's carts.",
    )


class WorkflowEventData(_Strict):
    """What a store workflow reports (retail note §1, §6), with the context analytics needs to attribute it."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[a-z_]+)+$")]
    actor: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="an associate id, 'shopper', 'system' or 'platform' (never a shopper's name)"
    )
    occurred_at: datetime
    store: str
    device: DeviceId
    session_id: str | None = None
    attribution_key: str | None = Field(default=None, description="opaque per-session key, no PII (retail note §6)")
    profile: str | None = Field(default=None, description="the shopper's pseudonym, only with their 'profile' consent")
    ga4: str = Field(description="the GA4 event name this maps to (docs/event-mapping.md)")
    segment: str = Field(description="the Segment Ecommerce v2 event name this maps to")
    data: dict[str, JsonValue] = Field(default={}, max_length=50)


class ShelfCommand(_Strict):
    """Down, from the shelf's screen or an associate's handheld: a label price that disagrees with the system."""

    action: Literal["report_price"]
    gtin14: Gtin14
    shelf_price_minor: int = Field(ge=0, le=MAX_PRICE_MINOR)
    associate: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None


AssociateId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class ToteCommand(_Strict):
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


class ToteLineView(_Strict):
    line_id: str
    gtin14: Gtin14
    qty: int
    fulfilment: str
    state: str


class ToteView(_Strict):
    """Up, retained, for the handheld's screen: the active tote. The customer shows as a flag, never a pseudonym."""

    tote_id: CartId | None
    state: str | None
    associate: str | None
    customer_attached: bool = False
    lines: list[ToteLineView] = Field(default=[], max_length=1000)
    parked: list[CartId] = Field(default=[], description="totes parked on this device, to resume")
    refused: str | None = Field(default=None, description="why the last action or scan was refused")
    detail: str | None = None


RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class MirrorCommand(_Strict):
    """Down, from the mirror's touch screen: the shopper asks for another size, colour, style or help, or leaves."""

    action: Literal["request_assist", "cancel_assist", "checkout", "vacate"]
    type: Literal["size", "colour", "style", "help"] | None = None
    target_gtin: Gtin14 | None = Field(default=None, description="the garment wanted (another size of it, ...)")
    request_id: RequestId | None = None
    channel: Literal["pos", "app"] | None = None


class AssistRequestMessage(_Strict):
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


class AssistReply(_Strict):
    """Down to the mirror, from an associate's handheld: I'm on it / here it is / we don't have it."""

    request_id: RequestId
    action: Literal["acknowledge", "delivered", "unavailable"]
    associate: AssociateId
    reason: Annotated[str, StringConstraints(max_length=120)] = ""


class GarmentView(_Strict):
    gtin14: Gtin14
    name: str = ""
    size: str | None = None
    colour: str | None = None
    in_store: list[LookupVariant] = Field(default=[], description="other sizes and colours with their stock here")


class MirrorView(_Strict):
    """Up, retained, for the mirror's screen. Identified is a flag; no pseudonym is ever shown or published."""

    room_id: str
    state: str
    session_id: str | None = None
    garments: list[GarmentView] = []
    requests: list[AssistRequestMessage] = []
    identified: bool = False
    offline: bool = False
    refused: str | None = None
    detail: str | None = None


class ErasureRequest(_Strict):
    """Down, store-wide: a shopper withdrew consent or asked to be forgotten; devices drop their copies."""

    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    carts: list[CartId] = Field(min_length=1, max_length=100, description="the shopper's profile cart(s)")


class ErasureDone(_Strict):
    """Up: what this device forgot. ``ops_dropped`` counts unsent edits of those carts that were discarded."""

    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    device: DeviceId
    carts: list[CartId] = Field(max_length=100)
    ops_dropped: int = Field(ge=0)
    session_ended: bool


D = TypeVar("D", bound=BaseModel)


class CloudEvent(BaseModel, Generic[D]):
    """CloudEvents 1.0, structured mode. Identical ``source`` + ``id`` may be assumed duplicates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    type: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)]
    source: Annotated[str, StringConstraints(max_length=256)]
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    sequence: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    partitionkey: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    data: D


class OpsBatchEvent(CloudEvent[OpsBatch]):
    type: Literal["com.edgeagent.cart.ops.v1"] = T_OPS


class AppliedEvent(CloudEvent[AppliedWatermark]):
    type: Literal["com.edgeagent.cart.applied.v1"] = T_APPLIED


class SnapshotEvent(CloudEvent[CartSnapshot]):
    type: Literal["com.edgeagent.cart.snapshot.v1"] = T_SNAPSHOT


class SyncRequestEvent(CloudEvent[SyncRequest]):
    type: Literal["com.edgeagent.cart.sync_request.v1"] = T_SYNC_REQUEST


class StatusEvent(CloudEvent[DeviceStatus]):
    type: Literal["com.edgeagent.device.status.v1"] = T_STATUS


class SessionStateEvent(CloudEvent[SessionState]):
    type: Literal["com.edgeagent.session.state.v1"] = T_SESSION


class SessionCommandEvent(CloudEvent[SessionCommand]):
    type: Literal["com.edgeagent.session.command.v1"] = T_SESSION_COMMAND


class ErasureRequestEvent(CloudEvent[ErasureRequest]):
    type: Literal["com.edgeagent.privacy.erasure.v1"] = T_ERASURE


class ErasureDoneEvent(CloudEvent[ErasureDone]):
    type: Literal["com.edgeagent.privacy.erased.v1"] = T_ERASED


class CatalogUpdateEvent(CloudEvent[CatalogUpdate]):
    type: Literal["com.edgeagent.catalog.update.v1"] = T_CATALOG


class WorkflowCloudEvent(CloudEvent[WorkflowEventData]):
    type: Annotated[str, StringConstraints(pattern=r"^com\.edgeagent\.workflow\.[a-z_.]+\.v1$")]


class ShelfCommandEvent(CloudEvent[ShelfCommand]):
    type: Literal["com.edgeagent.shelf.command.v1"] = T_SHELF_COMMAND


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


class PresenceReportEvent(CloudEvent[PresenceReport]):
    type: Literal["com.edgeagent.presence.report.v1"] = T_PRESENCE


def utcnow() -> datetime:
    return datetime.now(UTC)


def source_urn(tenant: str, store: str, device: str) -> str:
    return f"urn:{tenant}:store:{store}:device:{device}"


def encode_ops_batch(
    source: str,
    device: str,
    epoch: str,
    seqs: list[int],
    bodies: list[str],
    hlc_max: int,
    now: datetime | None = None,
) -> bytes:
    """The hot path: the ops are already JSON in the outbox, so splice them instead of re-validating.

    tests/unit/test_messages.py checks the result against OpsBatchEvent.
    """
    when = (now or utcnow()).isoformat()
    head = (
        f'{{"specversion":"1.0","type":"{T_OPS}","source":"{source}","id":"{device}:{epoch}:{seqs[0]}-{seqs[-1]}",'
        f'"time":"{when}","datacontenttype":"application/json","sequence":"{seqs[-1]:020d}","partitionkey":"{device}",'
        f'"data":{{"device":"{device}","epoch":"{epoch}","hlc_max":{hlc_max},"ops":['
    )
    return (head + ",".join(bodies) + "]}}").encode()
