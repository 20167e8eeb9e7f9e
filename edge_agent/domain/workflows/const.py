"""Defaults of the store workflows, each with the reason for its value (config may override every one).

The platform's own authority numbers (hold windows, reroute rules) stay on the platform; these are the
device-side timers and lists the pure machines need when nothing else is configured.
"""

from __future__ import annotations

from typing import Final

# --- associate tote (retail note §1.2) -------------------------------------------------------------------
DEFAULT_PARK_TTL_S: Final = 4 * 3600.0
"""A parked tote reserves no stock (Shopify saved carts are "not reserved"); four hours covers a shopper's lunch
or a second visit the same afternoon, and a forgotten tote is abandoned before the next trading day."""

# --- click-and-collect picking (retail note §1.3) ----------------------------------------------------------
DEFAULT_ACCEPT_TIMER_S: Final = 10 * 60.0
"""NewStore's pending timer: an order nobody accepts within ten minutes goes back to the platform to reroute,
while the promised pickup time can still be kept elsewhere."""

DEFAULT_PICK_TIMER_S: Final = 30 * 60.0
"""A click-and-collect order of a few lines is picked in minutes; half an hour in PICKING flags a stuck pick
on the SLA board before a "ready in an hour" promise is broken."""

DEFAULT_SHORT_REASONS: Final = ("inventory_shortage", "damaged", "pick_later")
"""IBM Sterling Store Engagement's default shortage reason and its two samples ("Inventory Shortage",
"Damaged", "Pick Later"), as stable codes."""

# --- fitting-room assists (retail note §1.4) ----------------------------------------------------------------
DEFAULT_ASSIST_ACK_S: Final = 60.0
"""A shopper half-dressed in a fitting room waits for a size; a minute with no associate acknowledging is
already long, so each further minute escalates one level."""

DEFAULT_ASSIST_DELIVERY_S: Final = 5 * 60.0
"""After an acknowledgement the garment comes from the floor or the stockroom; five minutes covers a stockroom
trip, longer is an SLA breach worth a KPI."""

DEFAULT_ASSIST_MAX_LEVEL: Final = 3
"""Escalation stops at level 3 (associates → floor lead → store manager); beyond it nobody new is paged."""

# --- shelf stock (retail note §1.5) -------------------------------------------------------------------------
DEFAULT_STOCK_LOW_AT: Final = 2
"""Two or fewer units on the shelf read as "almost gone" to a shopper and a replenishment takes a while."""
