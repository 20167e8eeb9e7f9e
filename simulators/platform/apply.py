"""The platform's apply rules, storage-agnostic: one piece of code for the SQLite simulator and the PostgreSQL
workers (sync note §1, scale note §0.3).

:func:`apply_batch` runs inside the caller's transaction: per op, the ``(device, epoch, seq)`` dedupe key decides
whether it is new; only new ops the device may write (cart_authority) change the cart; checkouts are decided; the
touched carts' versions are bumped and the device's watermark advanced. It returns what to publish once the caller
has COMMITted (and only then acked the transport): the device's watermark and the touched carts' snapshots.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.contract.cart import (
    AppliedWatermark,
    CartSnapshot,
    OpsBatch,
    SealModel,
    SnapshotAttr,
    SnapshotEntryModel,
)
from edge_agent.contract.codec import Rejected
from edge_agent.domain.cart import decide_checkout, effects_of
from edge_agent.domain.ops import CartOp, OpKind
from simulators import aisle_orders
from simulators import cart_authority as authority
from simulators.platform.port import Held, PlatformStore

log = logging.getLogger("platform")


@dataclass
class Applied:
    """What one batch did: the caller counts it and publishes the watermark and the touched carts' snapshots."""

    device: str
    new_ops: list[CartOp] = field(default_factory=list)
    duplicates: int = 0
    """Ops whose dedupe key was already recorded."""
    held: Counter[str] = field(default_factory=Counter)
    grants: int = 0
    for_erased_carts: int = 0
    sealed: int = 0
    already_sealed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    """New ops acknowledged but never applied, by reason (an endless-aisle answer written by a device)."""
    touched: set[str] = field(default_factory=set)
    """Carts whose version was bumped (the device's ops, plus whatever ``join`` changed)."""


def apply_batch(
    port: PlatformStore,
    keys: tuple[bytes, ...],
    tenant: str,
    store: str,
    device: str,
    batch: OpsBatch,
    *,
    join: Callable[[set[str]], set[str]] | None = None,
) -> Applied:
    """Apply one batch in the caller's transaction. Ops for a cart the port says was erased are recorded (deduped,
    acknowledged by the watermark) and dropped before any other rule sees them: never applied, held or adopted,
    so nothing of an erased shopper comes back. ``join`` (the simulator's basket claims) may write more carts
    after the ops' effects and returns them."""
    if batch.device != device or any(op.device != device or op.epoch != batch.epoch for op in batch.ops):
        raise Rejected("impersonation", f"ops for {batch.device} published under dv/{device}")
    try:
        authority.home_device(port, device, tenant, store)
    except authority.WrongStore as exc:
        raise Rejected("wrong_store", str(exc)) from None
    port.lock_device(device, batch.epoch)
    carts = sorted({op.cart_id for op in batch.ops})
    for cart_id in carts:  # sorted: two writers never wait on each other
        port.lock_cart(cart_id)
    erased = port.erased_among(carts)  # after the locks: an erasure committed before them is seen
    out = Applied(device)
    now = time.time()
    new_ops: list[CartOp] = []
    fresh = port.record_applied(batch.ops, now)
    # Carts this device may write, learnt in this batch: owners, homes and grants never change back (and the cart is
    # locked), so the rest of the batch's ops on them skip the checks (a batch's ops are mostly on one cart).
    writable: set[str] = set()
    for op in batch.ops:  # in the batch's order; a seq repeated inside one batch is new once
        if op.seq not in fresh:
            out.duplicates += 1
            continue
        fresh.discard(op.seq)
        if op.cart_id in erased:
            out.for_erased_carts += 1  # acknowledged, never applied
            continue
        if op.cart_id in writable and not authority.is_grant(op):
            new_ops.append(op)
            continue
        authorised = _authorised(port, keys, tenant, store, device, op, out)
        if authorised:
            writable.add(op.cart_id)
        new_ops.extend(authorised)
    new_ops = aisle_orders.without_forged_answers(new_ops, out.rejected)  # only the platform answers an order
    port.apply_effects(effects_of(op) for op in new_ops)
    joined = join({op.cart_id for op in new_ops}) if join is not None else set()
    for op in new_ops:
        if op.kind is OpKind.CHECKOUT:
            decide_checkout_of(port, op, out)
    touched = {op.cart_id for op in new_ops}
    for cart_id in touched:
        port.bump_version(cart_id, tenant, store)
    port.advance_watermark(device, batch.epoch)
    out.new_ops = new_ops
    out.touched = touched | joined
    return out


def _authorised(
    port: PlatformStore, keys: tuple[bytes, ...], tenant: str, store: str, device: str, op: CartOp, out: Applied
) -> list[CartOp]:
    """The ops to apply for one new op: none if the device may not write its cart (held), the op itself, or,
    for a verified merge grant, the grant and the device's ops held for that profile cart."""
    reason = authority.refusal(port, keys, device, tenant, store, op)
    if reason is not None:
        port.hold(tenant, store, Held(op, reason))
        out.held[reason] += 1
        log.warning("platform: holding %s from %s: %s on %s", op.op_id, device, reason, op.cart_id)
        return []
    if not authority.is_grant(op):
        return [op]
    out.grants += 1
    released = port.release(device, op.cart_id)
    if released:
        log.info("platform: merge grant releases %d held op(s) of %s for %s", len(released), device, op.cart_id)
    return [op, *released]


def decide_checkout_of(port: PlatformStore, op: CartOp, out: Applied) -> None:
    """In the same transaction as the op: the first request seals, later ones learn the existing seal."""
    decision = decide_checkout(port.live_entries(op.cart_id), op, port.seal_of(op.cart_id))
    if decision.newly_sealed:
        port.record_seal(op.cart_id, decision.seal)
        out.sealed += 1
    else:
        out.already_sealed += 1


def watermark_of(port: PlatformStore, device: str, hlc: int) -> AppliedWatermark:
    return AppliedWatermark(device=device, watermarks=port.watermarks(device), hlc=hlc)


def snapshot_of(port: PlatformStore, cart_id: str, hlc: int) -> CartSnapshot:
    version = port.cart_version(cart_id)
    live = port.live_entries(cart_id)
    seal = port.seal_of(cart_id)
    return CartSnapshot(
        cart_id=cart_id,
        version=version if version is not None else 1,
        entries=[
            SnapshotEntryModel(
                entry_id=e.entry_id, sku=e.sku, qty=e.qty, hlc=e.hlc, origin_device=e.origin_device, serial=e.serial
            )
            for e in live
        ],
        tombstones=port.tombstones(cart_id),
        attrs=[
            SnapshotAttr(key=a.key, value=a.value, hlc=a.hlc, device=a.device, op_id=a.op_id)
            for a in port.attrs(cart_id)
        ],
        sealed=None
        if seal is None
        else SealModel(order_id=seal.order_id, entry_ids=list(seal.entry_ids), hlc=seal.hlc),
        added_after_checkout=[] if seal is None else sorted({e.entry_id for e in live} - set(seal.entry_ids)),
        hlc_max=hlc,
    )
