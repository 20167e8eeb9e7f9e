"""The shopper basket's numbers and names, each with the reason it has its value."""

from __future__ import annotations

TILL_CODE_PREFIX = "2"
"""GS1 prefixes 20-29 are restricted circulation: numbers a retailer issues for use inside its own stores, never
a product's GTIN, so a till that scans one knows to look up a basket rather than an item."""

TILL_CODE_RANDOM_DIGITS = 11
"""Prefix + 11 random digits + the check digit make an EAN-13, which every till scanner reads; 10^11 codes keep
a guessed code from finding someone else's basket in practice."""

TILL_CODE_ATTR = "checkout.till_code"
"""The cart attribute that carries the till code to the platform (a durable op, before the checkout request)."""

SHOPPER_READERS = {"barcode": "barcode", "scanner": "barcode", "nfc": "nfc"}
"""Readers a shopper acts on directly, and the source the kiosk names (a handheld scanner reads a barcode, as the
camera does): their refusals are the shopper's to hear. A BLE frame the device refused
is the store's business (counted in the status), not something to show on the kiosk."""

WALKAWAY_IDLE_S = 60.0
"""An opted-in shopper app that leaves the kiosk's near zone ends a session idle this long as a walk-away: a
shopper reading the screen acts within a minute, and a phone passing by while someone scans (not idle) never
ends their session. Only apps that opted in to proximity are seen at all (retail note §4)."""

WALKAWAY_FROM_ZONES = frozenset({"near", "immediate"})
"""The zones an app must leave from to count: one only seen "far" was never at the kiosk."""
