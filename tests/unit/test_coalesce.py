"""The screen feed's coalescing: a refresh asked for after a quiet spell runs on the loop's next turn; those asked
for within the interval after it run once, later; the last state is never lost."""

from __future__ import annotations

import asyncio

from edge_agent.coalesce import Coalesced

LONG_S = 3600.0
"""An interval no test outlives: what is due only after it has not run by the end of the test."""


def test_without_a_loop_a_request_runs_at_once() -> None:
    runs: list[int] = []
    feed = Coalesced(lambda: runs.append(1), LONG_S)
    feed.request()
    feed.request()
    assert runs == [1, 1]


def test_the_first_request_runs_on_the_next_turn_and_a_burst_after_it_once_at_the_interval() -> None:
    async def body() -> list[str]:
        seen: list[str] = []
        feed = Coalesced(lambda: seen.append("run"), LONG_S)
        feed.attach(asyncio.get_running_loop())
        feed.request()
        seen.append("asked")
        await asyncio.sleep(0)
        for _ in range(5):  # a burst within the interval: one run is due, later
            feed.request()
        await asyncio.sleep(0)
        seen.append("burst asked")
        feed.flush()  # the agent stopping: what is due runs now
        seen.append("flushed")
        feed.flush()  # nothing due any more
        return seen

    assert asyncio.run(body()) == ["asked", "run", "burst asked", "run", "flushed"]


def test_with_no_interval_every_request_after_a_run_runs_on_the_next_turn() -> None:
    async def body() -> int:
        runs: list[int] = []
        feed = Coalesced(lambda: runs.append(1), 0.0)
        feed.attach(asyncio.get_running_loop())
        for _ in range(3):
            feed.request()
            feed.request()  # the same turn: folded into the run already due
            await asyncio.sleep(0)
        return len(runs)

    assert asyncio.run(body()) == 3


def test_detached_a_due_run_is_dropped_and_requests_run_at_once() -> None:
    async def body() -> list[int]:
        runs: list[int] = []
        feed = Coalesced(lambda: runs.append(len(runs)), LONG_S)
        feed.attach(asyncio.get_running_loop())
        feed.request()
        await asyncio.sleep(0)
        feed.request()  # due only after the interval
        feed.detach()
        await asyncio.sleep(0)
        feed.request()
        return runs

    assert asyncio.run(body()) == [0, 1]
