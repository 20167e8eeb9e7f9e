"""One platform worker: device uplinks from a JetStream durable pull consumer, applied to PostgreSQL.

Any number of these run as independent processes over one database (scale note §0.2-0.3):

- **Work distribution is the engine's**: every worker fetches from the same durable consumer on the
  ``PLATFORM_UPLINK`` stream (subjects ``rt.v1.*.st.*.dv.*.ops|sync``: NATS stores the devices' MQTT QoS 1
  publishes there as it does for any NATS publish), so JetStream hands each message to one worker.
- **Ack after COMMIT**: a batch is applied in one transaction (simulators/platform/apply.py with the PostgreSQL
  adapter); only after COMMIT is the message acked. A worker killed mid-batch leaves it un-acked: JetStream
  redelivers it after ``ACK_WAIT_S`` to any worker, and the dedupe key makes the second apply a no-op.
- **Down messages over NATS**: the watermark and touched carts' snapshots are plain NATS publishes on the MQTT
  topics' subjects (MQTT subscribers get them; NATS cannot retain them), so a device that was away learns them by
  its sync request after each 3.1.1 connect, which the worker answers like the simulator does.

- **Erasure**: an operator's ``python -m simulators.workers erase`` (simulators/platform/erasure.py) commits
  ``PgStore.erase_shopper`` (the cart's rows and EA2 fingerprints gone, the cart in ``erased_carts``), then
  publishes the erasure request to the store's devices. A worker's apply rules ask the port which carts of a batch
  are erased (after taking their locks) and acknowledge those ops without applying them, as the simulator does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import nats
import psycopg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.client import JetStreamContext

from edge_agent.contract.cart import T_OPS, T_SYNC_REQUEST, OpsBatchEvent, SyncRequestEvent
from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.topics import PLATFORM_OPS_FILTER, PLATFORM_SYNC_FILTER, parse_device_topic
from edge_agent.domain.hlc import HybridClock
from edge_agent.store.device import wall_clock_ms
from simulators.platform import apply as rules
from simulators.platform import const, events
from simulators.platform.pg_store import PgStore, create_schema

log = logging.getLogger("worker")


_TO_SUBJECT = str.maketrans({"/": ".", ".": "//", "+": "*", "#": ">"})


def subject_of(topic: str) -> str:
    """The NATS subject of an MQTT topic or filter, as NATS's MQTT gateway maps it ('/' -> '.', '.' -> '//')."""
    return topic.translate(_TO_SUBJECT)


def topic_of(subject: str) -> str:
    return subject.replace("//", "\0").replace(".", "/").replace("\0", ".")


async def ensure_uplink(
    js: JetStreamContext, replicas: int, ack_wait_s: float = const.ACK_WAIT_S
) -> JetStreamContext.PullSubscription:
    """The uplink stream and the workers' one durable consumer (idempotent: every worker calls it at start, with
    the same ``ack_wait_s``; a test of redelivery takes a shorter one than production's)."""
    await js.add_stream(
        StreamConfig(
            name=const.UPLINK_STREAM,
            subjects=[subject_of(PLATFORM_OPS_FILTER), subject_of(PLATFORM_SYNC_FILTER)],
            retention=RetentionPolicy.WORK_QUEUE,
            num_replicas=replicas,
            max_age=const.STREAM_MAX_AGE_S,
        )
    )
    return await js.pull_subscribe(
        "",
        durable=const.APPLY_CONSUMER,
        stream=const.UPLINK_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait_s, max_ack_pending=const.MAX_ACK_PENDING
        ),
    )


@dataclass
class WorkerStats:
    batches: int = 0
    ops_applied: int = 0
    ops_duplicate: int = 0
    syncs_answered: int = 0
    erasures_replayed: int = 0
    """Erased carts a device's sync request still listed, asked again to forget (see events.erasure_replays)."""
    rejected: dict[str, int] = field(default_factory=dict)
    redelivered: int = 0


class PlatformWorker:
    def __init__(
        self, nats_urls: list[str], dsn: str, name: str, *, replicas: int = 3, ack_wait_s: float = const.ACK_WAIT_S
    ) -> None:
        self.nats_urls, self.dsn, self.name, self.replicas = nats_urls, dsn, name, replicas
        self.ack_wait_s = ack_wait_s
        self.stats = WorkerStats()
        self._clock = HybridClock(wall_clock_ms)
        self._db = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-db")  # psycopg is blocking: one thread, one conn
        self._conn: psycopg.Connection[Any] | None = None
        self.ready = asyncio.Event()

    # --- database side (the db thread) ------------------------------------------------------------------
    def _open(self) -> None:
        self._conn = psycopg.connect(self.dsn, autocommit=True, application_name=self.name)
        create_schema(self._conn)

    def _apply(self, subject: str, data: bytes) -> list[tuple[str, bytes]]:
        """One message in one transaction; returns the down messages to publish once it committed."""
        assert self._conn is not None
        parsed = parse_device_topic(topic_of(subject))
        if parsed is None:
            raise Rejected("unknown_topic", subject)
        tenant, store, device, leaf = parsed
        port = PgStore(self._conn, self.name)
        if leaf == "sync":
            request = parse_event(data, SyncRequestEvent, T_SYNC_REQUEST)
            self.stats.syncs_answered += 1
            return self._down(port, tenant, store, device, request.data.cart_ids, answers=request.id, replay=True)
        batch = parse_event(data, OpsBatchEvent, T_OPS).data
        with self._conn.transaction():
            applied = rules.apply_batch(port, (), tenant, store, device, batch)
            port.count(applied)
        self._clock.observe(batch.hlc_max)
        self.stats.batches += 1
        self.stats.ops_applied += len(applied.new_ops)
        self.stats.ops_duplicate += applied.duplicates
        return self._down(port, tenant, store, device, sorted(applied.touched))

    def _down(
        self,
        port: PgStore,
        tenant: str,
        store: str,
        device: str,
        cart_ids: list[str],
        answers: str | None = None,
        replay: bool = False,
    ) -> list[tuple[str, bytes]]:
        """The device's watermark and the known carts' snapshots, read after COMMIT: the newest state, whichever
        worker wrote it (a snapshot's version orders it on the device). ``replay`` (a sync request): the carts it
        lists that were erased get the erasure request again, and no snapshot."""
        assert self._conn is not None
        with self._conn.transaction():
            now = self._clock.now()
            out = [events.watermark_message(tenant, store, rules.watermark_of(port, device, now), self.name, answers)]
            erased = port.erased_among(cart_ids) if replay and cart_ids else set()
            out += events.erasure_replays(tenant, store, erased, self.name)
            self.stats.erasures_replayed += len(erased)
            for cart_id in (c for c in cart_ids if c not in erased):
                home = port.cart_home(cart_id)
                if home is not None:
                    out.append(events.snapshot_message(*home, rules.snapshot_of(port, cart_id, now), self.name))
        return out

    # --- NATS side (the loop) -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._db, self._open)
        nc = await nats.connect(servers=self.nats_urls, name=self.name, max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            sub = await self._subscribe(js)
            self.ready.set()
            log.info("%s: consuming %s/%s", self.name, const.UPLINK_STREAM, const.APPLY_CONSUMER)
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(const.FETCH_BATCH, timeout=const.FETCH_TIMEOUT_S)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                for msg in msgs:
                    await self._handle(nc, msg)
        finally:
            # close, not drain: drain waits out the pull subscription's pending request. Every fetched message
            # was handled (acked, or left for redelivery) before the loop ended.
            with contextlib.suppress(nats.errors.Error):
                await nc.flush()
            await nc.close()
            await loop.run_in_executor(self._db, self._close)
            self._db.shutdown()

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        for attempt in range(1, const.UPLINK_SETUP_ATTEMPTS):
            try:
                return await ensure_uplink(js, self.replicas, self.ack_wait_s)
            except nats.errors.TimeoutError:
                log.warning("%s: no JetStream answer creating the uplink (try %d), again", self.name, attempt)
        return await ensure_uplink(js, self.replicas, self.ack_wait_s)  # the last try's timeout is the error

    async def _handle(self, nc: NATS, msg: Msg) -> None:
        if msg.metadata.num_delivered > 1:
            self.stats.redelivered += 1
        loop = asyncio.get_running_loop()
        try:
            down = await loop.run_in_executor(self._db, self._apply, msg.subject, msg.data)
        except (ValueError, OverflowError) as exc:
            reason = exc.reason if isinstance(exc, Rejected) else "invalid_value"
            self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
            log.warning("%s: rejected %s: %s", self.name, msg.subject, exc)
            await msg.ack()  # poison: acknowledged (else redelivered forever) and counted
            return
        except psycopg.Error as exc:  # deadlock, lost connection: rolled back, retried soon (by any worker)
            log.warning("%s: %s on %s; retrying: %s", self.name, type(exc).__name__, msg.subject, exc)
            await msg.nak(delay=const.NAK_DELAY_S)
            await loop.run_in_executor(self._db, self._reopen_if_broken)
            return
        await msg.ack()  # only after COMMIT
        for topic, payload in down:
            await nc.publish(subject_of(topic), payload)

    def _reopen_if_broken(self) -> None:
        if self._conn is not None and self._conn.broken:
            try:
                self._conn = psycopg.connect(self.dsn, autocommit=True, application_name=self.name)
            except psycopg.OperationalError as exc:  # the database is still away: the next message tries again
                log.warning("%s: database unreachable: %s", self.name, exc)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
