"""A shopper session at a device: a guest basket, an identification on purpose, and a merge only on confirmation.

Pure and synchronous. The agent feeds it events and carries out the basket commands it returns; the shopper
sees a preview computed under the configured policy (retail note §2) and nothing joins the profile cart
until they confirm. Declined, the guest basket stays a separate cart.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from edge_agent.domain.basket import AddItem, BasketCommand, ClearCart, Refused, SetAttribute, SetQuantity
from edge_agent.domain.cart import Entry
from edge_agent.domain.consent import CART_SYNC, SCOPES

ATTRIBUTION_ATTR = "attribution_key"
"""Written into the profile cart at merge: the platform credits this session for later online orders."""
OWNER_ATTR = "owner"
"""Written into a guest basket kept separate: whose tote it is, for the platform to attach it."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified shopper as the session knows them: a pseudonym, their profile cart and consent scopes."""

    pseudonym: str
    profile_cart: str
    consent: frozenset[str]
    method: str
    fingerprint: str | None = None
    """EA2 credentials: the SHA-256 of the credential's signature, never the credential; the merge grant is made
    from it (edge_agent/identity/tokens.py). None for a legacy EA1 credential."""


class MergePolicy(StrEnum):
    SUM = "sum"
    MAX = "max"
    REPLACE = "replace"
    KEEP_ONLINE = "keep_online"
    SEPARATE = "separate"


class SessionState(StrEnum):
    ANONYMOUS = "anonymous"
    MERGE_PREVIEW = "merge_preview"
    MERGED = "merged"
    KEPT_SEPARATE = "kept_separate"
    MERGE_DECLINED = "merge_declined"
    ENDED = "ended"


OPEN_STATES = frozenset(SessionState) - {SessionState.ENDED}


@dataclass(frozen=True, slots=True)
class PreviewLine:
    sku: str
    store_qty: int
    online_qty: int
    result_qty: int


@dataclass(frozen=True, slots=True)
class MergePreview:
    preview_id: str
    policy: MergePolicy
    guest_cart: str
    profile_cart: str
    lines: tuple[PreviewLine, ...]


def result_qty(policy: MergePolicy, store: int, online: int) -> int:
    match policy:
        case MergePolicy.SUM:
            return store + online
        case MergePolicy.MAX:
            return max(store, online)
        case MergePolicy.REPLACE:
            return store if store else online
        case MergePolicy.KEEP_ONLINE | MergePolicy.SEPARATE:
            return online


def preview_merge(
    policy: MergePolicy, guest_cart: str, profile_cart: str, store: Mapping[str, int], online: Mapping[str, int]
) -> MergePreview:
    skus = sorted(set(store) | set(online))
    lines = tuple(
        PreviewLine(
            sku, store.get(sku, 0), online.get(sku, 0), result_qty(policy, store.get(sku, 0), online.get(sku, 0))
        )
        for sku in skus
    )
    return MergePreview(uuid.uuid4().hex[:16], policy, guest_cart, profile_cart, lines)


def merge_commands(
    preview: MergePreview, guest_live: Sequence[Entry], pseudonym: str, attribution_key: str
) -> list[BasketCommand]:
    """The basket commands that carry out a confirmed preview; deltas, so concurrent online edits still count."""
    guest, profile = preview.guest_cart, preview.profile_cart
    if preview.policy is MergePolicy.SEPARATE:
        return [SetAttribute(guest, OWNER_ATTR, pseudonym)]
    commands: list[BasketCommand] = []
    if preview.policy is MergePolicy.SUM:
        # Entry by entry, so a serialised item keeps its serial (and counts once if the profile has it).
        commands += [AddItem(profile, e.sku, e.qty, actor="merge", serial=e.serial) for e in guest_live]
    elif preview.policy is not MergePolicy.KEEP_ONLINE:
        for line in preview.lines:
            if line.store_qty == 0 or line.result_qty == line.online_qty:
                continue
            if line.online_qty == 0 or preview.policy is MergePolicy.MAX:
                commands.append(AddItem(profile, line.sku, line.result_qty - line.online_qty, actor="merge"))
            else:
                commands.append(SetQuantity(profile, line.sku, line.result_qty, actor="merge"))
    commands.append(SetAttribute(profile, ATTRIBUTION_ATTR, attribution_key, actor="merge"))
    if guest_live:
        commands.append(ClearCart(guest, actor="merge"))
    return commands


@dataclass
class Session:
    session_id: str
    guest_cart: str
    started_at: float
    policy: MergePolicy
    state: SessionState = SessionState.ANONYMOUS
    last_activity: float = 0.0
    identity: Identity | None = None
    preview: MergePreview | None = None
    end_reason: str | None = None
    attribution_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    announced: bool = False
    """Its first act (scan, line change, tap) was reported: ``kiosk.session.started`` (domain/workflows/kiosk.py)."""
    handoff: str | None = None
    """Where its basket was handed: ``pos`` (checkout at the till) or ``qr_to_phone``; none is not abandoned."""

    @property
    def active_cart(self) -> str:
        """Where new scans go: the profile cart once merged, otherwise the guest basket."""
        if self.state is SessionState.MERGED and self.identity is not None:
            return self.identity.profile_cart
        return self.guest_cart

    def touch(self, now: float) -> None:
        self.last_activity = max(self.last_activity, now)

    def identify(
        self, identity: Identity, store: Mapping[str, int], online: Mapping[str, int], now: float
    ) -> MergePreview | None:
        """A verified identity: a preview when there is a guest basket to join, else straight to the profile."""
        self._require_open()
        if self.identity is not None and self.identity.pseudonym != identity.pseudonym:
            raise Refused("another_shopper", "this session belongs to another shopper; end it first")
        if self.state not in (SessionState.ANONYMOUS, SessionState.MERGE_PREVIEW):
            raise Refused("already_identified", f"session is {self.state.value}")
        self.identity = identity
        self.touch(now)
        if CART_SYNC not in identity.consent:  # the basket stays a guest cart: nothing joins the profile
            self.state, self.preview = SessionState.MERGE_DECLINED, None
            return None
        if not store:
            self.state, self.preview = SessionState.MERGED, None
            return None
        self.preview = preview_merge(self.policy, self.guest_cart, identity.profile_cart, store, online)
        self.state = SessionState.MERGE_PREVIEW
        return self.preview

    def change_consent(
        self, scope: str, grant: bool, store: Mapping[str, int], online: Mapping[str, int], now: float
    ) -> MergePreview | None:
        """The identified shopper grants or withdraws a scope here. Granting ``cart_sync`` to a basket kept apart
        offers the merge preview (or joins at once when the basket is empty); withdrawing it keeps the basket apart
        from then on. The caller ends the session when ``profile`` is withdrawn."""
        self._require_open()
        if self.identity is None:
            raise Refused("not_identified", "consent belongs to an identified shopper")
        if scope not in SCOPES:
            raise Refused("unknown_scope", f"no consent scope {scope!r}")
        if (scope in self.identity.consent) == grant:
            raise Refused("consent_unchanged", f"{scope} is {'granted' if grant else 'withdrawn'} already")
        consent = self.identity.consent | {scope} if grant else self.identity.consent - {scope}
        self.identity = replace(self.identity, consent=frozenset(consent))
        self.touch(now)
        if scope != CART_SYNC:
            return None
        if not grant:
            self.state, self.preview = SessionState.MERGE_DECLINED, None
            return None
        if self.state is not SessionState.MERGE_DECLINED:
            return None
        if not store:
            self.state = SessionState.MERGED
            return None
        self.preview = preview_merge(self.policy, self.guest_cart, self.identity.profile_cart, store, online)
        self.state = SessionState.MERGE_PREVIEW
        return self.preview

    def refresh_preview(self, store: Mapping[str, int], online: Mapping[str, int]) -> MergePreview | None:
        """The online cart changed while the shopper looks at the preview: show the new one (new id)."""
        if self.state is not SessionState.MERGE_PREVIEW or self.identity is None:
            return None
        self.preview = preview_merge(self.policy, self.guest_cart, self.identity.profile_cart, store, online)
        return self.preview

    def confirm(self, preview_id: str | None, guest_live: Sequence[Entry], now: float) -> list[BasketCommand]:
        """The shopper confirmed the preview they saw; ``None`` is a confirm tap, which means the current one."""
        if self.state is not SessionState.MERGE_PREVIEW or self.preview is None or self.identity is None:
            raise Refused("no_preview", f"nothing to confirm: session is {self.state.value}")
        if preview_id is not None and preview_id != self.preview.preview_id:
            raise Refused("preview_changed", "the online cart changed; confirm the new preview")
        commands = merge_commands(self.preview, guest_live, self.identity.pseudonym, self.attribution_key)
        separate = self.preview.policy is MergePolicy.SEPARATE
        self.state = SessionState.KEPT_SEPARATE if separate else SessionState.MERGED
        self.touch(now)
        return commands

    def decline(self, now: float) -> None:
        if self.state is not SessionState.MERGE_PREVIEW:
            raise Refused("no_preview", f"nothing to decline: session is {self.state.value}")
        self.state, self.preview = SessionState.MERGE_DECLINED, None
        self.touch(now)

    def end(self, reason: str) -> None:
        self._require_open()
        self.state, self.end_reason, self.preview = SessionState.ENDED, reason, None

    def idle_for(self, now: float) -> float:
        return now - max(self.last_activity, self.started_at)

    def _require_open(self) -> None:
        if self.state is SessionState.ENDED:
            raise Refused("session_ended", "session has ended")
