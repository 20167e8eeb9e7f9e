"""The self-scan kiosk: its behaviour is the shopper's basket and session (:mod:`.basket`), which every device has."""

from __future__ import annotations

from edge_agent.roles.base import Role


class KioskRole(Role):
    """Takes nothing for itself: scans are basket lines, credentials identify the shopper, the ui confirms."""

    name = "kiosk"

    def subscriptions(self) -> list[str]:
        """With a ``[claim]`` section: the platform's word that a shopper took the guest basket to their phone
        (routed to the basket's :class:`edge_agent.roles.claim.BasketClaim`)."""
        return [self.ports.topics.basket_claimed] if self.ports.config.claim is not None else []
