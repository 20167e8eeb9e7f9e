"""The storage port the platform's apply rules need: the few reads and writes of one apply transaction.

The caller owns the transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``BEGIN``); every method runs inside it.
Where several writers share one database (PostgreSQL workers), ``lock_device`` and ``lock_cart`` take row locks
so that batches of one device, and writes to one cart, are applied one after the other; the SQLite adapter needs
none (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from edge_agent.contract.cart import EpochWatermark
from edge_agent.domain.cart import AttrWrite, Effects, Entry, Seal
from edge_agent.domain.ops import CartOp


@dataclass(frozen=True, slots=True)
class Held:
    """An op its device may not write (simulators/cart_authority.py): kept, never applied, until a grant."""

    op: CartOp
    reason: str


class PlatformStore(Protocol):
    # --- locks (ordering across writers) ---
    def lock_device(self, device: str, epoch: str) -> None:
        """Serialise batches of one (device, epoch), so each advance of its watermark sees the previous one."""

    def lock_cart(self, cart_id: str) -> None:
        """Serialise writes to one cart (callers lock in sorted order): versions and seals follow commit order."""

    # --- dedupe ---
    def record_applied(self, ops: list[CartOp], at: float) -> set[int]:
        """Insert each op's (device, epoch, seq) if new (ops of one device epoch); the seqs that were new."""

    # --- who may write (cart_authority) ---
    def bind_home(self, device: str, tenant: str, store: str) -> tuple[str, str]:
        """Bind the device to (tenant, store) if it has no home yet; return its home."""

    def home_of(self, device: str) -> tuple[str, str] | None: ...

    def owner_of(self, cart_id: str) -> str | None: ...

    def adopt(self, cart_id: str, device: str) -> None: ...

    def record_grant(self, device: str, cart_id: str) -> None: ...

    def has_grant(self, device: str, cart_id: str) -> bool: ...

    def record_issued(self, cart_id: str, fingerprint: str) -> None:
        """The platform issued an EA2 credential for the profile cart: its signature's SHA-256, never the token."""

    def issued_fingerprints(self, cart_id: str) -> list[str]:
        """Fingerprints of the EA2 credentials issued for the profile cart (a fingerprint grant must match one)."""

    def forget_issued(self, cart_id: str) -> None:
        """The shopper was erased: their credentials' fingerprints go, so no grant made from one opens the cart."""

    # --- erasure ---
    def erased_among(self, cart_ids: Iterable[str]) -> set[str]:
        """Which of these carts were erased: their ops are acknowledged (deduped, watermarked), never applied."""

    def record_erased(self, cart_id: str) -> None:
        """In the erasure's transaction: from its COMMIT on, every worker drops the cart's ops."""

    def hold(self, tenant: str, store: str, held: Held) -> None: ...

    def release(self, device: str, cart_id: str) -> list[CartOp]:
        """The device's held ops for the cart, removed from the hold, in seq order."""

    # --- the cart ---
    def apply_effects(self, effects: Iterable[Effects]) -> None: ...

    def live_entries(self, cart_id: str) -> list[Entry]: ...

    def tombstones(self, cart_id: str) -> list[str]: ...

    def attrs(self, cart_id: str) -> list[AttrWrite]: ...

    def seal_of(self, cart_id: str) -> Seal | None: ...

    def record_seal(self, cart_id: str, seal: Seal) -> bool: ...

    def bump_version(self, cart_id: str, tenant: str, store: str) -> None: ...

    def cart_version(self, cart_id: str) -> int | None: ...

    def cart_home(self, cart_id: str) -> tuple[str, str] | None: ...

    # --- the watermark ---
    def advance_watermark(self, device: str, epoch: str) -> None: ...

    def watermarks(self, device: str) -> list[EpochWatermark]: ...
