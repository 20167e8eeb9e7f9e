"""The central simulator's constants, with their reasons."""

from __future__ import annotations

from typing import Final

WEB_DEVICE: Final = "web"
"""Device id of the online channel: online cart edits are ops like any other."""

APPLY_GROUP_MAX: Final = 64
"""Most messages applied in one transaction (simulators/central/inbox.py): what queued while the last one ran,
bounded so a backlog's first watermarks are not held back by the whole backlog."""

EVENTS_WAIT_S: Final = 0.005
"""How long workflow events with nothing else queued wait for an ops batch to share their transaction (inbox.py):
back to back, the next scan's op arrives 1-3 ms after the last one's event (bench_latency); at a shopper's pace
nothing comes, and the events go alone, this much later. Only their PUBACK waits; an op never does."""

STOP_WAIT_S: Final = 5.0
"""How long stop() waits for the inbox to apply what was already queued."""

SNAPSHOT_FLUSH_S: Final = 0.05
"""Snapshots of touched carts are coalesced and published at most this often."""

CATALOG_PAGE_ITEMS: Final = 500
"""Items per catalog update sent to a device catching up after a sync request: a page stays far below the
broker's message size limit."""

KEEPALIVE_S: Final = 10
"""MQTT keepalive: a dead broker connection is noticed within seconds, as on the devices."""

RECONNECT_DELAY_S: Final = (1, 2)
"""paho's reconnect backoff (min, max): the simulator is back fast after a broker restart in the fault tests."""

SOURCE: Final = "central-sim"
"""This platform's name in its events' ``source`` (``urn:{tenant}:platform:central-sim``)."""
