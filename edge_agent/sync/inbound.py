"""Inbound messages: size-checked, parsed, validated; anything bad is rejected with a reason and counted.

A bad message never stops the agent and never touches a basket.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edge_agent.contract.cart import T_APPLIED, T_SNAPSHOT, AppliedEvent, AppliedWatermark, CartSnapshot, SnapshotEvent
from edge_agent.contract.catalog import T_CATALOG, CatalogUpdate, CatalogUpdateEvent
from edge_agent.contract.codec import Matched, Rejected, Route, deliver, match
from edge_agent.contract.const import MAX_VERSION_JUMP
from edge_agent.contract.device import T_ERASURE, ErasureRequest, ErasureRequestEvent
from edge_agent.contract.topics import Topics
from edge_agent.domain.cart import AttrWrite, Entry, Seal
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)

MATCHED_TOPICS_KEPT = 256
"""Topics whose matched routes the router keeps (a kiosk's own topics and the carts it follows); past that the
memo starts again, so a device that followed thousands of carts holds no more than this."""


@dataclass
class InboundRouter:
    """The one route table of inbound messages: the sync path's own (acks, snapshots, catalog, erasure) and the
    routes of the device's role and basket (:meth:`add`). Anything bad is counted with its reason, never acted on."""

    store: DeviceStore
    topics: Topics
    on_applied: Callable[[AppliedWatermark], object]
    on_cart_changed: Callable[[str], None] | None = None
    on_erasure: Callable[[ErasureRequest], None] | None = None
    on_catalog: list[Callable[[CatalogUpdate], None]] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    routes: list[Route] = field(default_factory=list)
    _matched: dict[str, Matched | None] = field(default_factory=dict, init=False)
    """topic -> its routes, matched once per topic instead of every filter per message."""
    _matched_for: int = field(default=-1, init=False)
    """How many routes ``_matched`` was built with: a table that grew since is matched afresh."""

    def __post_init__(self) -> None:
        t = self.topics
        self.routes = [
            Route(t.acks, {T_APPLIED: (AppliedEvent, self._applied)}),
            Route(t.catalog, {T_CATALOG: (CatalogUpdateEvent, self._catalog)}),
            Route(t.erasure, {T_ERASURE: (ErasureRequestEvent, self._erasure)}),
            Route(t.cart_state("+"), {T_SNAPSHOT: (SnapshotEvent, self._snapshot)}),
            *self.routes,
        ]

    def add(self, routes: Sequence[Route]) -> None:
        self.routes.extend(routes)

    def handle(self, topic: str, payload: bytes) -> None:
        with contextlib.suppress(Rejected):
            self.submit(topic, payload)

    def submit(self, topic: str, payload: bytes) -> None:
        """:meth:`handle`, and a refused message is raised after it is counted: the device's own screen answers
        with the reason (edge_agent/screen/server.py hands its actions here as if they came on the ui topic)."""
        try:
            if not deliver(self._match(topic), topic, payload):
                raise Rejected("unknown_topic", topic[:200])
        except Rejected as rej:
            self.reject(topic, rej)
            raise
        except (ValueError, OverflowError) as exc:  # a figure the models let through but storage cannot hold
            bad = Rejected("invalid_value", f"{type(exc).__name__}: {str(exc)[:200]}")
            self.reject(topic, bad)
            raise bad from None

    def _match(self, topic: str) -> Matched | None:
        memo = self._matched
        if self._matched_for != len(self.routes) or len(memo) >= MATCHED_TOPICS_KEPT:
            memo.clear()
            self._matched_for = len(self.routes)
        if topic not in memo:
            memo[topic] = match(self.routes, topic)
        return memo[topic]

    def _applied(self, topic: str, watermark: AppliedWatermark) -> None:
        self._check_watermark(watermark)
        self._check_clock(topic, watermark.hlc)
        self.on_applied(watermark)
        self.accepted["applied"] += 1

    def _catalog(self, _topic: str, update: CatalogUpdate) -> None:
        _check_version_jump("catalog", self.store.catalog_version(), update.version)
        changed = self.store.apply_catalog(update)
        self.accepted["catalog" if changed else "catalog_stale"] += 1
        for listener in self.on_catalog if changed else []:
            listener(update)

    def _erasure(self, _topic: str, request: ErasureRequest) -> None:
        if self.on_erasure is not None:
            self.on_erasure(request)
            self.accepted["erasure"] += 1

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

    def _snapshot(self, topic: str, snap: CartSnapshot) -> None:
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
