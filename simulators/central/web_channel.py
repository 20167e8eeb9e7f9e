"""The online shop as a device of the platform's own (``web``): an online edit, a claim's join, an endless-aisle
answer or an online checkout is an op like any device's, with the channel's epoch and next seq, deduped and applied
by the same rules, so the carts' history has one shape whoever wrote it."""

from __future__ import annotations

import sqlite3
import time
import uuid

from edge_agent.domain.basket import BasketCommand, Refused, plan
from edge_agent.domain.cart import effects_of
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from edge_agent.store.db import new_epoch, transaction
from simulators.central.const import WEB_DEVICE
from simulators.platform.sqlite_store import SqliteStore


class WebChannel:
    def __init__(self, epoch: str, clock: HybridClock) -> None:
        self.epoch = epoch
        self._clock = clock

    @classmethod
    def open(cls, conn: sqlite3.Connection, clock: HybridClock) -> WebChannel:
        """The channel's epoch as the database keeps it (a new one, and seq 0, on a new database)."""
        row = conn.execute("SELECT value FROM counters WHERE name = 'web_epoch'").fetchone()
        if row is not None:
            return cls(f"{row[0] << 1:016x}", clock)
        epoch = new_epoch()
        with transaction(conn):
            conn.execute("INSERT INTO counters VALUES ('web_epoch', ?)", (int(epoch, 16) >> 1,))
            conn.execute("INSERT INTO counters VALUES ('web_seq', 0)")
        return cls(epoch, clock)

    def op(self, conn: sqlite3.Connection, command: BasketCommand) -> CartOp:
        """One op of the channel, applied in the caller's transaction."""
        seq = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'web_seq' RETURNING value").fetchone()[0]
        intent = plan(command, carts.live_entries(conn, command.cart_id))
        op = intent.materialise(device=WEB_DEVICE, epoch=self.epoch, seq=seq, uuid=uuid.uuid4(), hlc=self._clock.now())
        conn.execute(
            "INSERT INTO applied_ops VALUES (?, ?, ?, ?, ?)", (op.device, op.epoch, op.seq, op.cart_id, time.time())
        )
        carts.apply_effects(conn, (effects_of(op),))
        port = SqliteStore(conn)
        home = port.cart_home(op.cart_id)
        if home is None:
            raise Refused("unknown_cart", f"cart {op.cart_id} has never been seen from a store")
        port.bump_version(op.cart_id, *home)
        return op
