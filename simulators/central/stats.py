"""What the central simulator counted: the tests' and benches' view of the platform's decisions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from edge_agent.contract.device import ErasureDone
from simulators.platform.apply import Applied


@dataclass
class CentralStats:
    batches: int = 0
    transactions: int = 0
    """Transactions that applied ops batches or workflow events: what arrived together shares one."""
    ops_applied: int = 0
    ops_duplicate: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    erasures_done: list[ErasureDone] = field(default_factory=list)
    ops_for_erased_carts: int = 0
    erasures_replayed: int = 0
    """Erased carts a sync request still listed: the erasure was asked again (platform/events.erasure_replays)."""
    snapshots_published: int = 0
    orders_sealed: int = 0
    checkout_already_sealed: int = 0
    ops_held: Counter[str] = field(default_factory=Counter)
    """Ops a device may not write (not its cart, no merge grant): kept, never applied (cart_authority)."""
    grants: int = 0
    claims: int = 0
    """Guest baskets taken to a shopper's phone (simulators/basket_claims.py)."""
    claims_refused: Counter[str] = field(default_factory=Counter)
    events_recorded: int = 0
    """Workflow events kept for attribution (simulators/attribution.py), redeliveries not counted."""
    online_orders: int = 0
    aisle_orders: Counter[str] = field(default_factory=Counter)
    """Endless-aisle order requests, accepted or refused (simulators/aisle_orders.py)."""

    def count_batch(self, applied: Applied, ops_in_batch: int) -> None:
        """What one device batch did, as the shared apply rules report it."""
        self.ops_held.update(applied.held)
        self.grants += applied.grants
        self.ops_for_erased_carts += applied.for_erased_carts
        self.orders_sealed += applied.sealed
        self.checkout_already_sealed += applied.already_sealed
        self.rejected.update(applied.rejected)
        self.batches += 1
        self.ops_applied += len(applied.new_ops)
        self.ops_duplicate += ops_in_batch - len(applied.new_ops)
