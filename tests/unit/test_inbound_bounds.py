"""Every inbound message is accepted or rejected with a counted reason, never a traceback, and a rejected message
leaves the store exactly as it was; the clock cannot be pushed (issue 10)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from edge_agent.contract.base import CloudEvent
from edge_agent.contract.cart import AppliedWatermark
from edge_agent.contract.codec import Route
from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import AddItem
from edge_agent.domain.const import CLOCK_FLOOR_MS, MAX_WIRE_INT
from edge_agent.domain.hlc import HybridClock, pack, wall_ms_of
from edge_agent.store.device import DeviceStore
from edge_agent.sync.inbound import InboundRouter

TOPICS = Topics("acme", "s042", "kiosk-01")
CART = "kiosk-01-basket"
NOW_MS = 1_796_000_000_000  # 2026-12
SKU = "04006381333931"


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": "urn:x",
        "id": "1",
        "time": "2026-12-02T10:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def templates(epoch: str) -> list[tuple[str, dict[str, Any]]]:
    """One valid message per inbound topic of the router, to mutate."""
    entry = {"entry_id": f"web:{epoch}:1", "sku": SKU, "qty": 2, "hlc": pack(NOW_MS, 0), "origin_device": "web"}
    attr = {"key": "note", "value": "hi", "hlc": 5, "device": "web", "op_id": f"web:{epoch}:2"}
    item = {"gtin14": SKU, "version": 2, "name": "Socks", "price_minor": 499, "currency": "EUR", "stock": 3}
    return [
        (
            TOPICS.acks,
            envelope(
                "com.edgeagent.cart.applied.v1",
                {"device": "kiosk-01", "watermarks": [{"epoch": epoch, "applied_upto": 1}], "hlc": pack(NOW_MS, 1)},
            ),
        ),
        (
            TOPICS.cart_state(CART),
            envelope(
                "com.edgeagent.cart.snapshot.v1",
                {
                    "cart_id": CART,
                    "version": 3,
                    "entries": [entry],
                    "tombstones": [],
                    "attrs": [attr],
                    "hlc_max": pack(NOW_MS, 2),
                },
            ),
        ),
        (TOPICS.catalog, envelope("com.edgeagent.catalog.update.v1", {"version": 2, "items": [item]})),
        (TOPICS.erasure, envelope("com.edgeagent.privacy.erasure.v1", {"request_id": "r1", "carts": ["profile-1"]})),
    ]


HOSTILE_INTS = [-1, 0, 2**31, 2**53 + 1, MAX_WIRE_INT, MAX_WIRE_INT + 1, 2**64 + 5, 10**40]
HUGE_DIGITS = "HUGE-DIGITS"
"""Spliced into the JSON text as a 5,000-digit integer (json.dumps cannot write one above 4,300 digits)."""

hostile_values = st.one_of(
    st.sampled_from(HOSTILE_INTS),
    st.just(HUGE_DIGITS),
    st.text(max_size=20),
    st.text(min_size=300, max_size=2000),
    st.sampled_from(["\ud800", "\x00", "🛒" * 100, "a/b/#/+", "", " "]),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
    st.integers(min_value=1, max_value=40).map(lambda depth: json.loads("[" * depth + "]" * depth)),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def digest(conn: sqlite3.Connection) -> str:
    """Everything a message could change, except the rejects ring that records the rejection itself."""
    tables = ["carts", "cart_entries", "cart_tombstones", "cart_attrs", "cart_seals", "outbox", "catalog_items", "meta"]
    rows = [sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in tables]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@contextmanager
def a_store() -> Iterator[DeviceStore]:
    with tempfile.TemporaryDirectory() as tmp:
        store = DeviceStore.open(Path(tmp) / "d.db", "kiosk-01", wall_ms=lambda: NOW_MS)
        try:
            store.record([AddItem(CART, SKU)])
            yield store
        finally:
            store.close()


def confirm(store: DeviceStore, watermark: AppliedWatermark) -> None:
    for mark in watermark.watermarks:
        store.confirm(mark.epoch, mark.applied_upto, mark.applied_above)


@given(data=st.data())
def test_any_mutation_of_an_inbound_message_is_accepted_or_a_counted_reject_that_changes_nothing(
    data: st.DataObject,
) -> None:
    with a_store() as store:
        router = InboundRouter(store, TOPICS, lambda wm: confirm(store, wm), on_erasure=lambda _request: None)
        topic, message = data.draw(st.sampled_from(templates(store.epoch)))
        path = data.draw(st.sampled_from(list(paths(message))))
        mutated = replaced(message, path, data.draw(hostile_values))
        text = json.dumps(mutated).replace(f'"{HUGE_DIGITS}"', "9" * 5000)
        before = digest(store.conn)
        router.handle(topic, text.encode())
        outcome = sum(router.accepted.values()) + sum(router.rejected.values())
        assert outcome >= 1, "every message is accounted for"
        if not router.accepted:
            assert digest(store.conn) == before, f"a rejected message changed the store: {dict(router.rejected)}"
        assert wall_ms_of(store.clock.last) <= NOW_MS + 300_000, "the clock was pushed"


@given(depth=st.integers(min_value=900, max_value=100_000), topic=st.sampled_from([TOPICS.acks, TOPICS.catalog]))
def test_deep_nesting_is_a_counted_reject(depth: int, topic: str) -> None:
    with a_store() as store:
        router = InboundRouter(store, TOPICS, lambda wm: confirm(store, wm), on_erasure=lambda _request: None)
        router.handle(topic, b'{"a":' * depth + b"1" + b"}" * depth)
        assert sum(router.rejected.values()) == 1 and not router.accepted


def test_a_remote_clock_beyond_the_offset_is_not_adopted_and_one_within_it_is() -> None:
    clock = HybridClock(lambda: NOW_MS, max_ahead_ms=300_000)
    assert not clock.observe_remote(pack(NOW_MS + 300_001, 0))
    assert clock.last == 0
    assert clock.observe_remote(pack(NOW_MS + 299_000, 0))
    assert wall_ms_of(clock.last) == NOW_MS + 299_000


def test_an_unsynchronised_wall_clock_measures_the_offset_from_the_best_time_it_knows() -> None:
    booted_at_1970 = 5_000
    clock = HybridClock(lambda: booted_at_1970, last=pack(NOW_MS, 0), max_ahead_ms=300_000)
    assert clock.observe_remote(pack(NOW_MS + 60_000, 0)), "the platform a minute past the stored clock: adopted"
    assert not clock.observe_remote(pack(NOW_MS + 86_400_000, 0))
    assert not HybridClock(lambda: booted_at_1970, max_ahead_ms=300_000).observe_remote(
        pack(CLOCK_FLOOR_MS + 86_400_000, 0)
    )


def _poison(path: Path, value: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (str(value),))
    conn.close()


def test_a_poisoned_stored_clock_is_reset_at_start_and_the_next_scan_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    DeviceStore.open(path, "kiosk-01", wall_ms=lambda: NOW_MS).close()
    for poisoned in (2**64 + 5, pack(NOW_MS + 86_400_000, 0)):
        _poison(path, poisoned)
        store = DeviceStore.open(path, "kiosk-01", wall_ms=lambda: NOW_MS)
        try:
            [recorded] = store.record([AddItem(CART, SKU)])
            assert recorded.op is not None and wall_ms_of(recorded.op.hlc) == NOW_MS
        finally:
            store.close()


def test_a_stored_clock_ahead_of_an_unsynchronised_wall_clock_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    DeviceStore.open(path, "kiosk-01", wall_ms=lambda: NOW_MS).close()
    _poison(path, pack(NOW_MS, 7))
    store = DeviceStore.open(path, "kiosk-01", wall_ms=lambda: 5_000)  # a Pi without RTC, booted at 1970
    try:
        assert store.clock.last == pack(NOW_MS, 7)
    finally:
        store.close()


class Ping(BaseModel):
    n: int


def test_a_route_added_after_messages_arrived_takes_the_next_message_on_its_topic() -> None:
    with a_store() as store:
        router = InboundRouter(store, TOPICS, lambda wm: confirm(store, wm))
        message = json.dumps(envelope("com.example.ping.v1", {"n": 1})).encode()
        router.handle(TOPICS.ui, message)
        assert router.rejected["unknown_topic"] == 1
        seen: list[object] = []
        router.add([Route(TOPICS.ui, {"com.example.ping.v1": (CloudEvent[Ping], lambda _t, d: seen.append(d))})])
        router.handle(TOPICS.ui, message)
        router.handle(TOPICS.ui, message)
        assert seen == [Ping(n=1), Ping(n=1)] and router.rejected["unknown_topic"] == 1
