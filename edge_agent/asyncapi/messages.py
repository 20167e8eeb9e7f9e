"""Every message of the MQTT contract with a valid example, for docs/asyncapi.yaml (edge_agent/asyncapi.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent import __version__
from edge_agent.asyncapi.claim_messages import claim_messages
from edge_agent.asyncapi.examples import EXAMPLE_EPOCH as _EPOCH
from edge_agent.asyncapi.examples import EXAMPLE_OP as _OP
from edge_agent.asyncapi.examples import EXAMPLE_SOURCE as _SRC
from edge_agent.asyncapi.health_messages import health_messages
from edge_agent.asyncapi.offer_messages import offer_messages
from edge_agent.asyncapi.request_messages import request_messages
from edge_agent.asyncapi.workflow_messages import workflow_messages
from edge_agent.contract.cart import (
    AppliedEvent,
    AppliedWatermark,
    CartSnapshot,
    EpochWatermark,
    OpsBatch,
    OpsBatchEvent,
    SnapshotEntryModel,
    SnapshotEvent,
    SyncRequest,
    SyncRequestEvent,
)
from edge_agent.contract.catalog import CatalogItem, CatalogUpdate, CatalogUpdateEvent, LookupResult, VariantModel
from edge_agent.contract.device import (
    BasketLineCommand,
    BasketLineCommandEvent,
    BasketLineView,
    BasketView,
    BasketViewEvent,
    DeviceStatus,
    PreviewLineModel,
    SessionCommand,
    SessionCommandEvent,
    SessionState,
    SessionStateEvent,
    StatusEvent,
)
from edge_agent.contract.workflow import (
    LookupEvent,
)

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
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
        "basketCommand": (
            "Basket line command from the UI",
            BasketLineCommandEvent,
            BasketLineCommandEvent(
                source="urn:acme:store:s042:kiosk-ui:kiosk-01",
                id="ui-2",
                time=_T0,
                data=BasketLineCommand(
                    action="set_quantity", session_id="9c4e1f0a2b3d4c5e", gtin14="04006381333931", qty=2
                ),
            ),
            "The shopper's +, - or remove on a basket line: a durable op on the session's basket, like a scan. "
            "A command for another session is refused (`stale_session`); a line no longer in the basket is "
            "refused by the basket's rules and shown on the kiosk as `refused`.",
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
        "basketView": (
            "Basket shown on a kiosk",
            BasketViewEvent,
            BasketViewEvent(
                source=_SRC,
                id="kiosk-01:basket:1",
                time=_T0,
                data=BasketView(
                    lines=[
                        BasketLineView(
                            gtin14="04006381333931",
                            name="Wool socks",
                            qty=2,
                            unit_price_minor=899,
                            line_total_minor=1798,
                            currency="EUR",
                        )
                    ],
                    items=2,
                    total_minor=1798,
                    currency="EUR",
                    priced_as_of=_T0,
                ),
            ),
            "Retained, for a kiosk's own screen: the basket's lines with names and prices from the device's catalog "
            "cache, and during a merge preview the joined basket. A price the cache lacks is null (confirmed at "
            "checkout); `prices_stale` flags prices cached too long ago. `refused` is the latest refused scan, tap "
            "or line change as a reason code (never the input); `checkout` carries the till code (an in-store "
            "EAN-13) after Checkout, then thanks once sealed. An item none of which is in stock here carries its "
            "`availability` elsewhere; a line ordered for delivery or pickup (endless aisle) carries `order`: "
            "`requested` (with `offline` while the request is still on the device) until the platform's answer, "
            "then `confirmed` or `refused` with a reason. No cart id, pseudonym or credential.",
        ),
        **workflow_messages(),
        **claim_messages(),
        **offer_messages(),
        **health_messages(),
        **request_messages(),
    }
