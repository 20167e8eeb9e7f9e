"""Render docs/asyncapi.yaml (AsyncAPI 3.0) from the pydantic models, so the contract cannot drift.

tests/unit/test_asyncapi.py fails when the committed file differs from what this renders, and checks each
example against its schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from edge_agent import __version__
from edge_agent.catalog.lookup import LookupResult, VariantModel
from edge_agent.catalog.models import CatalogItem, CatalogUpdate
from edge_agent.const import SESSION_EXPIRY_S, WILL_DELAY_S
from edge_agent.domain.ops import CartOp, OpKind
from edge_agent.picking.messages import (
    ClaimDecision,
    ClaimDecisionEvent,
    PickCommand,
    PickCommandEvent,
    PickOrderEvent,
    PickOrderLine,
    PickOrderMessage,
    PickView,
    PickViewEvent,
    SubstitutionDecision,
    SubstitutionDecisions,
    SubstitutionDecisionsEvent,
)
from edge_agent.presence import PresenceReport, ZonePresence
from edge_agent.sync.messages import (
    AppliedEvent,
    AppliedWatermark,
    AssistReply,
    AssistReplyEvent,
    AssistRequestEvent,
    AssistRequestMessage,
    CartSnapshot,
    CatalogUpdateEvent,
    DeviceStatus,
    EpochWatermark,
    ErasureDone,
    ErasureDoneEvent,
    ErasureRequest,
    ErasureRequestEvent,
    GarmentView,
    LookupEvent,
    MirrorCommand,
    MirrorCommandEvent,
    MirrorView,
    MirrorViewEvent,
    OpsBatch,
    OpsBatchEvent,
    PresenceReportEvent,
    PreviewLineModel,
    SessionCommand,
    SessionCommandEvent,
    SessionState,
    SessionStateEvent,
    ShelfCommand,
    ShelfCommandEvent,
    SnapshotEntryModel,
    SnapshotEvent,
    StatusEvent,
    SyncRequest,
    SyncRequestEvent,
    ToteCommand,
    ToteCommandEvent,
    ToteLineView,
    ToteView,
    ToteViewEvent,
    WorkflowCloudEvent,
    WorkflowEventData,
)

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
_EPOCH = "5f1c2a9b3d4e6f70"
_SRC = "urn:acme:store:s042:device:kiosk-01"
_OP = CartOp(
    op_id=f"kiosk-01:{_EPOCH}:41",
    uuid=UUID("8c1d6a4e-6d0b-4f6e-9a57-1f0b7e0c2d11"),
    device="kiosk-01",
    epoch=_EPOCH,
    seq=41,
    cart_id="kiosk-01-3f9a8b7c6d5e",
    kind=OpKind.ADD,
    hlc=117665082339426305,
    sku="04006381333931",
    qty=1,
)

_PARAMS = {
    "tenant": {"description": "Retailer (tenant) id."},
    "store": {"description": "Store id."},
    "device": {"description": "Device id; a device publishes only under its own dv/{device}."},
}


def _messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    """name -> (title, envelope model, example, summary)."""
    return {
        "opsBatch": (
            "Cart ops batch",
            OpsBatchEvent,
            OpsBatchEvent(
                source=_SRC,
                id=f"kiosk-01:{_EPOCH}:41-41",
                time=_T0,
                sequence=f"{41:020d}",
                partitionkey="kiosk-01",
                data=OpsBatch(device="kiosk-01", epoch=_EPOCH, ops=[_OP], hlc_max=_OP.hlc),
            ),
            "Up to 1000 ops (64 KB) from one device epoch. At-least-once: dedupe per op id "
            "(device, epoch, seq), never per event id; a resend may cut batches differently.",
        ),
        "appliedWatermark": (
            "Applied watermark",
            AppliedEvent,
            AppliedEvent(
                source="urn:acme:platform:carts",
                id="applied:kiosk-01:1",
                time=_T0,
                data=AppliedWatermark(
                    device="kiosk-01",
                    hlc=_OP.hlc + 1,
                    watermarks=[EpochWatermark(epoch=_EPOCH, applied_upto=41, applied_above=[43])],
                ),
            ),
            "Retained. Publish only after the ops are durably applied. The device deletes an op only when "
            "seq <= applied_upto or seq in applied_above for its epoch.",
        ),
        "cartSnapshot": (
            "Cart snapshot",
            SnapshotEvent,
            SnapshotEvent(
                source="urn:acme:platform:carts",
                id="snapshot:kiosk-01-3f9a8b7c6d5e:7",
                time=_T0,
                subject="kiosk-01-3f9a8b7c6d5e",
                data=CartSnapshot(
                    cart_id="kiosk-01-3f9a8b7c6d5e",
                    version=7,
                    hlc_max=_OP.hlc + 2,
                    tombstones=[],
                    entries=[
                        SnapshotEntryModel(
                            entry_id=_OP.op_id,
                            sku="04006381333931",
                            qty=1,
                            hlc=_OP.hlc,
                            origin_device="kiosk-01",
                        )
                    ],
                ),
            ),
            "Retained. The platform's state of one cart: live entries, tombstones and LWW attributes. "
            "Merging is a union, so snapshots may arrive late, twice or out of order.",
        ),
        "syncRequest": (
            "Sync request",
            SyncRequestEvent,
            SyncRequestEvent(
                source=_SRC,
                id="kiosk-01:sync:1",
                time=_T0,
                data=SyncRequest(device="kiosk-01", cart_ids=["kiosk-01-3f9a8b7c6d5e"]),
            ),
            "Sent after every connect; the platform answers with the device's watermark and the carts' "
            "snapshots, so MQTT 3.1.1 brokers without reliable retained delivery work too.",
        ),
        "deviceStatus": (
            "Device status",
            StatusEvent,
            StatusEvent(
                source=_SRC,
                id="kiosk-01:status:12:online",
                time=_T0,
                data=DeviceStatus(
                    device="kiosk-01", state="online", session=12, agent_version=__version__, pending_ops=0
                ),
            ),
            "Retained; also the last will (state offline, same session). Keep the highest session: "
            "a late will must not override a newer online.",
        ),
        "sessionState": (
            "Shopper session state",
            SessionStateEvent,
            SessionStateEvent(
                source=_SRC,
                id="kiosk-01:session:9c4e1f0a2b3d4c5e:3",
                time=_T0,
                data=SessionState(
                    session_id="9c4e1f0a2b3d4c5e",
                    state="merge_preview",
                    active_cart="kiosk-01-3f9a8b7c6d5e",
                    guest_cart="kiosk-01-3f9a8b7c6d5e",
                    identified=True,
                    consent=["profile", "cart_sync"],
                    policy="sum",
                    preview_id="7a1b2c3d4e5f6071",
                    lines=[
                        PreviewLineModel(sku="04006381333931", store_qty=1, online_qty=2, result_qty=3),
                    ],
                ),
            ),
            "Retained, for the device's own screen (kiosk, mirror). No pseudonym and no credential: "
            "`identified` is a flag. A merge preview names its `preview_id`; the shopper's confirmation "
            "must quote it. `refused` explains the last refused command or tap.",
        ),
        "sessionCommand": (
            "Session command from the UI",
            SessionCommandEvent,
            SessionCommandEvent(
                source="urn:acme:store:s042:kiosk-ui:kiosk-01",
                id="ui-1",
                time=_T0,
                data=SessionCommand(
                    action="confirm_merge", session_id="9c4e1f0a2b3d4c5e", preview_id="7a1b2c3d4e5f6071"
                ),
            ),
            "The shopper's decision at the screen. A confirm that names a stale preview, another session, "
            "or arrives when there is no preview is refused with a reason and changes nothing.",
        ),
        "catalogUpdate": (
            "Catalog, price and stock update",
            CatalogUpdateEvent,
            CatalogUpdateEvent(
                source="urn:acme:platform:catalog",
                id="catalog:s042:42",
                time=_T0,
                data=CatalogUpdate(
                    version=42,
                    items=[
                        CatalogItem(
                            gtin14="05012345678900",
                            version=42,
                            name="Oxford shirt",
                            style="oxford",
                            size="M",
                            colour="blue",
                            price_minor=3999,
                            currency="EUR",
                            price_as_of=_T0,
                            stock=3,
                            stock_as_of=_T0,
                        )
                    ],
                    removed=["04006381333931"],
                ),
            ),
            "Store-wide, QoS 1. Items are applied by `version` (an older or equal one is ignored; at equal versions a "
            "removal wins), so updates may be repeated or reordered. After a sync request naming `catalog_version`, "
            "send every item changed since, in pages of at most 500.",
        ),
        "lookupShown": (
            "Lookup shown on the device",
            LookupEvent,
            LookupEvent(
                source=_SRC,
                id="shelf-07:lookup:1",
                time=_T0,
                data=LookupResult(
                    gtin14="05012345678900",
                    found=True,
                    name="Oxford shirt",
                    size="M",
                    colour="blue",
                    price_minor=3999,
                    currency="EUR",
                    price_as_of=_T0,
                    stock=3,
                    stock_as_of=_T0,
                    offline=False,
                    variants=[VariantModel(gtin14="05901234123457", size="L", colour="blue", stock=0)],
                ),
            ),
            "Retained, for the device's own screen (shelf). Every figure carries its as-of time; `offline` says the "
            "lookup was made while the uplink was down.",
        ),
        "workflowEvent": (
            "Workflow event",
            WorkflowCloudEvent,
            WorkflowCloudEvent(
                type="com.edgeagent.workflow.lookup.performed.v1",
                source="urn:acme:store:s042:device:shelf-07",
                id="shelf-07:3b0c2c1e-2f7e-4a55-9d1a-0f5d2e6b7c10",
                time=_T0,
                subject="05012345678900",
                data=WorkflowEventData(
                    name="lookup.performed",
                    actor="shopper",
                    occurred_at=_T0,
                    store="s042",
                    device="shelf-07",
                    session_id="9c4e1f0a2b3d4c5e",
                    attribution_key="5d6e7f8091a2b3c4",
                    ga4="view_item",
                    segment="Product Viewed",
                    data={"gtin14": "05012345678900", "found": True, "offline": False},
                ),
            ),
            "At least once (a device deletes its copy on PUBACK and re-sends after a reconnect): dedupe by `id`. "
            "`type` is com.edgeagent.workflow.<name>.v1; `ga4`/`segment` name the analytics event "
            "(docs/event-mapping.md). `profile` is present only with the shopper's 'profile' consent.",
        ),
        "shelfCommand": (
            "Shelf command",
            ShelfCommandEvent,
            ShelfCommandEvent(
                source="urn:acme:store:s042:handheld:emp-042",
                id="ui-7",
                time=_T0,
                data=ShelfCommand(
                    action="report_price", gtin14="05012345678900", shelf_price_minor=4499, associate="emp-042"
                ),
            ),
            "On the shelf's UI topic: the label shows another price than the system; a `price.mismatch` event "
            "follows, or the refusal is counted (`not_in_catalog`, `prices_match`).",
        ),
        "toteCommand": (
            "Tote command",
            ToteCommandEvent,
            ToteCommandEvent(
                source="urn:acme:store:s042:handheld-ui:handheld-03",
                id="ui-12",
                time=_T0,
                data=ToteCommand(action="park", associate="emp-042"),
            ),
            "On a handheld's UI topic: open, park, resume (naming the tote), share, submit, hand off to the till, "
            "cancel, remove a line. Refusals (e.g. `empty_tote`, `park_expired`) show on the display topic.",
        ),
        "toteView": (
            "Tote on the handheld's screen",
            ToteViewEvent,
            ToteViewEvent(
                source="urn:acme:store:s042:device:handheld-03",
                id="handheld-03:tote:1",
                time=_T0,
                data=ToteView(
                    tote_id="tote-handheld-03-5d1e0a9c3b",
                    state="customer_attached",
                    associate="emp-042",
                    customer_attached=True,
                    lines=[
                        ToteLineView(
                            line_id="05012345678900:carry_out",
                            gtin14="05012345678900",
                            qty=2,
                            fulfilment="carry_out",
                            state="requested",
                        )
                    ],
                ),
            ),
            "Retained. The tote itself syncs as a cart (cart id = tote id): lines are ops with the associate as "
            "actor; `tote.state`, `tote.associate` and, with the shopper's profile consent, `tote.customer` are "
            "cart attributes.",
        ),
        "mirrorCommand": (
            "Mirror command",
            MirrorCommandEvent,
            MirrorCommandEvent(
                source="urn:acme:store:s042:mirror-ui:mirror-02",
                id="ui-3",
                time=_T0,
                data=MirrorCommand(action="request_assist", type="size", target_gtin="05901234123457"),
            ),
            "On a mirror's UI topic: request another size, colour or style (naming the garment) or help, cancel a "
            "request, hand off to checkout, or leave (vacate: the session is purged).",
        ),
        "mirrorView": (
            "Fitting room on the mirror's screen",
            MirrorViewEvent,
            MirrorViewEvent(
                source="urn:acme:store:s042:device:mirror-02",
                id="mirror-02:mirror:1",
                time=_T0,
                data=MirrorView(
                    room_id="mirror-02",
                    state="browsing",
                    session_id="0d9e8f7a6b5c4d3e",
                    garments=[
                        GarmentView(
                            gtin14="05012345678900",
                            name="Slim jeans",
                            size="30",
                            colour="indigo",
                            in_store=[VariantModel(gtin14="05901234123457", size="32", colour="indigo", stock=5)],
                        )
                    ],
                    requests=[
                        AssistRequestMessage(
                            request_id="as-3f2a9c1d0b7e",
                            room_id="mirror-02",
                            mirror="mirror-02",
                            type="size",
                            target_gtin="05901234123457",
                            target_name="Slim jeans",
                            state="requested",
                            level=1,
                        )
                    ],
                ),
            ),
            "Retained. `identified` is a flag; no pseudonym is ever shown or published by the mirror.",
        ),
        "assistRequest": (
            "Assist request",
            AssistRequestEvent,
            AssistRequestEvent(
                source="urn:acme:store:s042:device:mirror-02",
                id="as-3f2a9c1d0b7e:requested:1",
                time=_T0,
                data=AssistRequestMessage(
                    request_id="as-3f2a9c1d0b7e",
                    room_id="mirror-02",
                    mirror="mirror-02",
                    type="size",
                    target_gtin="05901234123457",
                    target_name="Slim jeans",
                    state="requested",
                    level=1,
                ),
            ),
            "Store-wide, retained per request, for every associate's handheld; republished as it escalates or is "
            "acknowledged, cleared (empty retained message) once delivered, unavailable or cancelled.",
        ),
        "assistReply": (
            "Assist reply",
            AssistReplyEvent,
            AssistReplyEvent(
                source="urn:acme:store:s042:handheld:handheld-04",
                id="reply-1",
                time=_T0,
                data=AssistReply(request_id="as-3f2a9c1d0b7e", action="acknowledge", associate="emp-042"),
            ),
            "From an associate's handheld to the mirror that asked: acknowledge (stops the escalation), delivered, "
            "or unavailable with a reason. A second acknowledgement by another associate is refused.",
        ),
        "pickOrder": (
            "Click-and-collect pick order",
            PickOrderEvent,
            PickOrderEvent(
                source="urn:acme:platform:oms",
                id="order:C-1042:1",
                time=_T0,
                subject="C-1042",
                data=PickOrderMessage(
                    order_id="C-1042",
                    lines=[PickOrderLine(line_id="l1", gtin14="05012345678900", qty=2)],
                    assigned_at=_T0,
                    version=1,
                ),
            ),
            "Retained per order on a plain (not shared) subscription: every handheld lists the store's queue. "
            "`version` is monotonic; `status` ready_for_pickup once the customer is notified, withdrawn to remove "
            "it; an empty retained message forgets it.",
        ),
        "pickClaim": (
            "Claim decision",
            ClaimDecisionEvent,
            ClaimDecisionEvent(
                source="urn:acme:platform:oms",
                id="claim:C-1042",
                time=_T0,
                subject="C-1042",
                data=ClaimDecision(order_id="C-1042", device="handheld-03", associate="emp-042"),
            ),
            "Retained. A handheld claims an order with the `pick.claim` attribute op on cart `pick-<order_id>` "
            "(confirmed path, so an offline accept is sent on reconnect); the platform takes the first claim it "
            "applies, never changes it, and ignores the ops of the devices that lost.",
        ),
        "pickDecisions": (
            "Substitution decisions",
            SubstitutionDecisionsEvent,
            SubstitutionDecisionsEvent(
                source="urn:acme:platform:oms",
                id="decisions:C-1042:1",
                time=_T0,
                subject="C-1042",
                data=SubstitutionDecisions(
                    order_id="C-1042",
                    decisions=[SubstitutionDecision(line_id="l1", to_gtin="05901234123457", approved=True)],
                ),
            ),
            "Retained, cumulative: the platform's answers to substitutions proposed with the "
            "`pick.line.<id>.substitute` attribute. A decision applies only to a matching pending proposal.",
        ),
        "pickCommand": (
            "Pick command",
            PickCommandEvent,
            PickCommandEvent(
                source="urn:acme:store:s042:handheld-ui:handheld-03",
                id="ui-21",
                time=_T0,
                data=PickCommand(
                    action="short", associate="emp-042", order_id="C-1042", line_id="l1", qty=1, reason="damaged"
                ),
            ),
            "On a handheld's UI topic: accept, decline, start, short (with a configured reason), propose a "
            "substitution, complete, reject, stage (location and totes).",
        ),
        "pickView": (
            "Picking on the handheld's screen",
            PickViewEvent,
            PickViewEvent(
                source="urn:acme:store:s042:device:handheld-03",
                id="handheld-03:pick:1",
                time=_T0,
                data=PickView(available=[]),
            ),
            "Retained on dv/{device}/picking: orders available, the one in progress with what is still expected, "
            "and the last refusal (`not_in_order`, `serial_already_picked`, `claimed_by_other`, ...).",
        ),
        "presenceReport": (
            "Presence report",
            PresenceReportEvent,
            PresenceReportEvent(
                source=_SRC,
                id="kiosk-01:presence:1795428000",
                time=_T0,
                data=PresenceReport(
                    bucket_start=_T0,
                    bucket_s=300,
                    dwell_bins_s=[10, 30, 60, 120, 300, 900],
                    zones=[
                        ZonePresence(
                            role="app", zone="near", visitors=4, peak_occupancy=2, dwell_histogram=[0, 1, 2, 1, 0, 0, 0]
                        ),
                        ZonePresence(
                            role="associate",
                            zone="immediate",
                            visitors=1,
                            peak_occupancy=1,
                            dwell_histogram=[0, 0, 0, 0, 1, 0, 0],
                        ),
                    ],
                    suppressed_cells=1,
                ),
            ),
            "One per finished bucket (BLE devices only): distinct visitors, peak occupancy and a dwell histogram per "
            "beacon role and proximity zone. Aggregates only: no beacon id of a shopper, no address, no raw "
            "sighting; shopper cells under k visitors are suppressed. Held while offline (a day of buckets).",
        ),
        "erasureRequest": (
            "Erasure request",
            ErasureRequestEvent,
            ErasureRequestEvent(
                source="urn:acme:platform:privacy",
                id="erasure:gdpr-0001",
                time=_T0,
                data=ErasureRequest(request_id="gdpr-0001", carts=["profile-ada"]),
            ),
            "Store-wide, QoS 1 (queued for offline devices by their persistent sessions). Every device ends "
            "a session of that shopper and forgets the carts, unsent edits included, then answers. Erase "
            "the cart and clear its retained snapshot first; acknowledge and drop ops for it that arrive later. "
            "Idempotent: a repeated request is answered with nothing left to erase.",
        ),
        "erasureDone": (
            "Erasure done",
            ErasureDoneEvent,
            ErasureDoneEvent(
                source=_SRC,
                id="kiosk-01:erased:gdpr-0001",
                time=_T0,
                data=ErasureDone(
                    request_id="gdpr-0001", device="kiosk-01", carts=["profile-ada"], ops_dropped=0, session_ended=True
                ),
            ),
            "The device's answer once its copies are gone (deleted rows are zeroed in the database file).",
        ),
    }


_CHANNELS = {
    "deviceOps": ("rt/v1/{tenant}/st/{store}/dv/{device}/ops", "opsBatch", "send", False),
    "deviceAcks": ("rt/v1/{tenant}/st/{store}/dv/{device}/acks", "appliedWatermark", "receive", True),
    "cartState": ("rt/v1/{tenant}/st/{store}/carts/{cartId}/state", "cartSnapshot", "receive", True),
    "deviceSync": ("rt/v1/{tenant}/st/{store}/dv/{device}/sync", "syncRequest", "send", False),
    "deviceStatus": ("rt/v1/{tenant}/st/{store}/dv/{device}/status", "deviceStatus", "send", True),
    "deviceSession": ("rt/v1/{tenant}/st/{store}/dv/{device}/session", "sessionState", "send", True),
    "deviceUi": (
        "rt/v1/{tenant}/st/{store}/dv/{device}/ui",
        ("sessionCommand", "shelfCommand", "toteCommand", "mirrorCommand", "pickCommand"),
        "receive",
        False,
    ),
    "storeCatalog": ("rt/v1/{tenant}/st/{store}/catalog", "catalogUpdate", "receive", False),
    "deviceDisplay": (
        "rt/v1/{tenant}/st/{store}/dv/{device}/display",
        ("lookupShown", "toteView", "mirrorView"),
        "send",
        True,
    ),
    "storeAssistRequests": (
        "rt/v1/{tenant}/st/{store}/assist/requests/{device}/{requestId}",
        "assistRequest",
        "send",
        True,
    ),
    "storePickOrders": ("rt/v1/{tenant}/st/{store}/picking/orders/{orderId}", "pickOrder", "receive", True),
    "storePickClaims": ("rt/v1/{tenant}/st/{store}/picking/orders/{orderId}/claim", "pickClaim", "receive", True),
    "storePickDecisions": (
        "rt/v1/{tenant}/st/{store}/picking/orders/{orderId}/decisions",
        "pickDecisions",
        "receive",
        True,
    ),
    "devicePicking": ("rt/v1/{tenant}/st/{store}/dv/{device}/picking", "pickView", "send", True),
    "mirrorAssistReplies": ("rt/v1/{tenant}/st/{store}/dv/{device}/assist", "assistReply", "receive", False),
    "deviceEvents": ("rt/v1/{tenant}/st/{store}/dv/{device}/events", "workflowEvent", "send", False),
    "devicePresence": ("rt/v1/{tenant}/st/{store}/dv/{device}/presence", "presenceReport", "send", False),
    "storeErasure": ("rt/v1/{tenant}/st/{store}/privacy/erasure", "erasureRequest", "receive", False),
    "deviceErased": ("rt/v1/{tenant}/st/{store}/dv/{device}/erased", "erasureDone", "send", False),
}


_ID_PARAMS = {"cartId": "Cart id.", "requestId": "Assist request id.", "orderId": "Click-and-collect order id."}


def build_document() -> dict[str, Any]:
    messages = _messages()
    _, top = models_json_schema(
        [(m[1], "validation") for m in messages.values()], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, (address, carried, action, retain) in _CHANNELS.items():
        names = (carried,) if isinstance(carried, str) else carried
        params = {
            p: dict(_PARAMS[p] if p in _PARAMS else {"description": _ID_PARAMS[p]})
            for p in ("tenant", "store", "device", "cartId", "requestId", "orderId")
            if "{" + p + "}" in address
        }
        channels[name] = {
            "address": address,
            "parameters": params,
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in names},
        }
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"The device {'publishes' if action == 'send' else 'subscribes to'} {', '.join(names)}.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in names],
            "bindings": {"mqtt": {"qos": 1, "retain": retain, "bindingVersion": "0.2.0"}},
        }
    components_messages = {
        name: {
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            "examples": [{"name": f"{name}Example", "payload": example.model_dump(mode="json", exclude_none=True)}],
            "bindings": {"mqtt": {"payloadFormatIndicator": 1, "bindingVersion": "0.2.0"}},
        }
        for name, (title, model, example, summary) in messages.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "edge-agent MQTT contract",
            "version": __version__,
            "description": (
                "Topics and payloads between an in-store edge-agent and the central platform. Every message is a "
                "CloudEvents 1.0 structured-mode JSON event; MQTT 5 user properties ce_type/ce_id only mirror "
                "the payload, so the MQTT 3.1.1 profile carries the same contract. QoS 1 everywhere; a PUBACK "
                "is one hop, only the applied watermark confirms an op. Generated by `edge-agent asyncapi`.\n\n"
                + SECURITY_RULES
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "storeBroker": {
                "host": "mqtt.example.internal:8883",
                "protocol": "mqtts",
                "protocolVersion": "5",
                "description": "The store's or region's broker; several endpoints may be configured, tried in turn.",
                "bindings": {
                    "mqtt": {
                        "cleanSession": False,
                        "keepAlive": 30,
                        "sessionExpiryInterval": SESSION_EXPIRY_S,
                        "lastWill": {
                            "topic": "rt/v1/{tenant}/st/{store}/dv/{device}/status",
                            "qos": 1,
                            "retain": True,
                            "message": f"deviceStatus with state offline (will delay {WILL_DELAY_S}s)",
                        },
                        "bindingVersion": "0.2.0",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": components_messages, "schemas": schemas},
    }


SECURITY_RULES = """\
## Who may write what (issue 10)
**The broker's fence.** Every client authenticates with a certificate from the store CA (mTLS); its CN is its
MQTT username. A device (CN = device id) writes only its own up-topics under `dv/{device}/` (ops, sync, status,
session, display, picking, events, presence, erased, ui) and `assist/requests/{device}/+`. Only the platform
(CN `platform`, reserved) writes acks, cart snapshots, the catalog, erasure requests, pick orders, claims and
decisions, and assist replies (`dv/{mirror}/assist`: an associate's reply reaches a mirror through the platform).
Reference files: deploy/mosquitto/.

**The platform's duty.** The ACL says who published; the platform decides what that device may write, in the
transaction that applies the batch: (1) the publishing device is the `{device}` of the ops topic, and every op
names it; (2) a device is homed at the store it first published from; a batch under another store is refused;
(3) a cart nobody owns yet belongs to the device that first writes it (guest baskets, totes); (4) a pick cart
`pick-{order}` may be written by any device of its store; (5) a shopper's profile cart is written by a device only
after that device's `attr.set merge.grant` on the profile cart, whose value is HMAC-SHA256 over
`edge-agent merge grant v1|{device}|{profile cart}` under the identity key the platform signs credentials with
(first 32 hex digits); (6) an op a device may not write is held: never applied, never lost, covered by the
watermark; a grant that arrives later releases the device's held ops for that cart, in seq order.

**A merge only the shopper at the device confirms.** The retained session state carries the preview id but no
secret. A `confirm_merge` on `dv/{device}/ui` must carry `confirm_code`, HMAC-SHA256 of
`edge-agent merge confirm v1|{preview id}` under the device's screen key (a 0600 file next to its database, made on
first start, never sent), first 32 hex digits: only a screen running on the device can compute it. A second tap of
the same card or app code also confirms.

**Bounds a device enforces on what it receives.** Integers in payloads are below 2^63 (seqs, watermarks, HLCs,
versions), line quantities at most 999, prices at most 100,000,000 minor units, stock at most 10,000,000 units, free
text at most 256 characters. A remote HLC more than `mqtt.max_clock_ahead_s` (default 300 s) ahead of the device's
wall clock is counted `clock_ahead` and not adopted. An applied watermark above the highest seq the device issued in
that epoch is refused (`ack_beyond_issued`). A cart snapshot or catalog update whose version is more than 1,000,000
past the device's is refused (`version_jump`): versions are counters, not timestamps; a catalog item's version is
never above its update's. Erasure removes only profile carts, never a device's own basket, tote or pick cart
(`not_a_profile_cart`). Everything refused is counted and logged with its reason; nothing of it is applied.
"""


def render_asyncapi() -> str:
    header = "# Generated by `edge-agent asyncapi` from edge_agent/sync/messages.py -- do not edit by hand.\n"
    return header + str(yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=110))
