"""Bytes in, validated contract models out, or a :class:`Rejected` with a stable reason code: one parser for every
inbound message, so every reader of the contract rejects the same things the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edge_agent.contract.base import CloudEvent
from edge_agent.contract.const import INBOUND_MAX_BYTES
from edge_agent.contract.topics import topic_matches

M = TypeVar("M", bound=BaseModel)


class Rejected(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def peek_type(payload: bytes) -> str | None:
    """The CloudEvents ``type`` of a payload, to route it before full validation (None when unreadable)."""
    if len(payload) > INBOUND_MAX_BYTES:
        return None
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    return kind if isinstance(kind, str) else None


def parse_event(payload: bytes, model: type[M], expected_type: str) -> M:
    """Bytes -> validated model of the one expected type, or Rejected with a stable reason code."""
    return parse_any(payload, {expected_type: model})


def parse_any(payload: bytes, models: Mapping[str, type[M]]) -> M:
    """Bytes -> validated model of whichever expected CloudEvents type the payload has; parsed once."""
    if len(payload) > INBOUND_MAX_BYTES:
        raise Rejected("too_large", f"{len(payload)} bytes > {INBOUND_MAX_BYTES}")
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # ValueError: not UTF-8, not JSON, an integer of 4,300+ digits
        raise Rejected("not_json", str(exc)[:200]) from None
    if not isinstance(raw, dict):
        raise Rejected("not_an_event", f"top level is {type(raw).__name__}, not an object")
    if raw.get("specversion") != "1.0":
        raise Rejected("unsupported_version", f"specversion {raw.get('specversion')!r}, supported: '1.0'")
    kind = raw.get("type")
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        expected = ", ".join(repr(t) for t in sorted(models))
        raise Rejected("unexpected_type", f"type {str(kind)[:100]!r}, expected {expected}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Rejected("schema", f"{exc.error_count()} error(s), first at {where}: {first['msg']}") from None


Envelope = type[CloudEvent[Any]]
Handler = Callable[[str, Any], None]
"""Called with the topic and the validated ``data`` of the event."""


@dataclass(frozen=True)
class Route:
    """Messages on an MQTT topic filter: each CloudEvents type names its envelope model and its handler."""

    filter: str
    handlers: Mapping[str, tuple[Envelope, Handler]] = field(default_factory=dict)
    on_cleared: Callable[[str], None] | None = None
    """An empty payload (a retained message cleared by its publisher); ignored when None."""


@dataclass(frozen=True)
class Matched:
    """The routes whose filter matches one topic, with their handlers and models by CloudEvents type: what a
    message on that topic is parsed against. The same for every message on the topic, so a router may keep it."""

    routes: tuple[Route, ...]
    handlers: Mapping[str, tuple[Envelope, Handler]]
    models: Mapping[str, Envelope]


def match(routes: Sequence[Route], topic: str) -> Matched | None:
    """The routes for ``topic``; None when no route's filter matches it."""
    matching = tuple(r for r in routes if topic_matches(r.filter, topic))
    if not matching:
        return None
    handlers = {kind: pair for route in matching for kind, pair in route.handlers.items()}
    return Matched(matching, handlers, {kind: envelope for kind, (envelope, _) in handlers.items()})


def dispatch(routes: Sequence[Route], topic: str, payload: bytes) -> bool:
    """Parse once and hand the data to the route whose filter matches and that names the payload's type.
    False when no route's filter matches; Rejected (with its reason) when one matches but the payload is bad."""
    return deliver(match(routes, topic), topic, payload)


def deliver(matched: Matched | None, topic: str, payload: bytes) -> bool:
    """:func:`dispatch` with the topic's routes already matched."""
    if matched is None:
        return False
    if not payload:  # a retained message cleared by its publisher
        for route in matched.routes:
            if route.on_cleared is not None:
                route.on_cleared(topic)
        return True
    event = parse_any(payload, matched.models)
    matched.handlers[event.type][1](topic, event.data)
    return True
