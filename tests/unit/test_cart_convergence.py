"""Property: replicas that exchange ops through a network that duplicates, reorders and delays them --
with skewed clocks and a replica whose database is recreated -- end with the same cart, and that cart is
what the add-wins rule says it is."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge_agent.domain.basket import (
    AddItem,
    BasketCommand,
    ClearCart,
    RemoveItem,
    RequestCheckout,
    SetAttribute,
    SetQuantity,
    plan,
)
from edge_agent.domain.basket import Refused as PlanRefused
from edge_agent.domain.cart import CartReplica, effects_of
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp, OpKind

CART = "cart-1"
SKUS = ["00000000000017", "00000000000024", "00000000000031"]
HOUR_MS = 3_600_000
BASE_MS = 1_795_000_000_000


@dataclass
class Replica:
    device: str
    skew_ms: int
    epoch: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    seq: int = 0
    state: CartReplica = field(default_factory=lambda: CartReplica(CART))
    applied: set[str] = field(default_factory=set)
    clock: HybridClock = field(init=False)
    now_ms: int = BASE_MS

    def __post_init__(self) -> None:
        self.clock = HybridClock(lambda: self.now_ms + self.skew_ms)

    def receive(self, op: CartOp) -> bool:
        """Inbox dedupe by op id, as the platform's applied_ops table does; returns True if new."""
        if op.op_id in self.applied:
            return False
        self.applied.add(op.op_id)
        self.state.apply(effects_of(op))
        self.clock.observe(op.hlc)
        return True


def oracle(all_ops: list[CartOp]) -> dict[str, int]:
    """The add-wins rule, computed from the set of every op ever made, independently of any replica."""
    created = {op.op_id: op for op in all_ops if op.kind in (OpKind.ADD, OpKind.SET_QTY)}
    removing = (OpKind.REMOVE, OpKind.SET_QTY, OpKind.CLEAR)  # a checkout observes but removes nothing
    dead = {eid for op in all_ops if op.kind in removing for eid in op.observed}
    out: dict[str, int] = {}
    for eid, op in created.items():
        if eid not in dead and op.sku is not None and op.qty is not None:
            out[op.sku] = out.get(op.sku, 0) + op.qty
    return out


class ConvergenceMachine(RuleBasedStateMachine):
    @initialize(skews=st.lists(st.integers(-HOUR_MS, HOUR_MS), min_size=3, max_size=3), seed=st.integers(0, 2**32))
    def setup(self, skews: list[int], seed: int) -> None:
        self.replicas = [Replica(f"dev-{i}", skew) for i, skew in enumerate(skews)]
        self.network: list[tuple[int, CartOp]] = []
        self.all_ops: list[CartOp] = []
        self.rng = random.Random(seed)
        self.duplicates_delivered = 0

    def _issue(self, r: int, command: BasketCommand) -> None:
        rep = self.replicas[r]
        try:
            intent = plan(command, rep.state.live())
        except PlanRefused:
            return
        rep.seq += 1
        op = intent.materialise(device=rep.device, epoch=rep.epoch, seq=rep.seq, uuid=uuid.uuid4(), hlc=rep.clock.now())
        self.all_ops.append(op)
        rep.receive(op)
        for other in range(len(self.replicas)):
            if other != r:
                self.network.append((other, op))

    @rule(r=st.integers(0, 2), sku=st.sampled_from(SKUS), qty=st.integers(1, 3))
    def add(self, r: int, sku: str, qty: int) -> None:
        self._issue(r, AddItem(CART, sku, qty))

    @rule(r=st.integers(0, 2), sku=st.sampled_from(SKUS))
    def remove(self, r: int, sku: str) -> None:
        self._issue(r, RemoveItem(CART, sku))

    @rule(r=st.integers(0, 2), sku=st.sampled_from(SKUS), qty=st.integers(0, 4))
    def set_qty(self, r: int, sku: str, qty: int) -> None:
        self._issue(r, SetQuantity(CART, sku, qty))

    @rule(r=st.integers(0, 2))
    def clear(self, r: int) -> None:
        self._issue(r, ClearCart(CART))

    @rule(r=st.integers(0, 2))
    def request_checkout(self, r: int) -> None:
        self._issue(r, RequestCheckout(CART))

    @rule(r=st.integers(0, 2), value=st.sampled_from(["store-1", "store-2", None]))
    def set_pickup_store(self, r: int, value: str | None) -> None:
        self._issue(r, SetAttribute(CART, "pickup_store", value))

    @precondition(lambda self: bool(self.network))
    @rule(pick=st.integers(0, 10_000), duplicate=st.booleans())
    def deliver_any(self, pick: int, duplicate: bool) -> None:
        """Any message, not the oldest: reordering. Keeping it queued: duplication."""
        index = pick % len(self.network)
        dest, op = self.network[index] if duplicate else self.network.pop(index)
        rep = self.replicas[dest]
        before = (dict(rep.state.entries), set(rep.state.tombstones), dict(rep.state.attrs))
        if not rep.receive(op):
            self.duplicates_delivered += 1
            assert (rep.state.entries, rep.state.tombstones, rep.state.attrs) == before, "a duplicate changed state"

    @rule(r=st.integers(0, 2))
    def recreate_database(self, r: int) -> None:
        """The replica's database is lost: new epoch, seq from 1, state rebuilt from what others replay."""
        old = self.replicas[r]
        fresh = Replica(old.device, old.skew_ms)
        self.replicas[r] = fresh
        self.network = [(d, op) for d, op in self.network if d != r]
        self.network.extend((r, op) for op in self.all_ops)  # the platform replays the cart (a snapshot)

    @rule(r=st.integers(0, 2))
    def clock_reset_to_1970(self, r: int) -> None:
        self.replicas[r].skew_ms = -BASE_MS

    @rule(ms=st.integers(1, 120_000))
    def time_passes(self, ms: int) -> None:
        for rep in self.replicas:
            rep.now_ms += ms

    @invariant()
    def op_ids_are_unique(self) -> None:
        assert len({op.op_id for op in self.all_ops}) == len(self.all_ops)

    def teardown(self) -> None:
        if not hasattr(self, "replicas"):
            return
        # Heal: deliver everything still in flight, in a shuffled order.
        self.rng.shuffle(self.network)
        for dest, op in self.network:
            self.replicas[dest].receive(op)
        views = [rep.state.quantities() for rep in self.replicas]
        assert views[0] == views[1] == views[2], f"replicas disagree: {views}"
        assert views[0] == oracle(self.all_ops), "converged, but not to the add-wins outcome"
        attrs = [rep.state.attr_values() for rep in self.replicas]
        assert attrs[0] == attrs[1] == attrs[2], f"LWW attributes disagree: {attrs}"
        live_ids = [sorted(e.entry_id for e in rep.state.live()) for rep in self.replicas]
        assert live_ids[0] == live_ids[1] == live_ids[2]


TestConvergence = ConvergenceMachine.TestCase  # examples from the loaded profile (ci: 150; soak: 10,000)
