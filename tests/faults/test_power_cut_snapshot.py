"""Power cut: a snapshot merge is committed without an fsync of its own (DeviceStore.merge_snapshot), so a power
cut may roll it back. The model: a power cut keeps exactly what the last fsync made durable, so the files copied
right after each synchronous=FULL commit (the cart opened, each op recorded) are what the device boots from. The
platform still holds the state the lost snapshot carried and sends it again in answer to the sync request after
the reconnect. Whatever the schedule, the device then ends with the platform's cart and the add-wins oracle, no
saved op is lost, and no op recorded after a merge that survived carries an HLC below the one it observed."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.basket import AddItem, BasketCommand, RemoveItem, SetQuantity, plan
from edge_agent.domain.basket import Refused as PlanRefused
from edge_agent.domain.cart import CartReplica, Effects, effects_of
from edge_agent.domain.hlc import pack
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from edge_agent.store.device import DeviceStore
from tests.unit.test_cart_collection import Platform
from tests.unit.test_cart_convergence import CART, SKUS, oracle

DEVICE = "kiosk-01"
WEB_AHEAD_MS = 60_000
"""The web's clock runs a minute ahead (within the allowed offset), so each merge moves the kiosk's HLC."""
FILES = ("agent.db", "agent.db-wal")


class Kiosk:
    """A real DeviceStore whose durable image is copied after each FULL commit: what a power cut leaves."""

    def __init__(self, root: Path) -> None:
        self.live, self.image = root / "live", root / "image"
        self.live.mkdir()
        self.image.mkdir()
        self.store = DeviceStore.open(self.live / "agent.db", DEVICE)
        self.store.open_cart(CART)
        self.synced()

    def synced(self) -> None:
        """Called right after a synchronous=FULL commit returned: the files now are the durable state."""
        for name in FILES:
            if (self.live / name).exists():
                shutil.copyfile(self.live / name, self.image / name)
            else:
                (self.image / name).unlink(missing_ok=True)

    def power_cut(self) -> None:
        """The process and the page cache are gone: the device boots from the last durable image."""
        self.store.conn.close()  # not DeviceStore.close: a power cut settles nothing
        for name in (*FILES, "agent.db-shm"):
            (self.live / name).unlink(missing_ok=True)
        for name in FILES:
            if (self.image / name).exists():
                shutil.copyfile(self.image / name, self.live / name)
        self.store = DeviceStore.open(self.live / "agent.db", DEVICE)

    def record(self, command: BasketCommand) -> CartOp | None:
        [result] = self.store.record([command])
        self.synced()
        return result.op


class Schedule:
    def __init__(self, root: Path) -> None:
        self.kiosk = Kiosk(root)
        self.platform = Platform()
        self.web = CartReplica(CART)
        self.web_epoch, self.web_seq = uuid.uuid4().hex[:16], 0
        self.all_ops: list[CartOp] = []
        self.hlc_max = 0
        self.observed = 0
        """The newest HLC the kiosk merged in this boot: every op it records next must carry a later one."""

    def kiosk_edit(self, command: BasketCommand) -> None:
        op = self.kiosk.record(command)
        if op is None:
            return
        assert op.hlc > self.observed, "an op recorded after a merge is later than what the merge carried"
        self.all_ops.append(op)
        self._to_platform(op)

    def web_edit(self, command: BasketCommand) -> None:
        try:
            intent = plan(command, self.web.live())
        except PlanRefused:
            return
        self.web_seq += 1
        hlc = pack(time.time_ns() // 1_000_000 + WEB_AHEAD_MS, self.web_seq)
        op = intent.materialise(device="web-01", epoch=self.web_epoch, seq=self.web_seq, uuid=uuid.uuid4(), hlc=hlc)
        self.web.apply(effects_of(op))
        self.all_ops.append(op)
        self._to_platform(op)

    def _to_platform(self, op: CartOp) -> None:
        self.platform.receive(op)
        self.hlc_max = max(self.hlc_max, op.hlc)

    def snapshot(self) -> bool:
        """The platform publishes its state and the kiosk merges it (without an fsync of its own)."""
        version, snap = self.platform.snapshot()
        self.platform.version = version
        self.web.merge_snapshot(version, snap)
        merged = merge(self.kiosk.store, version, snap, self.hlc_max)
        if merged:
            self.observed = max(self.observed, self.hlc_max)
        return merged

    def power_cut(self) -> None:
        durable = max((op.hlc for op in self.all_ops if op.device == DEVICE), default=0)
        self.kiosk.power_cut()
        self.observed = 0
        assert self.kiosk.store.clock.last >= durable, "the HLC never goes below a saved op's after a reboot"


def merge(store: DeviceStore, version: int, snap: Effects, hlc_max: int) -> bool:
    return store.merge_snapshot(CART, version, snap.entries, snap.tombstones, snap.attrs, hlc_max)


@contextmanager
def schedule() -> Iterator[Schedule]:
    root = Path(tempfile.mkdtemp(prefix="power-cut-"))
    s = Schedule(root)
    try:
        yield s
    finally:
        s.kiosk.store.conn.close()
        shutil.rmtree(root, ignore_errors=True)


def test_a_merge_lost_to_a_power_cut_is_merged_again_when_the_platform_resends_it() -> None:
    with schedule() as s:
        s.kiosk_edit(AddItem(CART, SKUS[0]))
        s.web_edit(AddItem(CART, SKUS[1], 2))
        s.kiosk_edit(RemoveItem(CART, SKUS[0]))  # a local tombstone the snapshot confirms: collected by the merge
        assert s.snapshot()
        version = s.kiosk.store.snapshot_version(CART)
        assert s.kiosk.store.quantities(CART) == {SKUS[1]: 2}
        assert not carts.tombstones(s.kiosk.store.conn, CART), "the merge collected the confirmed removal"

        s.power_cut()
        store = s.kiosk.store
        assert store.snapshot_version(CART) == 0 and store.quantities(CART) == {}, "the merge rolled back whole"
        assert carts.tombstones(store.conn, CART), "with it the collection: the local tombstone hides the entry again"

        assert s.snapshot(), "the resent snapshot is not stale: the version rolled back with the merge"
        assert store.snapshot_version(CART) is not None and store.snapshot_version(CART) >= (version or 0)
        assert store.quantities(CART) == {SKUS[1]: 2} == s.platform.state.quantities()
        assert not carts.tombstones(store.conn, CART)


def test_an_op_recorded_after_a_merge_makes_the_merge_durable_with_it() -> None:
    with schedule() as s:
        s.web_edit(AddItem(CART, SKUS[1]))
        assert s.snapshot()
        merged = s.kiosk.store.snapshot_version(CART)
        s.kiosk_edit(AddItem(CART, SKUS[0]))  # FULL: syncs the WAL, the merge's frames included
        s.power_cut()
        assert merged and s.kiosk.store.snapshot_version(CART) == merged
        assert s.kiosk.store.quantities(CART) == {SKUS[0]: 1, SKUS[1]: 1}
        assert s.kiosk.store.clock.last >= s.hlc_max, "the saved op carries the HLC the merge observed"


STEP = st.one_of(
    st.tuples(st.just("kiosk_add"), st.sampled_from(SKUS), st.integers(1, 3)),
    st.tuples(st.just("web_add"), st.sampled_from(SKUS), st.integers(1, 3)),
    st.tuples(st.sampled_from(["kiosk_remove", "web_remove"]), st.sampled_from(SKUS), st.just(0)),
    st.tuples(st.sampled_from(["kiosk_set", "web_set"]), st.sampled_from(SKUS), st.integers(0, 4)),
    st.tuples(st.sampled_from(["snapshot", "power_cut"]), st.just(""), st.just(0)),
)


@given(steps=st.lists(STEP, max_size=25))
def test_any_schedule_of_edits_merges_and_power_cuts_converges_after_the_platform_resends(
    steps: list[tuple[str, str, int]],
) -> None:
    with schedule() as s:
        for kind, sku, qty in steps:
            who, _, what = kind.partition("_")
            if kind in ("snapshot", "power_cut"):
                getattr(s, kind)()
                continue
            command: BasketCommand = (
                AddItem(CART, sku, qty)
                if what == "add"
                else RemoveItem(CART, sku)
                if what == "remove"
                else SetQuantity(CART, sku, qty)
            )
            (s.kiosk_edit if who == "kiosk" else s.web_edit)(command)
        s.power_cut()  # and the sync request's answer: the platform's current state
        assert s.snapshot()
        store = s.kiosk.store
        assert store.quantities(CART) == s.platform.state.quantities() == oracle(s.all_ops)
        lost = [op.op_id for op in s.all_ops if op.device == DEVICE and not store.unconfirmed(op.op_id)]
        assert not lost, "every op the kiosk saved is still in its outbox, to go until the platform confirms it"
        entries = {e.entry_id for e in carts.all_entries(store.conn, CART)}
        assert not carts.tombstones(store.conn, CART) and entries == {e.entry_id for e in store.live_entries(CART)}
