"""The device's shopper session, wired: credentials in, merge previews out, the shopper's decision carried out.

The rules live in :mod:`edge_agent.domain.session`; this module verifies credentials, reads the two carts
from the store, records the merge as ordinary durable ops and publishes the session state for the UI.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.const import APP_NEARBY_OFFER_S, PURGES_PER_TICK
from edge_agent.contract.device import PreviewLineModel, SessionCommand
from edge_agent.contract.device import SessionState as SessionStateModel
from edge_agent.domain.basket import BasketCommand, Refused, SetAttribute
from edge_agent.domain.consent import (
    GRANTED,
    OFFERS_SESSION_ATTR,
    PERSONALISATION,
    PROFILE,
    SCOPES,
    WITHDRAWN,
    consent_attr,
)
from edge_agent.domain.session import Identity, MergePolicy, Session, SessionState
from edge_agent.domain.workflows import kiosk
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identity.tokens import (
    MERGE_GRANT_ATTR,
    IdentityRejected,
    TokenVerifier,
    confirm_code_valid,
)
from edge_agent.readers.events import IdentityPresented
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)


@dataclass
class SessionDesk:
    store: DeviceStore
    policy: MergePolicy
    verifier: TokenVerifier | None
    idle_timeout_s: float
    anonymous_retention_s: float
    publish_state: Callable[[SessionStateModel], object]
    """Publishes the retained session state (the one way out; a no-op while offline)."""
    follow_cart: Callable[[str], None]
    """Subscribes to a cart's snapshots (the profile cart, once identified)."""
    record: Callable[[list[BasketCommand]], object]
    emit: Callable[[list[WorkflowEvent]], None] = lambda _events: None
    """Workflow events of the current session, with its context (:mod:`edge_agent.domain.workflows.kiosk`)."""
    now: Callable[[], float] = time.time
    rejected: Counter[str] = field(default_factory=Counter)
    session: Session = field(init=False)
    screen_key: bytes = b""
    """Read from the device (build_agent); a UI confirm must prove it with :func:`confirm_code`."""
    app_nearby_until: float = 0.0
    """An opted-in app was seen close by until then: the screen may invite the shopper to identify."""

    def start(self, guest_cart: str) -> None:
        now = self.now()
        self.session = Session(uuid.uuid4().hex, guest_cart, now, self.policy, last_activity=now)
        self.publish()

    @property
    def active_cart(self) -> str:
        return self.session.active_cart

    def touch(self, trigger: kiosk.Trigger = "scan") -> None:
        """The shopper acted: the session is alive (and announced, on its first act)."""
        now = self.now()
        self.session.touch(now)
        self.emit(kiosk.opened(self.session, trigger, now))

    def app_nearby(self) -> None:
        """An opted-in shopper app came close (BLE). It only lets the screen invite the shopper to identify:
        a phone in a passer-by's pocket must never put someone's cart on a kiosk screen."""
        now = self.now()
        inviting = self._inviting(now)
        self.app_nearby_until = now + APP_NEARBY_OFFER_S
        if not inviting and self._inviting(now):
            self.publish()

    def invitation_expired(self) -> None:
        """Called by the heartbeat: take the invitation off the screen once the app has gone."""
        if self.app_nearby_until and not self._inviting(self.now()):
            self.app_nearby_until = 0.0
            self.publish()

    def _inviting(self, now: float) -> bool:
        return now < self.app_nearby_until and self.session.identity is None

    # --- shopper acts -------------------------------------------------------------------------------------
    def present(self, event: IdentityPresented) -> None:
        """A loyalty tap or app code. Presented again while the preview shows, it is the confirm tap."""
        if self.verifier is None:
            self._refuse("identity_not_configured", "no [identity] section in config")
            return
        try:
            identity = self.verifier.verify(event.token, self.now(), event.method)
        except IdentityRejected as exc:
            self._refuse(exc.reason, str(exc))
            return
        s = self.session
        if s.state is SessionState.MERGE_PREVIEW and s.identity and s.identity.pseudonym == identity.pseudonym:
            self.confirm(None)
            return
        self.identified(identity)

    def identified(self, identity: Identity) -> None:
        """A verified shopper (here, or by the role's own reader): the preview, or straight to the profile."""
        s = self.session
        now = self.now()
        try:
            preview = s.identify(
                identity, self.store.quantities(s.guest_cart), self._online(identity.profile_cart), now
            )
        except Refused as exc:
            self._refuse(exc.reason, str(exc))
            return
        events = kiosk.opened(s, "identity", now)
        self.emit([*events, kiosk.merge_previewed(s, preview, now)] if preview is not None else events)
        # Snapshots of carts the device does not hold are ignored; a profile cart is the only kind erasure removes.
        self.store.open_cart(identity.profile_cart, profile=True)
        self.follow_cart(identity.profile_cart)
        link: list[BasketCommand] = []
        if PERSONALISATION in identity.consent:
            link.append(SetAttribute(identity.profile_cart, OFFERS_SESSION_ATTR, s.session_id))
        if link or s.state is SessionState.MERGED:  # straight to the profile cart: its scans need the grant first
            self._write_profile(link, grant=True)
        log.info("session %s identified by %s; state %s", s.session_id, identity.method, s.state.value)
        self.publish()

    def confirm(self, preview_id: str | None) -> None:
        s = self.session
        try:
            commands = s.confirm(preview_id, self.store.live_entries(s.guest_cart), self.now())
        except Refused as exc:
            self._refuse(exc.reason, str(exc))
            return
        self.record(self.with_grant(commands))
        self.emit([kiosk.merge_confirmed(s, s.policy.value, self.now())])
        log.info("session %s: merge confirmed under %s (%d ops)", s.session_id, s.policy.value, len(commands))
        self.publish()

    def with_grant(self, commands: list[BasketCommand], *, always: bool = False) -> list[BasketCommand]:
        """Ops for the profile cart go after the grant that lets the platform accept them from this device."""
        s = self.session
        if s.identity is None or self.verifier is None:
            return commands
        profile = s.identity.profile_cart
        if not always and not any(c.cart_id == profile for c in commands):
            return commands  # kept separate: the profile cart is not written
        grant = self.verifier.merge_grant(self.store.device_id, s.identity)
        if grant is None:
            return commands
        return [SetAttribute(profile, MERGE_GRANT_ATTR, grant, actor="merge"), *commands]

    def decline(self) -> None:
        try:
            self.session.decline(self.now())
        except Refused as exc:
            self._refuse(exc.reason, str(exc))
            return
        self.emit([kiosk.merge_declined(self.session, self.now())])
        self.publish()

    def end(self, reason: str, next_guest_cart: str) -> None:
        """End the session; its carts are forgotten on this device once retention passes and ops are confirmed."""
        s = self.session
        if s.state is not SessionState.ENDED:
            # Emitted while this is still the current session: the events carry its context, not the next one's.
            self.emit(kiosk.ended(s, reason, self.store.quantities(s.guest_cart), self.now()))
            s.end(reason)
            if s.identity is not None and PERSONALISATION in s.identity.consent:  # the platform clears its offers
                self._write_profile([SetAttribute(s.identity.profile_cart, OFFERS_SESSION_ATTR, None)])
            self.publish()
        # Anonymous: the basket is kept a while (the shopper may come back). Identified: the guest basket is
        # done with at once, and the profile cart's local copy stays only with the shopper's "profile" consent.
        now = self.now()
        kept = now + self.anonymous_retention_s
        if s.identity is None:
            purge = {s.guest_cart: kept}
        else:
            purge = {s.guest_cart: now, s.identity.profile_cart: kept if "profile" in s.identity.consent else now}
        self.store.schedule_purges(purge)
        self.start(next_guest_cart)

    def change_consent(self, scope: str, grant: bool) -> bool:
        """The identified shopper grants or withdraws a scope on the screen: the session enforces it at once, and
        the change is a durable op on the profile cart (``consent.<scope>``) the platform confirms. Withdrawing
        ``profile`` first forgets the profile cart's local copy, unsent edits included, as erasure does; the
        caller then ends the session. False when refused (counted, shown)."""
        s, now = self.session, self.now()
        online = self._online(s.identity.profile_cart) if s.identity is not None else {}
        try:
            preview = s.change_consent(scope, grant, self.store.quantities(s.guest_cart), online, now)
        except Refused as exc:
            self._refuse(exc.reason, str(exc))
            return False
        if preview is not None:  # cart_sync granted to a basket kept apart: the preview is offered, as at a tap
            self.emit([kiosk.merge_previewed(s, preview, now)])
        if s.identity is None:  # change_consent refuses an anonymous session; this only tells the type checker
            return False
        profile = s.identity.profile_cart
        if scope == PROFILE and not grant:
            erased = self.store.erase_cart(profile)
            log.info(
                "session %s: profile consent withdrawn; %d unsent op(s) and %d event(s) dropped",
                s.session_id, erased.ops, erased.events,
            )  # fmt: skip
        commands: list[BasketCommand] = [
            SetAttribute(profile, consent_attr(scope), GRANTED if grant else WITHDRAWN, actor="shopper")
        ]
        if scope == PERSONALISATION:
            commands.append(SetAttribute(profile, OFFERS_SESSION_ATTR, s.session_id if grant else None))
        self._write_profile(commands)
        log.info("session %s: %s %s", s.session_id, scope, GRANTED if grant else WITHDRAWN)
        self.publish()
        return True

    def consent_pending(self) -> list[str]:
        """Scopes changed here whose op the platform has not confirmed yet."""
        identity = self.session.identity
        if identity is None:
            return []
        keys = self.store.unconfirmed_attrs(identity.profile_cart)
        return sorted(scope for scope in SCOPES if consent_attr(scope) in keys)

    def _write_profile(self, commands: list[BasketCommand], *, grant: bool = False) -> None:
        """Attributes of the shopper's own profile cart (consent, the offers link): after the merge grant that lets
        the platform accept them from this device (``grant``: even with no command); the cart stays marked as a
        profile cart for erasure."""
        identity = self.session.identity
        self.record(self.with_grant(commands, always=grant))
        if identity is not None:
            self.store.open_cart(identity.profile_cart, profile=True)

    def command(self, cmd: SessionCommand) -> str | None:
        """A command from the device's UI (already parsed): merges are carried out here; ``checkout`` and
        ``end_session`` of the current session are returned for the basket to carry out; None when refused."""
        if cmd.session_id != self.session.session_id:
            self._refuse("stale_session", f"command for session {cmd.session_id}")
            return None
        if cmd.action == "confirm_merge":
            preview = self.session.preview
            named = cmd.preview_id or (preview.preview_id if preview else "")
            if preview is not None and not confirm_code_valid(self.screen_key, named, cmd.confirm_code):
                self._refuse("confirm_code_invalid", "a merge is confirmed on the device's own screen or by a tap")
                return None
            self.confirm(cmd.preview_id)
        elif cmd.action == "decline_merge":
            self.decline()
        else:
            return cmd.action  # checkout, end_session
        return None

    # --- platform and time --------------------------------------------------------------------------------
    def cart_changed(self, cart_id: str) -> None:
        s = self.session
        if s.identity is not None and cart_id == s.identity.profile_cart:
            preview = s.refresh_preview(self.store.quantities(s.guest_cart), self._online(cart_id))
            if preview is not None:
                self.publish()

    def idle(self) -> bool:
        return self.session.idle_for(self.now()) > self.idle_timeout_s

    def purge_due(self, *, early: bool = False) -> list[str]:
        """Purge carts whose retention passed; one still holding unconfirmed ops waits behind the others, and at
        most PURGES_PER_TICK are tried per call, so a backlog never makes one long pass on the loop.
        ``early``: near the storage budget, every ended basket the platform confirmed goes (store/budget.py)."""
        now = self.now()
        ready = self.store.purges_due(None if early else now, PURGES_PER_TICK, skip=self.active_cart)
        purged = [cart_id for cart_id in ready if self.store.purge_cart(cart_id)]
        kept = [cart_id for cart_id in ready if cart_id not in purged]
        if kept:
            self.store.postpone_purges(kept, now)
        if purged:
            log.info("purged %d ended basket(s) from this device", len(purged))
        return purged

    # --- internals ----------------------------------------------------------------------------------------
    def _online(self, profile_cart: str) -> dict[str, int]:
        return self.store.quantities(profile_cart)

    def _refuse(self, reason: str, detail: str, *, publish: bool = True) -> None:
        self.rejected[reason] += 1
        log.warning("session: refused: %s: %s", reason, detail)
        self.store.record_reject("session", reason, detail[:200])
        if publish:
            self.publish(refused=reason)

    def state_model(self, refused: str | None = None) -> SessionStateModel:
        s = self.session
        preview = s.preview
        return SessionStateModel(
            session_id=s.session_id,
            state=s.state.value,
            active_cart=s.active_cart,
            guest_cart=s.guest_cart,
            identified=s.identity is not None,
            consent=sorted(s.identity.consent) if s.identity else [],  # type: ignore[arg-type]
            consent_pending=self.consent_pending(),  # type: ignore[arg-type]
            policy=preview.policy.value if preview else None,
            preview_id=preview.preview_id if preview else None,
            lines=[
                PreviewLineModel(sku=ln.sku, store_qty=ln.store_qty, online_qty=ln.online_qty, result_qty=ln.result_qty)
                for ln in (preview.lines if preview else ())
            ],
            end_reason=s.end_reason,
            refused=refused,
            app_nearby=self._inviting(self.now()),
        )

    def publish(self, refused: str | None = None) -> None:
        self.publish_state(self.state_model(refused))
