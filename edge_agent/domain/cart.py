"""The add-wins cart: what an op does to a replica, and the view a shopper sees.

State is a set of immutable entries, a grow-only set of tombstones and LWW attributes. Merge is set union
(plus LWW max per key), so it is commutative, associative and idempotent: duplicates, reordering and clock
skew cannot make two replicas disagree. Clocks only order lines for display and break LWW ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from edge_agent.domain.ops import CartOp, OpKind


class Entry(NamedTuple):
    """An immutable line entry; its id is the id of the op that created it.

    A named tuple, not a frozen dataclass: one is built per op recorded and per row read, and a tuple is built
    in a fifth of the time (issue 14); its fields are cart_entries' columns, in their order, so it is the row."""

    entry_id: str
    cart_id: str
    sku: str
    qty: int
    hlc: int
    origin_device: str
    serial: str | None = None
    """A serialised item (GS1 AI 21): entries with the same sku and serial are one item, whoever added them."""


@dataclass(frozen=True, slots=True)
class AttrWrite:
    key: str
    value: str | None
    hlc: int
    device: str
    op_id: str

    def beats(self, other: AttrWrite | None) -> bool:
        """LWW order: HLC, then device, then op id -- a total order, so every replica picks the same winner.

        The op id matters: a device whose database was recreated with its clock at 1970 can repeat an
        (hlc, device) pair of its previous life; its epoch, in the op id, still tells the two writes apart.
        """
        return other is None or (self.hlc, self.device, self.op_id) > (other.hlc, other.device, other.op_id)


class Effects(NamedTuple):
    """What an op adds to a replica's state. Applying the same effects twice changes nothing. (A named tuple,
    as Entry is: one per op recorded.)"""

    cart_id: str
    entries: tuple[Entry, ...] = ()
    tombstones: tuple[str, ...] = ()
    attrs: tuple[AttrWrite, ...] = ()


_MAKES_ENTRY = frozenset((OpKind.ADD, OpKind.SET_QTY))
_CHECKOUT, _ATTR_SET = OpKind.CHECKOUT, OpKind.ATTR_SET
"""Looked up once: reading an enum member off its class goes through a descriptor, three times per op recorded."""


def effects_of(op: CartOp) -> Effects:
    """The one place that says what each op kind means (sync note §3.2)."""
    kind = op.kind
    new_entry = (
        (Entry(op.op_id, op.cart_id, op.sku, op.qty, op.hlc, op.device, op.serial),)
        if kind in _MAKES_ENTRY and op.sku is not None and op.qty is not None
        else ()
    )
    if kind is _CHECKOUT:
        return Effects(op.cart_id)  # membership is untouched; only the platform seals (decide_checkout)
    if kind is _ATTR_SET and op.key is not None:
        return Effects(op.cart_id, attrs=(AttrWrite(op.key, op.value, op.hlc, op.device, op.op_id),))
    return Effects(op.cart_id, entries=new_entry, tombstones=op.observed)


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    qty: int
    first_hlc: int
    entry_ids: tuple[str, ...]


def line_qty(entries: Iterable[Entry]) -> int:
    """Unserialised entries add up; serialised ones count once per distinct serial.

    Two replicas that both add serial S of one item (a tag tapped at two readers, a scan repeated while
    offline) hold two entries, and every replica still shows one item: the rule is a function of the set.
    """
    plain, serials = 0, set()
    for e in entries:
        if e.serial is None:
            plain += e.qty
        else:
            serials.add(e.serial)
    return plain + len(serials)


def lines_of(live: Iterable[Entry]) -> list[Line]:
    """Group live entries into display lines: qty per :func:`line_qty`, order is the earliest HLC of the line."""
    by_sku: dict[str, list[Entry]] = {}
    for entry in live:
        by_sku.setdefault(entry.sku, []).append(entry)
    lines = [
        Line(sku, line_qty(es), min(e.hlc for e in es), tuple(sorted(e.entry_id for e in es)))
        for sku, es in by_sku.items()
    ]
    return sorted(lines, key=lambda line: (line.first_hlc, line.sku))


def quantities(live: Iterable[Entry]) -> dict[str, int]:
    by_sku: dict[str, list[Entry]] = {}
    for entry in live:
        by_sku.setdefault(entry.sku, []).append(entry)
    return {sku: line_qty(es) for sku, es in by_sku.items()}


@dataclass
class CartReplica:
    """An in-memory replica of one cart; the SQLite store holds the same state as tables."""

    cart_id: str
    entries: dict[str, Entry] = field(default_factory=dict)
    tombstones: set[str] = field(default_factory=set)
    attrs: dict[str, AttrWrite] = field(default_factory=dict)
    snapshot_version: int = 0
    """The newest platform snapshot merged; an older or equal one is stale and ignored."""
    confirmed: set[str] = field(default_factory=set)
    """Removals the platform's snapshot holds: :meth:`collect` may drop them with their entries."""

    def apply(self, effects: Effects) -> None:
        for entry in effects.entries:
            self.entries.setdefault(entry.entry_id, entry)
        self.tombstones.update(effects.tombstones)
        for write in effects.attrs:
            if write.beats(self.attrs.get(write.key)):
                self.attrs[write.key] = write

    def merge(self, other: CartReplica) -> None:
        self.apply(
            Effects(
                other.cart_id,
                tuple(other.entries.values()),
                tuple(other.tombstones),
                tuple(other.attrs.values()),
            )
        )

    def merge_snapshot(self, version: int, snapshot: Effects) -> bool:
        """A device merges the platform's snapshot (the authority's state at ``version``); False when stale.

        A snapshot's tombstones are removals the platform applied, so every later snapshot holds them too (its
        tombstones only grow, versions only rise): they are marked confirmed, collectable. One that names an
        entry this replica does not hold is not kept at all: nothing can bring that entry here any more (a
        snapshot carries live entries only, and this device's own entries were applied when it made them).
        """
        if version <= self.snapshot_version:
            return False
        self.snapshot_version = version
        self.apply(Effects(self.cart_id, snapshot.entries, attrs=snapshot.attrs))
        held = {t for t in snapshot.tombstones if t in self.entries}
        self.tombstones.update(held)
        self.confirmed.update(held)
        return True

    def collect(self) -> int:
        """Drop every confirmed removal with its entry (docs/cart-rule.md, Collection); the view is unchanged.

        Safe at any time: a confirmed entry can come back neither from a snapshot (the platform's live set
        excludes it in every version from the one that confirmed it on, and older ones are stale) nor from this
        device (new ops make new ids). Unconfirmed tombstones stay: they hide entries a snapshot may still list.
        """
        for entry_id in self.confirmed:
            self.entries.pop(entry_id, None)
            self.tombstones.discard(entry_id)
        dropped = len(self.confirmed)
        self.confirmed.clear()
        return dropped

    def live(self) -> list[Entry]:
        return [e for eid, e in self.entries.items() if eid not in self.tombstones]

    def quantities(self) -> dict[str, int]:
        return quantities(self.live())

    def attr_values(self) -> Mapping[str, str | None]:
        return {k: w.value for k, w in self.attrs.items()}


@dataclass(frozen=True, slots=True)
class Seal:
    """The platform's decision: this cart became order ``order_id`` with exactly these entries."""

    order_id: str
    entry_ids: tuple[str, ...]
    hlc: int


@dataclass(frozen=True, slots=True)
class CheckoutDecision:
    seal: Seal
    newly_sealed: bool
    added_after_checkout: tuple[str, ...]
    """Live entries the shopper had not seen when asking to pay: flagged for a successor, never dropped."""


def decide_checkout(live: Iterable[Entry], request: CartOp, existing: Seal | None) -> CheckoutDecision:
    """Checkout is not monotonic, so one authority decides, once (sync note §3.2).

    The order is the entries the request observed that are still live; a second request gets the seal
    that already exists.
    """
    live_ids = {e.entry_id for e in live}
    if existing is not None:
        return CheckoutDecision(existing, False, tuple(sorted(live_ids - set(existing.entry_ids))))
    included = tuple(sorted(live_ids & set(request.observed)))
    seal = Seal(request.op_id, included, request.hlc)
    return CheckoutDecision(seal, True, tuple(sorted(live_ids - set(included))))
