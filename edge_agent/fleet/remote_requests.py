"""``health`` and ``doctor`` as requests: the same health message and the same doctor report the platform reads on
``dv/{device}/health`` and store IT reads from ``edge-agent doctor --json``, on demand.

The remote doctor runs beside the agent, so it cannot open what the agent holds: the camera, the NFC frontend and
the BLE adapter are reported from the readers' own health instead (what ``status`` shows), and every other check
runs as the CLI runs it, in a thread (they block on sockets and files) with each check's own timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.config import AgentConfig
from edge_agent.config_files import CheckedConfig
from edge_agent.contract.requests import DeviceRequest
from edge_agent.fleet.health import HealthPublisher
from edge_agent.fleet.requests import RequestDesk, RequestFailed

if TYPE_CHECKING:
    from edge_agent.fleet.doctor import Verdict

_READER_VERDICT: Mapping[str, Verdict] = {"ok": "ok", "degraded": "warn", "stopped": "fail"}


def register_remote_requests(
    desk: RequestDesk,
    config: AgentConfig,
    health: HealthPublisher | None,
    reader_health: Mapping[str, str],
    reader_details: Mapping[str, str],
) -> None:
    def health_now(_request: DeviceRequest) -> dict[str, Any]:
        if health is None:
            raise RequestFailed("health_disabled", "[health] enabled = false on this device")
        return health.figures.snapshot().health.model_dump(mode="json")

    async def doctor(_request: DeviceRequest) -> dict[str, Any]:
        # Imported when asked: the doctor's models and checks are not the running agent's memory.
        from edge_agent.fleet.doctor import CheckResult, plan_checks, report_of, run_checks
        from edge_agent.fleet.doctor_devices import BleCheck, CameraCheck, NfcCheck

        held_by_the_agent = (CameraCheck, NfcCheck, BleCheck)
        checked = CheckedConfig(path=Path(f"(running config {config.version})"), config=config, problems=[])
        checks = [c for c in plan_checks(checked) if not isinstance(c, held_by_the_agent)]
        results = await asyncio.to_thread(run_checks, checks)
        results += [
            CheckResult(
                name=f"reader:{name}",
                target="the running agent",
                verdict=_READER_VERDICT.get(state, "warn"),
                detail=f"{state} {reader_details.get(name, '')}".strip(),
                fix="" if state == "ok" else "see the README's troubleshooting for this reader's reason",
            )
            for name, state in sorted(reader_health.items())
        ]
        return report_of(checked, results).model_dump(mode="json")

    desk.register("health", health_now)
    desk.register("doctor", doctor)
