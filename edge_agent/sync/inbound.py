"""Inbound messages: size-checked, parsed, validated; anything bad is rejected with a reason and counted.

A bad message never stops the agent and never touches a basket.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from edge_agent.catalog.models import CatalogUpdate
from edge_agent.const import INBOUND_MAX_BYTES, MAX_VERSION_JUMP
from edge_agent.domain.cart import AttrWrite, Entry, Seal
from edge_agent.store.device import DeviceStore
from edge_agent.sync.messages import (
    T_APPLIED,
    T_CATALOG,
    T_ERASURE,
    T_SNAPSHOT,
    AppliedEvent,
    AppliedWatermark,
    CatalogUpdateEvent,
    ErasureRequest,
    ErasureRequestEvent,
    SnapshotEvent,
)
from edge_agent.sync.topics import Topics

log = logging.getLogger(__name__)
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
    """Bytes -> validated model, or Rejected with a stable reason code."""
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
    if raw.get("type") != expected_type:
        raise Rejected("unexpected_type", f"type {str(raw.get('type'))[:100]!r}, expected {expected_type!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Rejected("schema", f"{exc.error_count()} error(s), first at {where}: {first['msg']}") from None


@dataclass
class InboundRouter:
    store: DeviceStore
    topics: Topics
    on_applied: Callable[[AppliedWatermark], object]
    on_cart_changed: Callable[[str], None] | None = None
    on_erasure: Callable[[ErasureRequest], None] | None = None
    on_catalog: Callable[[CatalogUpdate], None] | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)

    def handle(self, topic: str, payload: bytes) -> None:
        try:
            if topic == self.topics.acks:
                if not payload:  # a cleared retained message
                    return
                watermark = parse_event(payload, AppliedEvent, T_APPLIED).data
                self._check_watermark(watermark)
                self._check_clock(topic, watermark.hlc)
                self.on_applied(watermark)
                self.accepted["applied"] += 1
            elif topic == self.topics.catalog:
                if payload:
                    update = parse_event(payload, CatalogUpdateEvent, T_CATALOG).data
                    _check_version_jump("catalog", self.store.catalog_version(), update.version)
                    changed = self.store.apply_catalog(update)
                    self.accepted["catalog" if changed else "catalog_stale"] += 1
                    if changed and self.on_catalog is not None:
                        self.on_catalog(update)
            elif topic == self.topics.erasure:
                if payload and self.on_erasure is not None:
                    self.on_erasure(parse_event(payload, ErasureRequestEvent, T_ERASURE).data)
                    self.accepted["erasure"] += 1
            elif topic.startswith(f"{self.topics.prefix}/carts/") and topic.endswith("/state"):
                if payload:
                    self._snapshot(topic, parse_event(payload, SnapshotEvent, T_SNAPSHOT))
            else:
                raise Rejected("unknown_topic", topic[:200])
        except Rejected as rej:
            self.reject(topic, rej)
        except (ValueError, OverflowError) as exc:  # a figure the models let through but storage cannot hold
            self.reject(topic, Rejected("invalid_value", f"{type(exc).__name__}: {str(exc)[:200]}"))

    def reject(self, topic: str, rej: Rejected) -> None:
        """Counted, logged with its reason and kept in the rejects table; never acted on."""
        self.rejected[rej.reason] += 1
        log.warning("inbound: rejected message on %s: %s: %s", topic[:200], rej.reason, rej.detail)
        self.store.record_reject("mqtt", rej.reason, f"{topic[:200]}: {rej.detail}")

    def _check_watermark(self, watermark: AppliedWatermark) -> None:
        """An ack may not cover a seq this device never issued: it would delete unconfirmed ops unsent."""
        if watermark.device != self.store.device_id:
            raise Rejected("wrong_device", f"watermark for {watermark.device} on {self.store.device_id}'s acks")
        issued = self.store.highest_issued_seq()
        for mark in watermark.watermarks:
            if mark.epoch != self.store.epoch:
                continue  # another epoch's ops are not ours; confirm() ignores them
            top = max([mark.applied_upto, *mark.applied_above])
            if top > issued:
                raise Rejected("ack_beyond_issued", f"applied up to seq {top}, but this device issued {issued}")

    def _check_clock(self, topic: str, remote_hlc: int) -> None:
        """The maximum-offset rule: a clock far ahead is counted and not adopted; the rest of the message stands."""
        if not self.store.clock.admits(remote_hlc):
            self.reject(topic, Rejected("clock_ahead", f"hlc {remote_hlc} beyond the allowed offset; not adopted"))

    def _snapshot(self, topic: str, event: SnapshotEvent) -> None:
        snap = event.data
        if topic != self.topics.cart_state(snap.cart_id):
            raise Rejected("topic_mismatch", f"snapshot of {snap.cart_id} published on {topic[:200]}")
        _check_version_jump("snapshot", self.store.snapshot_version(snap.cart_id), snap.version)
        self._check_clock(topic, snap.hlc_max)
        merged = self.store.merge_snapshot(
            snap.cart_id,
            snap.version,
            [Entry(e.entry_id, snap.cart_id, e.sku, e.qty, e.hlc, e.origin_device, e.serial) for e in snap.entries],
            snap.tombstones,
            [AttrWrite(a.key, a.value, a.hlc, a.device, a.op_id) for a in snap.attrs],
            snap.hlc_max,
            None if snap.sealed is None else Seal(snap.sealed.order_id, tuple(snap.sealed.entry_ids), snap.sealed.hlc),
        )
        self.accepted["snapshot" if merged else "snapshot_stale"] += 1
        if merged and self.on_cart_changed is not None:
            self.on_cart_changed(snap.cart_id)


def _check_version_jump(what: str, current: int | None, offered: int) -> None:
    """A version far beyond the current one is refused, not adopted: it would make every real update stale."""
    if current is not None and offered > current + MAX_VERSION_JUMP:
        raise Rejected("version_jump", f"{what} version {offered} is more than {MAX_VERSION_JUMP} past {current}")
