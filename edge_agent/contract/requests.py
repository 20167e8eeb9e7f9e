"""Requests from the platform to one device and the device's answers, as Zigbee2MQTT does it: the platform
publishes ``dv/{device}/request/<name>``, the device answers on ``dv/{device}/response/<name>``.

The caller's correlation travels twice: as MQTT 5 correlation data (echoed on the response) and as ``id`` in the
payload, so a 3.1.1 broker carries the same contract. Every request is answered, an unknown or malformed one with
``status: error`` and a stable reason, so a desk never waits for an answer that cannot come.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import Field, JsonValue, StringConstraints

from edge_agent.contract.base import CloudEvent, ReasonCode, Strict
from edge_agent.domain.ops import DeviceId

T_REQUEST: Final = "com.edgeagent.device.request.v1"
T_RESPONSE: Final = "com.edgeagent.device.response.v1"

RequestName = Literal["health", "doctor", "config/get", "config/set", "restart", "log_level"]
REQUEST_NAMES: Final[tuple[str, ...]] = RequestName.__args__  # type: ignore[attr-defined]
CorrelationId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class DeviceRequest(Strict):
    """Down, QoS 1, not retained: one request. ``params`` are the request's own (see each request's schema)."""

    id: CorrelationId = Field(description="the caller's correlation; echoed on the response")
    params: dict[str, JsonValue] = Field(default_factory=dict)


class DeviceResponse(Strict):
    """Up, QoS 1, not retained: the answer to one request (``id`` is the request's; absent when the request was
    too malformed to carry one)."""

    device: DeviceId
    request: str = Field(max_length=64, description="the request's name, as in its topic")
    id: CorrelationId | None
    status: Literal["ok", "error"]
    reason: ReasonCode | None = Field(default=None, description="for errors: a stable reason code")
    detail: str | None = Field(default=None, max_length=500)
    result: dict[str, Any] | None = Field(default=None, description="for ok: the request's result")


class LogLevelParams(Strict):
    """``log_level``: a more verbose log for a bounded time, then back by itself (a forgotten DEBUG fills a card)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    for_s: int = Field(ge=1, le=3600, description="seconds until the configured level is back")


class DeviceRequestEvent(CloudEvent[DeviceRequest]):
    type: Literal["com.edgeagent.device.request.v1"] = T_REQUEST


class DeviceResponseEvent(CloudEvent[DeviceResponse]):
    type: Literal["com.edgeagent.device.response.v1"] = T_RESPONSE
