"""The central simulator's inbox (simulators/central/inbox.py): workflow events with nothing else queued wait for an
ops batch to share their transaction; an ops batch never waits; a stop applies what waits; every applied message is
acknowledged after its group was applied. The apply and the ack are recorders: the queueing is pure logic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from simulators.central.inbox import Inbox, is_workflow_event
from tests.support.world import wait_until

EVENT = "rt/v1/acme/st/s042/dv/d-1/events"
OPS = "rt/v1/acme/st/s042/dv/d-1/ops"
SYNC = "rt/v1/acme/st/s042/dv/d-1/sync"
FOREVER_S = 3600.0
"""A wait no test sees the end of: what is applied was applied without it."""
SHORT_WAIT_S = 0.05
SETTLE_S = 0.2
"""A pause so the applier has surely taken what was put before (not an assertion on time)."""
STOP_S = 5.0
APPLIED_WAIT_S = 10.0


class Recorder:
    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.acked: list[int] = []
        self.lock = threading.Lock()

    def apply(self, messages: Sequence[tuple[str, bytes]]) -> list[bool]:
        with self.lock:
            self.groups.append([topic.rsplit("/", 1)[1] for topic, _payload in messages])
        return [True] * len(messages)

    def ack(self, mid: int, _qos: int) -> None:
        with self.lock:
            self.acked.append(mid)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def started(recorder: Recorder, wait_s: float) -> Inbox:
    inbox = Inbox(recorder.apply, recorder.ack, 64, events_wait_s=wait_s)
    inbox.start()
    return inbox


@pytest.fixture
def waiting(recorder: Recorder) -> Iterator[Inbox]:
    inbox = started(recorder, FOREVER_S)
    yield inbox
    inbox.stop(STOP_S)


def wait_for(predicate: Callable[[], bool]) -> None:
    wait_until(predicate, timeout=APPLIED_WAIT_S, what="the inbox applied it")


def test_an_event_waits_for_the_next_ops_batch_and_shares_its_group(recorder: Recorder, waiting: Inbox) -> None:
    waiting.put(EVENT, b"e", 1, 1)
    time.sleep(SETTLE_S)  # the applier holds the event by now: without the wait it would have applied it alone
    assert recorder.groups == []
    waiting.put(OPS, b"o", 2, 1)
    wait_for(lambda: recorder.acked == [1, 2])
    assert recorder.groups == [["events", "ops"]]


def test_an_ops_batch_never_waits(recorder: Recorder, waiting: Inbox) -> None:
    waiting.put(OPS, b"o", 1, 1)
    wait_for(lambda: recorder.acked == [1])
    waiting.put(SYNC, b"s", 2, 1)
    wait_for(lambda: recorder.acked == [1, 2])
    assert recorder.groups == [["ops"], ["sync"]]


def test_events_alone_go_once_the_wait_is_over(recorder: Recorder) -> None:
    inbox = started(recorder, SHORT_WAIT_S)
    try:
        inbox.put(EVENT, b"e", 1, 1)
        inbox.put(EVENT, b"f", 2, 1)
        wait_for(lambda: recorder.acked == [1, 2])
    finally:
        inbox.stop(STOP_S)
    assert [leaf for group in recorder.groups for leaf in group] == ["events", "events"]


def test_a_stop_applies_and_acknowledges_the_waiting_event(recorder: Recorder) -> None:
    inbox = started(recorder, FOREVER_S)
    inbox.put(EVENT, b"e", 1, 1)
    time.sleep(SETTLE_S)
    inbox.stop(STOP_S)
    assert recorder.groups == [["events"]]
    assert recorder.acked == [1]


def test_only_a_devices_workflow_events_may_wait() -> None:
    assert is_workflow_event(EVENT)
    assert not is_workflow_event(OPS)
    assert not is_workflow_event(SYNC)
    assert not is_workflow_event("rt/v1/acme/st/s042/nowhere")
