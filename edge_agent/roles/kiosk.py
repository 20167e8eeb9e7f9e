"""The self-scan kiosk: its behaviour is the shopper's basket and session (:mod:`.basket`), which every device has."""

from __future__ import annotations

from edge_agent.roles.base import Role


class KioskRole(Role):
    """Takes nothing for itself: scans are basket lines, credentials identify the shopper, the ui confirms."""

    name = "kiosk"
