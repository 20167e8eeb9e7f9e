"""What tests and benches read of the simulated central's state (a mixin of CentralPlatform,
simulators/central/core.py): carts, attributes, seals and the ops recorded as applied, under its lock."""

from __future__ import annotations

import threading
from typing import Any

from edge_agent.domain.cart import Seal, quantities
from edge_agent.store import carts


class Inspection:
    _conn: Any
    _lock: threading.RLock

    def seal(self, cart_id: str) -> Seal | None:
        with self._lock:
            return carts.seal_of(self._conn, cart_id)

    def cart_attrs(self, cart_id: str) -> dict[str, str | None]:
        """A cart's LWW attributes (a tote's state, associate and customer)."""
        with self._lock:
            return {a.key: a.value for a in carts.attrs(self._conn, cart_id)}

    def cart(self, cart_id: str) -> dict[str, int]:
        with self._lock:
            return quantities(carts.live_entries(self._conn, cart_id))

    def carts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            ids = [r[0] for r in self._conn.execute("SELECT cart_id FROM cart_versions ORDER BY cart_id")]
        return {c: self.cart(c) for c in ids}

    def applied_op_ids(self, device: str) -> set[str]:
        """Every op id of this device the platform has recorded as applied (deduped per op)."""
        with self._lock:
            rows = self._conn.execute("SELECT device, epoch, seq FROM applied_ops WHERE device = ?", (device,))
            return {f"{d}:{e}:{s}" for d, e, s in rows}

    def applied_count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return int(self._conn.execute("SELECT count(*) FROM applied_ops").fetchone()[0])
            return int(self._conn.execute("SELECT count(*) FROM applied_ops WHERE device = ?", (device,)).fetchone()[0])
