"""The platform's apply rules (simulators/platform/apply.py), the same specification over both storage adapters:
the central simulator's SQLite and the workers' PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from edge_agent.contract.cart import OpsBatch
from edge_agent.contract.codec import Rejected
from edge_agent.domain.basket import AddItem, BasketCommand, RemoveItem, RequestCheckout, plan
from edge_agent.domain.cart import quantities
from edge_agent.domain.ops import CartOp
from edge_agent.store.db import connect, migrate, transaction
from edge_agent.store.schema import PLATFORM_MIGRATIONS
from simulators.platform import apply as rules
from simulators.platform.pg_store import PgStore, create_schema
from simulators.platform.port import PlatformStore
from simulators.platform.sqlite_store import SqliteStore

EPOCH = "00000000000000aa"
SKU_A, SKU_B = "00000000000017", "00000000000024"


class Platform:
    """One adapter and its transaction: what a platform process holds."""

    def __init__(self, port: PlatformStore, tx: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.port, self.tx = port, tx

    def apply(self, batch: OpsBatch, tenant: str = "t1", store: str = "s1") -> rules.Applied:
        with self.tx():
            return rules.apply_batch(self.port, (), tenant, store, batch.device, batch)

    def cart(self, cart_id: str) -> dict[str, int]:
        with self.tx():
            return quantities(self.port.live_entries(cart_id))

    def version(self, cart_id: str) -> int | None:
        with self.tx():
            return self.port.cart_version(cart_id)

    def watermark(self, device: str) -> list[tuple[int, list[int]]]:
        with self.tx():
            return [(m.applied_upto, m.applied_above) for m in rules.watermark_of(self.port, device, 0).watermarks]


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    if request.param == "sqlite":
        conn = connect(tmp_path / "central.db")
        migrate(conn, PLATFORM_MIGRATIONS)
        yield Platform(SqliteStore(conn), lambda: transaction(conn))
        conn.close()
    else:
        pg = psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True)
        create_schema(pg)
        yield Platform(PgStore(pg), pg.transaction)
        pg.close()


class Device:
    """Ops as an agent makes them, with its own view of the cart."""

    def __init__(self, device: str = "d-1") -> None:
        self.device, self.seq, self.hlc = device, 0, 1_000

    def op(self, command: BasketCommand, live: list[Any] | None = None) -> CartOp:
        self.seq += 1
        self.hlc += 1
        return plan(command, live or []).materialise(
            device=self.device, epoch=EPOCH, seq=self.seq, uuid=uuid.uuid4(), hlc=self.hlc
        )

    def batch(self, *ops: CartOp) -> OpsBatch:
        return OpsBatch(device=self.device, epoch=EPOCH, ops=list(ops), hlc_max=max(o.hlc for o in ops))


def test_a_batch_delivered_twice_is_applied_once(platform: Platform) -> None:
    dev = Device()
    batch = dev.batch(dev.op(AddItem("c-1", SKU_A, 2)), dev.op(AddItem("c-1", SKU_B)))
    first = platform.apply(batch)
    again = platform.apply(batch)
    assert (len(first.new_ops), first.duplicates) == (2, 0)
    assert (len(again.new_ops), again.duplicates) == (0, 2)
    assert platform.cart("c-1") == {SKU_A: 2, SKU_B: 1}
    assert platform.version("c-1") == 1, "a duplicate batch touches no cart"
    assert platform.watermark("d-1") == [(2, [])]


def test_a_resend_cut_differently_dedupes_per_op(platform: Platform) -> None:
    dev = Device()
    ops = [dev.op(AddItem("c-1", SKU_A)) for _ in range(4)]
    platform.apply(dev.batch(*ops[:2]))
    resent = platform.apply(dev.batch(*ops[1:]))
    assert (len(resent.new_ops), resent.duplicates) == (2, 1)
    assert platform.cart("c-1") == {SKU_A: 4}


def test_the_watermark_is_contiguous_plus_the_seqs_above_a_gap(platform: Platform) -> None:
    dev = Device()
    ops = [dev.op(AddItem("c-1", SKU_A)) for _ in range(4)]
    platform.apply(dev.batch(ops[0], ops[1], ops[3]))
    assert platform.watermark("d-1") == [(2, [4])]
    platform.apply(dev.batch(ops[2]))
    assert platform.watermark("d-1") == [(4, [])]


def test_a_remove_tombstones_what_it_observed_and_each_batch_bumps_the_version(platform: Platform) -> None:
    dev = Device()
    add = dev.op(AddItem("c-1", SKU_A))
    platform.apply(dev.batch(add))
    with platform.tx():
        live = platform.port.live_entries("c-1")
    platform.apply(dev.batch(dev.op(RemoveItem("c-1", SKU_A), live)))
    assert platform.cart("c-1") == {}
    assert platform.version("c-1") == 2


def test_checkout_seals_once(platform: Platform) -> None:
    dev = Device()
    platform.apply(dev.batch(dev.op(AddItem("c-1", SKU_A))))
    with platform.tx():
        live = platform.port.live_entries("c-1")
    first = platform.apply(dev.batch(dev.op(RequestCheckout("c-1"), live)))
    second = platform.apply(dev.batch(dev.op(RequestCheckout("c-1"), live)))
    assert (first.sealed, second.sealed, second.already_sealed) == (1, 0, 1)
    with platform.tx():
        snap = rules.snapshot_of(platform.port, "c-1", 0)
    assert snap.sealed is not None and snap.sealed.entry_ids == [e.entry_id for e in live]


def test_another_devices_cart_is_held_not_applied(platform: Platform) -> None:
    owner, other = Device("d-1"), Device("d-2")
    platform.apply(owner.batch(owner.op(AddItem("c-1", SKU_A))))
    applied = platform.apply(other.batch(other.op(AddItem("c-1", SKU_B))))
    assert applied.held == {"not_cart_owner": 1} and applied.new_ops == []
    assert platform.cart("c-1") == {SKU_A: 1}
    assert platform.watermark("d-2") == [(1, [])], "held is kept durably: the device may forget it"


def test_impersonation_and_a_second_store_are_rejected_with_nothing_recorded(platform: Platform) -> None:
    dev = Device("d-1")
    platform.apply(dev.batch(dev.op(AddItem("c-1", SKU_A))))
    forged = dev.batch(dev.op(AddItem("c-1", SKU_A)))
    with pytest.raises(Rejected) as impersonation:
        platform.apply(forged.model_copy(update={"device": "d-9"}))
    with pytest.raises(Rejected) as moved:
        platform.apply(forged, store="s2")
    assert (impersonation.value.reason, moved.value.reason) == ("impersonation", "wrong_store")
    assert platform.cart("c-1") == {SKU_A: 1}
    assert platform.watermark("d-1") == [(1, [])]


def test_ops_for_an_erased_cart_are_acknowledged_and_never_applied_held_or_adopted(platform: Platform) -> None:
    dev, other = Device("d-1"), Device("d-2")
    platform.apply(dev.batch(dev.op(AddItem("c-1", SKU_A))))
    with platform.tx():
        platform.port.record_erased("c-1")
        platform.port.record_erased("c-9")
    late = platform.apply(dev.batch(dev.op(AddItem("c-1", SKU_B)), dev.op(AddItem("c-2", SKU_A))))
    assert late.for_erased_carts == 1 and [op.cart_id for op in late.new_ops] == ["c-2"]
    assert late.touched == {"c-2"} and platform.version("c-1") == 1, "the erased cart is not bumped"
    assert platform.watermark("d-1") == [(3, [])], "acknowledged: the device may forget the op"
    foreign = platform.apply(other.batch(other.op(AddItem("c-1", SKU_A)), other.op(AddItem("c-9", SKU_A))))
    assert (foreign.for_erased_carts, dict(foreign.held), foreign.new_ops) == (2, {}, [])
    with platform.tx():
        assert platform.port.owner_of("c-9") is None, "nobody adopts an erased cart id"
        assert platform.port.erased_among(["c-1", "c-2", "c-9"]) == {"c-1", "c-9"}
    assert platform.cart("c-2") == {SKU_A: 1}


def test_erasing_a_shopper_in_postgres_deletes_the_cart_and_its_credentials_in_one_transaction(pg_dsn: str) -> None:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    create_schema(conn)
    pg = Platform(PgStore(conn), conn.transaction)
    dev = Device("d-1")
    pg.apply(dev.batch(dev.op(AddItem("c-1", SKU_A)), dev.op(AddItem("c-2", SKU_B))))
    other = Device("d-2")
    assert pg.apply(other.batch(other.op(AddItem("c-1", SKU_B)))).held == {"not_cart_owner": 1}
    store = PgStore(conn)
    with conn.transaction():
        store.record_issued("c-1", "fp-1")
        store.record_issued("c-2", "fp-2")
    with conn.transaction():
        store.erase_shopper("c-1")
    late = pg.apply(dev.batch(dev.op(AddItem("c-1", SKU_A))))
    assert (pg.cart("c-1"), pg.version("c-1"), late.for_erased_carts) == ({}, None, 1)
    with conn.transaction():
        assert (store.issued_fingerprints("c-1"), store.issued_fingerprints("c-2")) == ([], ["fp-2"])
        held = conn.execute("SELECT count(*) FROM held_ops WHERE cart_id = 'c-1'").fetchone()
    assert held == (0,), "the shopper's held ops go too"
    assert pg.cart("c-2") == {SKU_B: 1}, "another cart is untouched"
    conn.close()
