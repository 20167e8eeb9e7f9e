"""The central simulator's inbox: paho's network thread only queues what arrives, and one applier thread takes
everything queued at once and hands it to the platform's ``apply`` (a run of ops batches in ONE transaction).

Why: applied on paho's thread one message at a time, each batch paid a FULL commit of its own, so the last op of a
burst (a tote visit is ten ops in ten batches) and any device's op behind another's waited one fsync per message
ahead of it. Now what queued while one transaction ran shares the next one, whichever devices it came from.
A group of workflow events alone (no ops batch, no sync request) waits ``events_wait_s`` for one to join it before
it is applied: every scan's event follows its op by a loop turn, lands while the op's transaction runs and was
applied in a transaction of its own right after, just as the next scan's op arrived (which then waited for it).
Sharing that op's transaction saves the event's own (about a tenth of the simulator's CPU per scan), and an op
never waits: an event's PUBACK is on no latency path, an op's is. A PUBACK still follows the COMMIT. Each message
keeps the connection it came on: one applied after a reconnect is not acknowledged on the new connection (the
broker redelivers it there, the dedupe key makes that a duplicate).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge_agent.contract.topics import parse_device_topic
from simulators.central.const import EVENTS_WAIT_S

log = logging.getLogger("central")


def is_workflow_event(topic: str) -> bool:
    """A device's workflow event (``.../dv/{device}/events``): it may wait for an ops batch to share its
    transaction."""
    parsed = parse_device_topic(topic)
    return parsed is not None and parsed[3] == "events"


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class Inbox:
    """``apply`` gets (topic, payload) pairs in arrival order and returns, per message, whether it may be
    acknowledged; ``ack`` is paho's manual ack (thread-safe: it queues the PUBACK for the network thread);
    ``may_wait`` says which topics' messages may wait ``events_wait_s`` for company (by default the workflow
    events, :func:`is_workflow_event`)."""

    def __init__(
        self,
        apply: Callable[[Sequence[tuple[str, bytes]]], list[bool]],
        ack: Callable[[int, int], object],
        group_max: int,
        *,
        may_wait: Callable[[str], bool] | None = None,
        events_wait_s: float = EVENTS_WAIT_S,
    ) -> None:
        self._apply, self._ack, self._group_max = apply, ack, group_max
        self._may_wait = may_wait or is_workflow_event
        self._events_wait_s = events_wait_s
        self._queue: queue.SimpleQueue[Received | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.connection = 0
        """Bumped at every connect and disconnect (paho's thread); read by the applier before each ack."""
        self.acknowledged = 0
        """Messages acknowledged so far (their PUBACK handed to paho, after their group's COMMIT)."""

    def new_connection(self) -> None:
        self.connection += 1

    def put(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self._queue.put(Received(topic, payload, mid, qos, self.connection))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="central-apply", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """What was queued before this call is applied and acknowledged first; what arrives later is left to the
        broker to redeliver."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group: list[Received] = []
            last = self._take(first, group)
            if not last and self._waits(group):
                try:
                    more = self._queue.get(timeout=self._events_wait_s)
                except queue.Empty:
                    pass
                else:
                    last = self._take(more, group)
            if group:
                self._apply_group(group)
            if last:
                return

    def _waits(self, group: list[Received]) -> bool:
        """Only messages that may wait, and room for more: give an ops batch a moment to join them."""
        return self._events_wait_s > 0 and len(group) < self._group_max and all(self._may_wait(m.topic) for m in group)

    def _take(self, first: Received | None, group: list[Received]) -> bool:
        """``first`` and whatever else is queued now into ``group``, up to the bound; True at the stop sentinel."""
        if first is None:
            return True
        group.append(first)
        while len(group) < self._group_max:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return False
            if more is None:
                return True
            group.append(more)
        return False

    def _apply_group(self, group: list[Received]) -> None:
        try:
            oks = self._apply([(m.topic, m.payload) for m in group])
        except Exception:  # the transaction rolled back: nothing acknowledged, the broker redelivers
            log.exception("central: failed on %d message(s); not acknowledged, the broker will redeliver", len(group))
            return
        for message, ok in zip(group, oks, strict=True):
            if ok and message.connection == self.connection:
                self._ack(message.mid, message.qos)
                self.acknowledged += 1
