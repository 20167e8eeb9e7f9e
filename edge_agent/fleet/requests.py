"""The request desk: the platform's requests to this device (``dv/{device}/request/<name>``) and the device's
answers (``dv/{device}/response/<name>``), as Zigbee2MQTT does it, with one table of handlers.

Every request gets exactly one answer: ``ok`` with the handler's result, or ``error`` with a stable reason
(``unknown_request``, ``invalid_params``, a handler's own, ``internal_error``); a malformed request is answered too
when it names a correlation, and counted either way. A handler that must wait (the doctor runs blocking checks in
a thread) returns an awaitable; the desk answers when it completes, on the loop. Answers are not queued while the
link is down: a desk that asked while the device was offline asks again (requests are QoS 1, so a request that
reached the device's session is delivered on reconnect).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.requests import (
    T_REQUEST,
    DeviceRequest,
    DeviceRequestEvent,
    DeviceResponse,
    DeviceResponseEvent,
)
from edge_agent.contract.topics import Topics
from edge_agent.sync.outlet import Outlet

log = logging.getLogger(__name__)

Result = Mapping[str, Any]
RequestHandler = Callable[[DeviceRequest], Result | Awaitable[Result]]
DeferredHandler = Callable[[DeviceRequest, bytes | None], None]
"""A request answered later, maybe by the next run (``config/set`` is answered once its config proved itself or
was reverted): the handler keeps the request's id and correlation and calls :meth:`RequestDesk.answer`. It may
still refuse at once by raising RequestFailed."""
P = TypeVar("P", bound=BaseModel)
DETAIL_MAX = 500
"""DeviceResponse.detail's bound in the contract."""


class RequestFailed(Exception):
    """A handler's refusal: answered as ``status: error`` with this reason and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def params_of(request: DeviceRequest, model: type[P]) -> P:
    """The request's params as the handler's model, or ``invalid_params`` naming the first bad key."""
    try:
        return model.model_validate(request.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        raise RequestFailed("invalid_params", f"{where}: {first['msg']}") from None


@dataclass
class RequestDesk:
    topics: Topics
    out: Outlet
    device: str
    handlers: dict[str, RequestHandler] = field(default_factory=dict)
    deferred: dict[str, DeferredHandler] = field(default_factory=dict)
    answered: Counter[str] = field(default_factory=Counter)
    """``name:ok`` or ``name:<reason>`` per answer: what the desk was asked and how it went."""
    _running: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, name: str, handler: RequestHandler) -> None:
        self.handlers[name] = handler

    def register_deferred(self, name: str, handler: DeferredHandler) -> None:
        self.deferred[name] = handler

    def accepts(self, topic: str) -> bool:
        return self.topics.request_name(topic) is not None

    def handle(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        """On the loop: one request in, one answer out (now, or when the handler's awaitable completes)."""
        name = self.topics.request_name(topic) or ""
        try:
            request = parse_event(payload, DeviceRequestEvent, T_REQUEST).data
        except Rejected as rej:
            self.answer(name, _id_in(payload), correlation, error=(rej.reason, rej.detail))
            return
        deferred = self.deferred.get(name)
        if deferred is not None:
            try:
                deferred(request, correlation)
            except RequestFailed as failed:
                self.answer(name, request.id, correlation, error=(failed.reason, failed.detail))
            return
        handler = self.handlers.get(name)
        if handler is None:
            known = ", ".join(sorted([*self.handlers, *self.deferred]))
            self.answer(name, request.id, correlation, error=("unknown_request", f"{name[:64]!r}; known: {known}"))
            return
        try:
            outcome = handler(request)
        except RequestFailed as failed:
            self.answer(name, request.id, correlation, error=(failed.reason, failed.detail))
            return
        except Exception as exc:  # a handler's bug answers, never stops the agent
            log.exception("request %s failed", name)
            self.answer(name, request.id, correlation, error=("internal_error", type(exc).__name__))
            return
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(self._finish(name, request.id, correlation, outcome))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        else:
            self.answer(name, request.id, correlation, result=outcome)

    async def _finish(self, name: str, request_id: str, correlation: bytes | None, outcome: Awaitable[Result]) -> None:
        try:
            result = await outcome
        except RequestFailed as failed:
            self.answer(name, request_id, correlation, error=(failed.reason, failed.detail))
        except Exception as exc:
            log.exception("request %s failed", name)
            self.answer(name, request_id, correlation, error=("internal_error", type(exc).__name__))
        else:
            self.answer(name, request_id, correlation, result=result)

    def answer(
        self,
        name: str,
        request_id: str | None,
        correlation: bytes | None,
        *,
        result: Result | None = None,
        error: tuple[str, str] | None = None,
    ) -> int | None:
        """Publish one answer; the mid, or None while offline (a deferred answer's owner keeps it and tries again)."""
        reason, detail = error if error is not None else (None, None)
        self.answered[f"{name or '?'}:{reason or 'ok'}"] += 1
        if error is not None:
            log.warning("request %s (%s) refused: %s: %s", name or "?", request_id, reason, detail)
        response = DeviceResponse(
            device=self.device,
            request=name[:64] or "?",
            id=request_id,
            status="ok" if error is None else "error",
            reason=reason,
            detail=None if detail is None else detail[:DETAIL_MAX],
            result=None if result is None else dict(result),
        )
        topic = self.topics.response(name if name else "unknown")
        return self.out.publish(topic, DeviceResponseEvent, response, correlation=correlation)


def _id_in(payload: bytes) -> str | None:
    """The correlation of a request too malformed to parse, when it still names one (so the caller hears why)."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    data = raw.get("data") if isinstance(raw, dict) else None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and 0 < len(found) <= 128 else None
