"""The workflow, picking, presence and erasure messages of the contract with valid examples (docs/asyncapi.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent.asyncapi.examples import EXAMPLE_SOURCE as _SRC
from edge_agent.contract.catalog import VariantModel
from edge_agent.contract.device import (
    ErasureDone,
    ErasureDoneEvent,
    ErasureRequest,
    ErasureRequestEvent,
    PresenceReportEvent,
)
from edge_agent.contract.picking import (
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
from edge_agent.contract.presence import PresenceReport, ZonePresence
from edge_agent.contract.workflow import (
    AssistAnswerView,
    AssistReply,
    AssistReplyEvent,
    AssistRequestEvent,
    AssistRequestMessage,
    GarmentView,
    LabelReport,
    LabelReportEvent,
    MirrorCommand,
    MirrorCommandEvent,
    MirrorView,
    MirrorViewEvent,
    ShelfCommand,
    ShelfCommandEvent,
    ToteCommand,
    ToteCommandEvent,
    ToteLineView,
    ToteView,
    ToteViewEvent,
)
from edge_agent.contract.workflow_event import WorkflowCloudEvent, WorkflowEventData

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def workflow_messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    return {
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
            "(docs/event-mapping.md). `profile` is present only with the shopper's "
            "'analytics' consent (it links the session to them).",
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
        "labelReport": (
            "Wrong shelf label reported",
            LabelReportEvent,
            LabelReportEvent(
                source="urn:acme:store:s042:device:shelf-07",
                id="screen:5b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4",
                time=_T0,
                data=LabelReport(gtin14="05012345678900", shown_price_minor=3999, currency="EUR"),
            ),
            "On the shelf's UI topic, from its screen: the label on the shelf disagrees with what the screen shows "
            "for the item. Accepted only for the item the screen shows now, at the price it shows: a durable "
            "`shelf.label.reported` workflow event follows (gtin14, the shown price, its as-of time, whether the "
            "lookup was offline; actor `shopper` or the associate) and the lookup is shown again with "
            "`label_reported`. Refused with a reason otherwise (`not_shown`, `not_in_catalog`, `price_not_shown`, "
            "`already_reported`).",
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
                            stock=2,
                            stock_as_of=_T0,
                            in_store=[
                                VariantModel(
                                    gtin14="05901234123457", size="32", colour="indigo", stock=5, stock_as_of=_T0
                                )
                            ],
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
                    answered=[
                        AssistAnswerView(
                            request_id="as-1c0b9a8f7e6d",
                            type="size",
                            target_gtin="08710398502131",
                            target_name="Slim jeans",
                            state="unavailable",
                            reason="none left in 34",
                        )
                    ],
                ),
            ),
            "Retained. `identified` is a flag; no pseudonym is ever shown or published by the mirror. `answered` "
            "lists the session's closed requests (brought, cancelled, not available with the associate's reason) "
            "until the room is vacated.",
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
                    request_id="gdpr-0001",
                    device="kiosk-01",
                    carts=["profile-ada"],
                    ops_dropped=0,
                    session_ended=True,
                ),
            ),
            "The device's answer once its copies are gone (deleted rows are zeroed in the database file).",
        ),
    }
