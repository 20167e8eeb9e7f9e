"""Property: devices that collect removed entries and tombstones at any moment -- between any two deliveries of
ops to the platform and of the platform's snapshots to them, each duplicated, reordered and delayed -- never
show a removed line again, and still end with the platform's cart, which is what the add-wins rule says.

The topology is the real one: a device's ops go up to the platform (inbox dedupe by op id), and a device learns
other devices' edits only from the platform's versioned snapshots (live entries, every tombstone, attributes).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge_agent.domain.basket import AddItem, BasketCommand, ClearCart, RemoveItem, SetAttribute, SetQuantity, plan
from edge_agent.domain.basket import Refused as PlanRefused
from edge_agent.domain.cart import CartReplica, Effects, effects_of
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp
from tests.unit.test_cart_convergence import BASE_MS, CART, HOUR_MS, SKUS, oracle

DEVICES = 3


@dataclass
class Platform:
    """The authority: applies each op once, and its cart version moves with every op it applies."""

    state: CartReplica = field(default_factory=lambda: CartReplica(CART))
    applied: set[str] = field(default_factory=set)
    version: int = 0

    def receive(self, op: CartOp) -> None:
        if op.op_id not in self.applied:
            self.applied.add(op.op_id)
            self.state.apply(effects_of(op))
            self.version += 1

    def snapshot(self) -> tuple[int, Effects]:
        """As simulators/central publishes it: live entries only, every tombstone, the attributes."""
        s = self.state
        return self.version + 1, Effects(CART, tuple(s.live()), tuple(s.tombstones), tuple(s.attrs.values()))


@dataclass
class Device:
    name: str
    skew_ms: int
    epoch: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    seq: int = 0
    state: CartReplica = field(default_factory=lambda: CartReplica(CART))
    removed: set[str] = field(default_factory=set)
    """Every entry once live here and then not: none may ever be live here again."""
    was_live: set[str] = field(default_factory=set)
    now_ms: int = BASE_MS
    clock: HybridClock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = HybridClock(lambda: self.now_ms + self.skew_ms)

    def live_ids(self) -> set[str]:
        return {e.entry_id for e in self.state.live()}

    def observe(self) -> None:
        live = self.live_ids()
        resurrected = self.removed & live
        assert not resurrected, f"{self.name}: removed entries live again: {sorted(resurrected)}"
        self.removed |= self.was_live - live
        self.was_live = live


class CollectionMachine(RuleBasedStateMachine):
    @initialize(skews=st.lists(st.integers(-HOUR_MS, HOUR_MS), min_size=DEVICES, max_size=DEVICES), seed=st.integers())
    def setup(self, skews: list[int], seed: int) -> None:
        self.devices = [Device(f"dev-{i}", skew) for i, skew in enumerate(skews)]
        self.platform = Platform()
        self.uplink: list[CartOp] = []
        self.downlink: list[tuple[int, int, Effects]] = []
        self.all_ops: list[CartOp] = []
        self.rng = random.Random(seed)

    def _issue(self, d: int, command: BasketCommand) -> None:
        dev = self.devices[d]
        try:
            intent = plan(command, dev.state.live())
        except PlanRefused:
            return
        dev.seq += 1
        op = intent.materialise(device=dev.name, epoch=dev.epoch, seq=dev.seq, uuid=uuid.uuid4(), hlc=dev.clock.now())
        self.all_ops.append(op)
        dev.state.apply(effects_of(op))
        dev.observe()
        self.uplink.append(op)

    @rule(d=st.integers(0, DEVICES - 1), sku=st.sampled_from(SKUS), qty=st.integers(1, 3))
    def add(self, d: int, sku: str, qty: int) -> None:
        self._issue(d, AddItem(CART, sku, qty))

    @rule(d=st.integers(0, DEVICES - 1), sku=st.sampled_from(SKUS))
    def remove(self, d: int, sku: str) -> None:
        self._issue(d, RemoveItem(CART, sku))

    @rule(d=st.integers(0, DEVICES - 1), sku=st.sampled_from(SKUS), qty=st.integers(0, 4))
    def set_qty(self, d: int, sku: str, qty: int) -> None:
        self._issue(d, SetQuantity(CART, sku, qty))

    @rule(d=st.integers(0, DEVICES - 1))
    def clear(self, d: int) -> None:
        self._issue(d, ClearCart(CART))

    @rule(d=st.integers(0, DEVICES - 1), value=st.sampled_from(["store-1", "store-2", None]))
    def set_pickup_store(self, d: int, value: str | None) -> None:
        self._issue(d, SetAttribute(CART, "pickup_store", value))

    @precondition(lambda self: bool(self.uplink))
    @rule(pick=st.integers(0, 10_000), duplicate=st.booleans())
    def deliver_op(self, pick: int, duplicate: bool) -> None:
        """Any op, not the oldest (reordering); kept queued, it arrives again later (duplication)."""
        index = pick % len(self.uplink)
        self.platform.receive(self.uplink[index] if duplicate else self.uplink.pop(index))

    @rule(d=st.integers(0, DEVICES - 1))
    def platform_snapshots(self, d: int) -> None:
        version, snap = self.platform.snapshot()
        self.platform.version = version
        self.downlink.append((d, version, snap))

    @precondition(lambda self: bool(self.downlink))
    @rule(pick=st.integers(0, 10_000), duplicate=st.booleans())
    def deliver_snapshot(self, pick: int, duplicate: bool) -> None:
        """Snapshots arrive late, twice and out of order: an older one than the device holds is stale."""
        index = pick % len(self.downlink)
        d, version, snap = self.downlink[index] if duplicate else self.downlink.pop(index)
        dev = self.devices[d]
        dev.state.merge_snapshot(version, snap)
        dev.observe()

    @rule(d=st.integers(0, DEVICES - 1))
    def collect(self, d: int) -> None:
        dev = self.devices[d]
        before = (dev.state.quantities(), dev.live_ids(), dev.state.attr_values())
        dev.state.collect()
        assert (dev.state.quantities(), dev.live_ids(), dev.state.attr_values()) == before, "collection changed a view"
        dev.observe()

    @rule(d=st.integers(0, DEVICES - 1))
    def recreate_database(self, d: int) -> None:
        """A device's database is lost (its ops were sent before): new epoch, the cart back from a snapshot."""
        old = self.devices[d]
        self.devices[d] = Device(old.name, old.skew_ms, now_ms=old.now_ms)
        self.downlink = [m for m in self.downlink if m[0] != d]

    @rule(ms=st.integers(1, 120_000))
    def time_passes(self, ms: int) -> None:
        for dev in self.devices:
            dev.now_ms += ms

    @invariant()
    def collected_state_stays_within_what_the_view_needs(self) -> None:
        for dev in getattr(self, "devices", []):
            assert dev.state.confirmed <= dev.state.tombstones, "only held removals are marked confirmed"

    def teardown(self) -> None:
        if not hasattr(self, "devices"):
            return
        # Heal: every op reaches the platform (shuffled), a fresh snapshot reaches every device, each collects.
        self.rng.shuffle(self.uplink)
        for op in self.uplink:
            self.platform.receive(op)
        for dev in self.devices:
            version, snap = self.platform.snapshot()
            self.platform.version = version
            assert dev.state.merge_snapshot(version, snap)
            dev.observe()
            dev.state.collect()
            dev.observe()
        expected = oracle(self.all_ops)
        assert self.platform.state.quantities() == expected, "the platform is not the add-wins outcome"
        for dev in self.devices:
            assert dev.state.quantities() == expected, f"{dev.name} disagrees with the platform"
            assert dev.live_ids() == {e.entry_id for e in self.platform.state.live()}
            assert dev.state.attr_values() == self.platform.state.attr_values()
            # Everything removed was confirmed, so nothing but the live entries is left: the store stops growing.
            assert not dev.state.tombstones, f"{dev.name} kept {len(dev.state.tombstones)} tombstones"
            assert set(dev.state.entries) == dev.live_ids()


TestCollection = CollectionMachine.TestCase  # examples from the loaded profile (ci: 150; soak: 10,000)


# --- the schedules that would resurrect a line under a weaker rule, spelled out --------------------------------
def _kiosk_adds_then_removes() -> tuple[Device, Platform, CartOp, CartOp]:
    kiosk, platform = Device("kiosk", 0), Platform()
    ops = []
    for command in (AddItem(CART, SKUS[0]), RemoveItem(CART, SKUS[0])):
        kiosk.seq += 1
        op = plan(command, kiosk.state.live()).materialise(
            device=kiosk.name, epoch=kiosk.epoch, seq=kiosk.seq, uuid=uuid.uuid4(), hlc=kiosk.clock.now()
        )
        kiosk.state.apply(effects_of(op))
        ops.append(op)
    return kiosk, platform, ops[0], ops[1]


def test_a_removal_the_platform_has_not_confirmed_is_kept_so_a_snapshot_listing_the_line_cannot_bring_it_back() -> None:
    kiosk, platform, add, remove = _kiosk_adds_then_removes()
    platform.receive(add)  # the remove is still on its way
    version, snap = platform.snapshot()
    assert kiosk.state.collect() == 0, "nothing the platform confirmed yet"
    kiosk.state.merge_snapshot(version, snap)
    assert kiosk.state.quantities() == {}
    assert remove.observed[0] in kiosk.state.tombstones


def test_a_confirmed_removal_goes_with_its_entry_and_an_older_snapshot_arriving_late_is_stale() -> None:
    kiosk, platform, add, remove = _kiosk_adds_then_removes()
    platform.receive(add)
    old_version, old_snap = platform.snapshot()
    platform.version = old_version
    platform.receive(remove)
    version, snap = platform.snapshot()
    assert kiosk.state.merge_snapshot(version, snap)
    assert kiosk.state.collect() == 1
    assert not kiosk.state.entries and not kiosk.state.tombstones
    assert not kiosk.state.merge_snapshot(old_version, old_snap), "the snapshot that still listed the line is stale"
    assert kiosk.state.quantities() == {}


def test_a_snapshot_tombstone_naming_an_entry_this_device_never_held_is_not_kept() -> None:
    _, platform, add, remove = _kiosk_adds_then_removes()
    platform.receive(add)
    platform.receive(remove)
    fresh = Device("kiosk", 0)  # the database was recreated: the cart comes back from the snapshot alone
    version, snap = platform.snapshot()
    assert fresh.state.merge_snapshot(version, snap)
    assert not fresh.state.tombstones and not fresh.state.entries
