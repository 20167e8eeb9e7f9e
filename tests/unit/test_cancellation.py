"""A stopping agent cancels its loops and waits for them: a cancel must never be lost, or SIGTERM waits for ever.

On Python 3.11 ``asyncio.wait_for`` swallows a cancel that lands on the loop turn its inner wait completed (it
returns the result instead; bpo-37658, fixed in 3.12). The pump is woken by every saved scan and every PUBACK,
so a SIGTERM while a camera scanned now and then left ``Agent.run`` gathering a pump that looped on: the process
never exited. Waits with a deadline use ``asyncio.timeout``, which passes the cancel on.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

from edge_agent.wiring import build_agent
from simulators.broker import free_port
from tests.support.world import make_config

PACKAGE = Path(__file__).resolve().parents[2] / "edge_agent"


def test_the_pump_ends_when_cancelled_on_the_turn_a_wake_up_lands(tmp_path: Path) -> None:
    agent = build_agent(make_config(tmp_path, free_port()))  # nothing listens there: the link never comes up

    async def body() -> bool:
        pump = asyncio.create_task(agent.pump.run())
        await asyncio.sleep(0)  # the pump waits for a wake-up
        agent.pump.wake()  # a scan was saved, or a PUBACK came in
        await asyncio.sleep(0)  # the wake-up lands; the pump has not run since
        pump.cancel()  # the agent stops
        await asyncio.wait([pump], timeout=5)
        return pump.cancelled()

    try:
        assert asyncio.run(body()), "the pump went on after its cancel: a stopping agent would wait for it for ever"
    finally:
        agent.store.close()


def test_no_agent_code_waits_with_asyncio_wait_for() -> None:
    """Every coroutine of the agent's loop may be the one cancelled at stop; ``asyncio.timeout`` instead."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "wait_for" and ast.unparse(node.value) == "asyncio":
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, f"asyncio.wait_for loses a cancel on Python 3.11: {found}"
