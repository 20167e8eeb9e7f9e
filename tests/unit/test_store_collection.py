"""The device store collects what the platform confirmed, exactly as the domain rule says (docs/cart-rule.md,
Collection): a real SQLite store and an in-memory replica, fed the same ops and the same late, duplicated and
reordered snapshots, hold the same rows -- and the store never shows a removed line again."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge_agent.domain.basket import AddItem, BasketCommand, ClearCart, RemoveItem, SetQuantity, plan
from edge_agent.domain.basket import Refused as PlanRefused
from edge_agent.domain.cart import CartReplica, Effects, effects_of
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from edge_agent.store.device import DeviceStore
from tests.unit.test_cart_collection import Device, Platform
from tests.unit.test_cart_convergence import CART, SKUS, oracle


def merge(store: DeviceStore, version: int, snap: Effects) -> bool:
    return store.merge_snapshot(CART, version, snap.entries, snap.tombstones, snap.attrs, hlc_max=0)


def rows(store: DeviceStore) -> tuple[set[str], set[str]]:
    """Every entry row and tombstone row the store holds for the cart (dead ones included; entries held in their
    outbox rows included: store/held.py)."""
    return {e.entry_id for e in store.all_entries(CART)}, set(carts.tombstones(store.conn, CART))


class StoreCollectionMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gc-store-"))
        self.store = DeviceStore.open(self.dir / "agent.db", "kiosk-01")
        self.store.open_cart(CART)
        self.model = CartReplica(CART)
        """The domain rule, collecting right after each merge as the store does."""
        self.web = Device("web-01", 0)
        self.platform = Platform()
        self.uplink: list[CartOp] = []
        self.downlink: list[tuple[str, int, Effects]] = []
        self.all_ops: list[CartOp] = []
        self.removed: set[str] = set()
        self.was_live: set[str] = set()

    def _kiosk(self, command: BasketCommand) -> None:
        [result] = self.store.record([command])
        if result.op is not None:
            self.model.apply(effects_of(result.op))
            self.all_ops.append(result.op)
            self.uplink.append(result.op)

    def _web(self, command: BasketCommand) -> None:
        web = self.web
        try:
            intent = plan(command, web.state.live())
        except PlanRefused:
            return
        web.seq += 1
        op = intent.materialise(device=web.name, epoch=web.epoch, seq=web.seq, uuid=uuid.uuid4(), hlc=web.seq)
        web.state.apply(effects_of(op))
        self.all_ops.append(op)
        self.uplink.append(op)

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(1, 3), at_kiosk=st.booleans())
    def add(self, sku: str, qty: int, at_kiosk: bool) -> None:
        (self._kiosk if at_kiosk else self._web)(AddItem(CART, sku, qty))

    @rule(sku=st.sampled_from(SKUS), at_kiosk=st.booleans())
    def remove(self, sku: str, at_kiosk: bool) -> None:
        (self._kiosk if at_kiosk else self._web)(RemoveItem(CART, sku))

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(0, 4), at_kiosk=st.booleans())
    def set_qty(self, sku: str, qty: int, at_kiosk: bool) -> None:
        (self._kiosk if at_kiosk else self._web)(SetQuantity(CART, sku, qty))

    @rule(at_kiosk=st.booleans())
    def clear(self, at_kiosk: bool) -> None:
        (self._kiosk if at_kiosk else self._web)(ClearCart(CART))

    @precondition(lambda self: bool(self.uplink))
    @rule(pick=st.integers(0, 10_000), duplicate=st.booleans())
    def deliver_op(self, pick: int, duplicate: bool) -> None:
        index = pick % len(self.uplink)
        self.platform.receive(self.uplink[index] if duplicate else self.uplink.pop(index))

    @rule(to_kiosk=st.booleans())
    def platform_snapshots(self, to_kiosk: bool) -> None:
        version, snap = self.platform.snapshot()
        self.platform.version = version
        self.downlink.append(("kiosk" if to_kiosk else "web", version, snap))

    @precondition(lambda self: bool(self.downlink))
    @rule(pick=st.integers(0, 10_000), duplicate=st.booleans())
    def deliver_snapshot(self, pick: int, duplicate: bool) -> None:
        index = pick % len(self.downlink)
        to, version, snap = self.downlink[index] if duplicate else self.downlink.pop(index)
        if to == "web":
            self.web.state.merge_snapshot(version, snap)
            self.web.state.collect()
            return
        merged = merge(self.store, version, snap)
        assert merged == self.model.merge_snapshot(version, snap), "the store and the rule disagree on staleness"
        self.model.collect()

    @invariant()
    def the_store_holds_what_the_rule_holds_and_nothing_removed_comes_back(self) -> None:
        if not hasattr(self, "store"):
            return
        assert rows(self.store) == (set(self.model.entries), self.model.tombstones)
        live = {e.entry_id for e in self.store.live_entries(CART)}
        assert not self.removed & live, f"removed entries live again: {sorted(self.removed & live)}"
        self.removed |= self.was_live - live
        self.was_live = live

    def teardown(self) -> None:
        if not hasattr(self, "store"):
            return
        try:
            for op in self.uplink:
                self.platform.receive(op)
            version, snap = self.platform.snapshot()
            assert merge(self.store, version, snap)
            assert self.store.quantities(CART) == oracle(self.all_ops) == self.platform.state.quantities()
            entries, tombstones = rows(self.store)
            assert not tombstones and entries == {e.entry_id for e in self.store.live_entries(CART)}
        finally:
            self.store.close()
            shutil.rmtree(self.dir, ignore_errors=True)


TestStoreCollection = StoreCollectionMachine.TestCase


def test_a_snapshot_confirming_a_removal_leaves_no_row_of_it_and_the_basket_unchanged(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.open_cart(CART)
    platform = Platform()
    for command in (AddItem(CART, SKUS[0]), AddItem(CART, SKUS[1]), RemoveItem(CART, SKUS[0])):
        [result] = store.record([command])
        assert result.op is not None
        platform.receive(result.op)
    assert rows(store) == ({e.entry_id for e in carts.all_entries(store.conn, CART)}, set(platform.state.tombstones))
    version, snap = platform.snapshot()
    assert merge(store, version, snap)
    assert store.quantities(CART) == {SKUS[1]: 1}
    entries, tombstones = rows(store)
    assert len(entries) == 1 and not tombstones
