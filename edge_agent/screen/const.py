"""The local screen's numbers, each with the reason it has its value."""

from __future__ import annotations

DEFAULT_SCREEN_LISTEN = "127.0.0.1:8080"
"""Loopback: the kiosk's browser runs on the device; nothing else on the store LAN should reach the page."""

DEFAULT_ATTRACT_AFTER_S = 60.0
"""An empty basket untouched this long shows the attract screen ("scan a product to start")."""

SCREEN_SSE_MAX_CLIENTS = 8
"""Live-update connections at once: the kiosk's browser needs one (a reload briefly two); a bound keeps a local
process that opens streams in a loop from holding the loop's memory and file descriptors."""

SCREEN_SSE_QUEUE_MAX = 64
"""Updates queued for one stream; a browser that falls this far behind is dropped and reconnects (EventSource
does so by itself) to the latest view per topic, which is all a screen needs."""

SCREEN_SSE_KEEPALIVE_S = 15.0
"""A comment line this often keeps idle streams from being closed by the browser or anything between."""

SCREEN_SSE_RETRY_MS = 1000
"""What EventSource waits before reconnecting: the server is on the device, so it is back as soon as the agent is."""

SCREEN_LINK_POLL_S = 0.5
"""How often the server looks at the uplink to show or hide the offline banner: fast enough to feel immediate."""

SCREEN_ACTION_MAX_BYTES = 16 * 1024
"""A screen action is one small command; anything bigger is refused before it is read."""

SCREEN_BIND_RETRY_S = 5.0
"""A port that cannot be bound (taken, not yet up) is retried this often; the agent keeps saving scans meanwhile."""

SCREEN_SHUTDOWN_S = 2.0
"""Open streams get this long to close when the agent stops."""

ROLE_PAGES = {
    "kiosk": "kiosk",
    "fitting-room-mirror": "mirror",
    "associate-handheld": "handheld",
    "shelf": "shelf",
}
"""device.role -> the page (static/{page}.html, messages/{locale}/{page}.json) its screen shows."""

PRICES_STALE_AFTER_S = 24 * 3600.0
"""A cached price older than this may have changed since (the platform republishes prices at least daily): the
kiosk says "price confirmed at checkout" rather than promise it. So it does whenever the uplink is down."""
