"""The requests every device answers whatever its role: ``config/get``, ``log_level`` and ``restart`` (``health``
and ``doctor`` are registered where their figures live). Each is small and says no with a reason it can name."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.contract.requests import DeviceRequest, LogLevelParams
from edge_agent.fleet.requests import RequestDesk, params_of

RESTART_GRACE_S = 0.5
"""Between the ``restart`` answer and the stop: long enough for the answer's PUBLISH to leave (the stop then
says "offline" and disconnects cleanly), short enough that the desk sees the device go at once."""


@dataclass
class TemporaryLogLevel:
    """A more verbose log for a bounded time; the configured level comes back by itself, also after a second
    request (the newest one's time counts) and never later than its ``for_s``."""

    logger: logging.Logger = field(default_factory=logging.getLogger)
    _configured: int | None = None
    _timer: asyncio.TimerHandle | None = None

    def set(self, params: LogLevelParams) -> dict[str, Any]:
        if self._configured is None:
            self._configured = self.logger.level
        if self._timer is not None:
            self._timer.cancel()
        self.logger.setLevel(params.level)
        self._timer = asyncio.get_running_loop().call_later(params.for_s, self.restore)
        return {"level": params.level, "for_s": params.for_s, "then": logging.getLevelName(self._configured)}

    def restore(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._configured is not None:
            self.logger.setLevel(self._configured)
            self._configured = None


def register_device_requests(
    desk: RequestDesk, config: AgentConfig, log_level: TemporaryLogLevel, restart: Callable[[], None]
) -> None:
    """The role-independent requests on the desk."""

    def config_get(_request: DeviceRequest) -> dict[str, Any]:
        # Secrets are never in the document itself (keys, passwords and certificates are files it names).
        return {"config": config.model_dump(mode="json", exclude_none=True)}

    def set_log_level(request: DeviceRequest) -> dict[str, Any]:
        return log_level.set(params_of(request, LogLevelParams))

    def restart_agent(_request: DeviceRequest) -> dict[str, Any]:
        asyncio.get_running_loop().call_later(RESTART_GRACE_S, restart)
        return {"restarting_in_s": RESTART_GRACE_S}

    desk.register("config/get", config_get)
    desk.register("log_level", set_log_level)
    desk.register("restart", restart_agent)
