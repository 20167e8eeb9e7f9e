"""The workflow events' names in GA4 ecommerce and Segment Ecommerce v2 (retail note §6), and their doc table.

Every event name a machine can emit has a row here; the standard ecommerce events use the vendors' names, the
store-only ones (tote lifecycle, garment, assist, pick, pickup, order, stock, price) are custom events whose
GA4 name is the internal name in snake case (GA4: letters, digits, underscores, ≤ 40 characters) and whose
Segment name is its "Object Action" title. ``docs/event-mapping.md`` is :func:`render_mapping_markdown`'s output;
a unit test fails when the committed file differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

RECOMMENDED: Final = "recommended"
"""A GA4 recommended ecommerce event, or an event of the Segment Ecommerce v2 spec."""
CUSTOM: Final = "custom"


@cache
def emitters() -> Mapping[str, frozenset[str]]:
    """Which machine module emits which names (each module's ``EVENT_NAMES``).

    Imported when asked (the docs table, the tests), not with this module: every device publishes events through
    ``analytics_names``, and a kiosk has no business loading the tote and picking machines to do so."""
    from edge_agent.domain.workflows import assist, fitting_room, kiosk, personalisation, picking, shelf, stock, tote

    return MappingProxyType(
        {
            "kiosk": kiosk.EVENT_NAMES,
            "tote": tote.EVENT_NAMES,
            "picking": picking.EVENT_NAMES,
            "fitting_room": fitting_room.EVENT_NAMES,
            "assist": assist.EVENT_NAMES,
            "stock": stock.EVENT_NAMES,
            "shelf": shelf.EVENT_NAMES,
            "personalisation": personalisation.EVENT_NAMES,
        }
    )


def all_event_names() -> frozenset[str]:
    return frozenset().union(*emitters().values())


def _standard(ga4: str, segment: str, note: str = "", *, ga4_kind: str = RECOMMENDED) -> Mapping[str, str]:
    return MappingProxyType(
        {"ga4": ga4, "ga4_kind": ga4_kind, "segment": segment, "segment_kind": RECOMMENDED, "note": note}
    )


def _custom(name: str, note: str = "") -> Mapping[str, str]:
    ga4 = name.replace(".", "_")
    segment = " ".join(word.capitalize() for word in ga4.split("_"))
    return MappingProxyType({"ga4": ga4, "ga4_kind": CUSTOM, "segment": segment, "segment_kind": CUSTOM, "note": note})


EVENT_MAP: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        # --- kiosk shopper session ----------------------------------------------------------------------------
        "kiosk.session.started": _custom(
            "kiosk.session.started", "first scan, line change or tap; names the guest basket"
        ),
        "cart.line_added": _standard(
            "add_to_cart",
            "Product Added",
            "item: gtin14 → item_id, qty, source=kiosk; a quantity raised adds the difference",
        ),
        "cart.line_removed": _standard(
            "remove_from_cart", "Product Removed", "a line removed, or a quantity lowered by the difference"
        ),
        "cart.merge_previewed": _custom("cart.merge_previewed", "policy and diff size; nothing joined yet"),
        "cart.merge_confirmed": _custom(
            "cart.merge_confirmed", "the merge writes attribution_key into the profile cart (attribution)"
        ),
        "cart.merge_declined": _custom("cart.merge_declined", "the guest basket stays a cart of its own"),
        "cart.handoff": _standard(
            "share_cart",
            "Cart Shared",
            "channel qr_to_phone: the platform's claim took the guest basket; GA4 has no cart-share event",
            ga4_kind=CUSTOM,
        ),
        "kiosk.session.ended": _custom(
            "kiosk.session.ended",
            "reason: explicit, timeout, walkaway, checkout, claimed or consent_withdrawn (profile, at the screen)",
        ),
        "basket.abandoned": _custom(
            "basket.abandoned", "ended by timeout, walkaway or explicit with lines nobody took: counts, no prices"
        ),
        # --- associate tote -----------------------------------------------------------------------------------
        "tote.created": _custom("tote.created"),
        "tote.customer_attached": _custom("tote.customer_attached"),
        "tote.line_added": _standard("add_to_cart", "Product Added", "item: gtin14 → item_id, fulfilment, source=tote"),
        "tote.line_removed": _standard("remove_from_cart", "Product Removed"),
        "tote.shared": _standard("share_cart", "Cart Shared", "GA4 has no cart-share event", ga4_kind=CUSTOM),
        "tote.submitted": _standard("begin_checkout", "Checkout Started"),
        "tote.pos_handoff": _custom("tote.pos_handoff", "tote code handed to the till"),
        "tote.payment_link_sent": _custom("tote.payment_link_sent"),
        "tote.paid": _standard(
            "purchase", "Order Completed", "reported by the platform only; value and revenue come from its order"
        ),
        "tote.converted": _custom("tote.converted", "attribution: the platform's order id for the tote"),
        "tote.collect.started": _custom("tote.collect.started"),
        "tote.line_collected": _custom("tote.line_collected"),
        "tote.line_unavailable": _custom("tote.line_unavailable"),
        "tote.substitution.proposed": _custom("tote.substitution.proposed"),
        "tote.substitution.decided": _custom("tote.substitution.decided"),
        "tote.ready": _custom("tote.ready"),
        "tote.handed_over": _custom("tote.handed_over"),
        "tote.completed": _custom("tote.completed", "reported by the platform"),
        "tote.parked": _custom("tote.parked"),
        "tote.resumed": _custom("tote.resumed"),
        "tote.abandoned": _custom("tote.abandoned", "park TTL expired"),
        "tote.cancelled": _custom("tote.cancelled", "before payment; not Segment's Order Cancelled"),
        # --- click-and-collect picking ------------------------------------------------------------------------
        "fulfilment.accepted": _custom("fulfilment.accepted"),
        "fulfilment.declined": _custom("fulfilment.declined"),
        "fulfilment.accept_timer_breached": _custom("fulfilment.accept_timer_breached", "SLA; the order times out"),
        "pick.started": _custom("pick.started"),
        "pick.scan": _custom("pick.scan"),
        "pick.line_short": _custom("pick.line_short"),
        "pick.substitution.proposed": _custom("pick.substitution.proposed"),
        "pick.substitution.approved": _custom("pick.substitution.approved", "reported by the platform"),
        "pick.substitution.rejected": _custom("pick.substitution.rejected", "reported by the platform"),
        "pick.timer_breached": _custom("pick.timer_breached", "SLA"),
        "pick.completed": _custom("pick.completed"),
        "fulfilment.items_failed": _custom("fulfilment.items_failed", "the platform reroutes"),
        "order.staged": _custom("order.staged"),
        "order.ready_for_pickup": _custom("order.ready_for_pickup", "reported by the platform"),
        "customer.checked_in": _custom("customer.checked_in"),
        "pickup.verified": _custom("pickup.verified"),
        "pickup.handed_over": _custom("pickup.handed_over"),
        "order.closed": _custom("order.closed", "reported by the platform; not a purchase event"),
        "order.no_show": _custom("order.no_show", "reported by the platform"),
        # --- fitting room -------------------------------------------------------------------------------------
        "room.session.started": _custom("room.session.started"),
        "garment.detected": _custom("garment.detected", "NFC tap of the hang tag"),
        "garment.left": _custom("garment.left"),
        "tryon.list.saved": _standard(
            "add_to_wishlist", "Product Added to Wishlist", "wishlist semantics, never cart; profile consent only"
        ),
        "checkout.handoff": _standard("begin_checkout", "Checkout Started", "kiosk → till code; mirror → POS or app"),
        "room.session.ended": _custom("room.session.ended", "the session is purged"),
        # --- fitting-room assists -----------------------------------------------------------------------------
        "assist.requested": _custom("assist.requested"),
        "assist.escalated": _custom("assist.escalated", "SLA; one event per level"),
        "assist.acknowledged": _custom("assist.acknowledged"),
        "assist.delivery_timer_breached": _custom("assist.delivery_timer_breached", "SLA"),
        "assist.delivered": _custom("assist.delivered"),
        "assist.unavailable": _custom("assist.unavailable"),
        "assist.cancelled": _custom("assist.cancelled"),
        # --- shelf --------------------------------------------------------------------------------------------
        "stock.low": _custom("stock.low"),
        "stock.out": _custom("stock.out"),
        "stock.replenished": _custom("stock.replenished"),
        "price.mismatch": _custom("price.mismatch"),
        # --- shelf lookups ------------------------------------------------------------------------------------
        "lookup.performed": _standard("view_item", "Product Viewed", "item: gtin14 → item_id; offline lookups say so"),
        "shelf.label.reported": _custom("shelf.label.reported", "from the shelf's screen: the label differs from it"),
        # --- offers and consent at the device -----------------------------------------------------------------
        "offer.viewed": _standard(
            "view_promotion", "Promotion Viewed", "impression; promotion_id = offer_id; personalisation consent only"
        ),
        "offer.accepted": _standard(
            "select_promotion", "Promotion Clicked", "a cart attribute the platform applies at checkout; no value"
        ),
        "offer.dismissed": _custom("offer.dismissed", "the offer never comes back in the session"),
        "consent.granted": _custom("consent.granted", "at the device; the profile cart's consent.<scope> op"),
        "consent.withdrawn": _custom("consent.withdrawn", "at the device; profile withdrawn purges its local copies"),
    }
)


def analytics_names(event_name: str) -> tuple[str, str]:
    """``(GA4 event name, Segment Ecommerce v2 event name)`` of an internal event name."""
    try:
        row = EVENT_MAP[event_name]
    except KeyError:
        raise KeyError(f"{event_name!r} has no analytics mapping (edge_agent/domain/workflows/taxonomy.py)") from None
    return row["ga4"], row["segment"]


def _machine(event_name: str) -> str:
    return ", ".join(sorted(m for m, names in emitters().items() if event_name in names)) or "—"


def _cell(name: str, kind: str) -> str:
    return f"`{name}`" if kind == RECOMMENDED else f"`{name}` (custom)"


def render_mapping_markdown() -> str:
    """The text of ``docs/event-mapping.md``: one row per event, in each machine's lifecycle order."""
    lines = [
        "# Workflow events → GA4 and Segment Ecommerce v2",
        "",
        "<!-- Generated from edge_agent/domain/workflows/taxonomy.py by render_mapping_markdown(); do not edit.",
        "     Regenerate: .venv/bin/python -c 'from edge_agent.domain.workflows.taxonomy import"
        ' render_mapping_markdown as r; print(r(), end="")\' > docs/event-mapping.md -->',
        "",
        "The store workflows (kiosk session, tote, picking, fitting room, assist, shelf stock) emit internal events"
        " named `domain.verb` (retail note §1, §6).",
        "The agent wraps each in a CloudEvents envelope whose `subject` is the kiosk session, tote, order,"
        " room-session or request id"
        " and which carries the store, the device, the session and `attribution_key`; the shopper's pseudonym"
        ' (`profile`) travels only with their "analytics" consent (which links a session to a profile).',
        "Analytics exports rename events by this table. Recommended names are GA4's ecommerce events and the Segment"
        ' Ecommerce v2 spec; custom names are the internal name in snake case (GA4) or as an "Object Action" title'
        " (Segment). The edge never emits revenue: `purchase` / `Order Completed` come only from the platform's"
        " payment report.",
        "",
        "| edge-agent event | machine | GA4 | Segment Ecommerce v2 | note |",
        "|---|---|---|---|---|",
    ]
    for name, row in EVENT_MAP.items():
        ga4, segment = _cell(row["ga4"], row["ga4_kind"]), _cell(row["segment"], row["segment_kind"])
        lines.append(f"| `{name}` | {_machine(name)} | {ga4} | {segment} | {row['note']} |")
    return "\n".join(lines) + "\n"
