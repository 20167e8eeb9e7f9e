"""The fitting-room mirror (retail note §1.4): garments tapped in, a try-on list, assists, and a purge on vacating.

Garments are detected by an NFC tap of the hang tag (GTIN-14, plus the serial when the tag carries one); a
repeated tap of the same tag is refused, not counted. Identification is optional and only with the shopper's
"profile" consent: it saves the try-on list to their profile as a *wishlist* (``tryon.list.saved``), never as
cart operations. Vacating ends the session and forgets it: the next session has a new id and no garments.
Assist requests are their own machine (:mod:`.assist`); :meth:`Room.request_assist` opens one for this session.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from edge_agent.domain.workflows.assist import DEFAULT_ASSIST_TIMERS, AssistRequest, AssistTimers
from edge_agent.domain.workflows.common import (
    PROFILE_SCOPE,
    SHOPPER,
    SYSTEM,
    WRONG_STATE,
    Outcome,
    WorkflowEvent,
    applied,
    is_gtin14,
    refuse,
)


class RoomState(StrEnum):
    VACANT = "vacant"
    OCCUPIED = "occupied"
    BROWSING = "browsing"
    CHECKOUT_HANDOFF = "checkout_handoff"
    CLOSING = "closing"


IN_SESSION: Final = frozenset(RoomState) - {RoomState.VACANT}
CHECKOUT_CHANNELS: Final = frozenset({"pos", "app"})
DETECT_METHOD: Final = "nfc_tap"

EVENT_NAMES: Final = frozenset(
    {
        "room.session.started",
        "garment.detected",
        "garment.left",
        "tryon.list.saved",
        "checkout.handoff",
        "room.session.ended",
    }
)

REFUSAL_REASONS: Final = frozenset(
    {
        WRONG_STATE,
        "room_occupied",
        "room_vacant",
        "no_session_id",
        "session_id_reused",
        "bad_gtin",
        "already_detected",
        "not_in_room",
        "no_consent",
        "no_pseudonym",
        "no_garments",
        "unknown_channel",
    }
)


@dataclass(frozen=True, slots=True)
class Garment:
    gtin14: str
    serial: str | None
    detected_at: float

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.gtin14, self.serial)


@dataclass(frozen=True, slots=True)
class Room:
    room_id: str
    state: RoomState = RoomState.VACANT
    session_id: str | None = None
    """Anonymous per-session id; ``None`` while vacant."""
    started_at: float | None = None
    garments: tuple[Garment, ...] = ()
    """In the room now."""
    tried: tuple[str, ...] = ()
    """Every GTIN tapped in this session, in order, once each: the try-on list."""
    items_in: int = 0
    items_out: int = 0
    profile: str | None = None
    """The shopper's pseudonym, only after they saved their list with "profile" consent."""
    last_session_id: str | None = None
    """The previous session's id, so a reused id is refused (nothing else of it is kept)."""

    def occupy(self, session_id: str, *, now: float) -> Outcome[Room]:
        """First tag or presence: a new anonymous session."""
        if self.state is not RoomState.VACANT:
            return refuse(
                self, "room_occupied", f"room {self.room_id} is {self.state.value} (session {self.session_id})"
            )
        if not session_id:
            return refuse(self, "no_session_id", "a room session needs an id")
        if session_id == self.last_session_id:
            return refuse(self, "session_id_reused", f"session {session_id} has ended; a new session needs a new id")
        room = replace(self, state=RoomState.OCCUPIED, session_id=session_id, started_at=now)
        return applied(room, room._event("room.session.started", SHOPPER, now))

    def garment_detected(self, gtin14: str, serial: str | None = None, *, now: float) -> Outcome[Room]:
        if refused := self._check("list a garment", {RoomState.OCCUPIED, RoomState.BROWSING}):
            return refused
        if not is_gtin14(gtin14):
            return refuse(self, "bad_gtin", f"{gtin14!r} is not a valid GTIN-14: tap the hang tag again")
        garment = Garment(gtin14, serial or None, now)
        if any(g.key == garment.key for g in self.garments):
            return refuse(self, "already_detected", f"{_label(garment.key)} is already on the list")
        tried = self.tried if gtin14 in self.tried else (*self.tried, gtin14)
        room = replace(
            self,
            state=RoomState.BROWSING,
            garments=(*self.garments, garment),
            tried=tried,
            items_in=self.items_in + 1,
        )
        data: dict[str, object] = {"gtin14": gtin14, "method": DETECT_METHOD}
        if garment.serial:
            data["serial"] = garment.serial
        return applied(room, room._event("garment.detected", SHOPPER, now, **data))

    def garment_left(self, gtin14: str, serial: str | None = None, *, now: float) -> Outcome[Room]:
        allowed = {RoomState.BROWSING, RoomState.CHECKOUT_HANDOFF, RoomState.CLOSING}
        if refused := self._check("record a garment leaving", allowed):
            return refused
        key = (gtin14, serial or None)
        if not any(g.key == key for g in self.garments):
            return refuse(self, "not_in_room", f"{_label(key)} is not in room {self.room_id}")
        room = replace(self, garments=tuple(g for g in self.garments if g.key != key), items_out=self.items_out + 1)
        data: dict[str, object] = {"gtin14": gtin14}
        if serial:
            data["serial"] = serial
        return applied(room, room._event("garment.left", SHOPPER, now, **data))

    def save_tryon_list(self, pseudonym: str, consent: AbstractSet[str], *, now: float) -> Outcome[Room]:
        """Loyalty tap or app QR with "profile" consent: the try-on list goes to the profile as a wishlist."""
        if refused := self._check("save the try-on list", {RoomState.BROWSING, RoomState.CHECKOUT_HANDOFF}):
            return refused
        if not pseudonym:
            return refuse(self, "no_pseudonym", "identify with the app QR or a loyalty tap first")
        if PROFILE_SCOPE not in consent:
            return refuse(self, "no_consent", 'saving to your profile needs your "profile" consent')
        if not self.tried:
            return refuse(self, "no_garments", "no garments were tried on in this session")
        room = replace(self, profile=pseudonym)
        items = [{"gtin14": g} for g in self.tried]
        return applied(room, room._event("tryon.list.saved", SHOPPER, now, profile_id=pseudonym, items=items))

    def checkout(self, channel: str, *, now: float) -> Outcome[Room]:
        """The shopper taps "pay now": the garments are handed to the POS or the app; the mirror takes no payment."""
        if refused := self._check("check out", {RoomState.BROWSING}):
            return refused
        if channel not in CHECKOUT_CHANNELS:
            return refuse(
                self, "unknown_channel", f"checkout channel {channel!r} is not one of {sorted(CHECKOUT_CHANNELS)}"
            )
        if not self.garments:
            return refuse(self, "no_garments", "no garments in the room to pay for")
        room = replace(self, state=RoomState.CHECKOUT_HANDOFF)
        items = [{"gtin14": g.gtin14, "quantity": 1} for g in self.garments]
        return applied(room, room._event("checkout.handoff", SHOPPER, now, channel=channel, items=items))

    def close(self, *, now: float) -> Outcome[Room]:
        """The shopper is leaving: garments may still be tapped out, none tapped in."""
        if refused := self._check("close", {RoomState.OCCUPIED, RoomState.BROWSING, RoomState.CHECKOUT_HANDOFF}):
            return refused
        return applied(replace(self, state=RoomState.CLOSING))

    def vacate(self, *, now: float, reason: str = "shopper_left") -> Outcome[Room]:
        """The room is empty again: end the session and purge it (garments, list, profile)."""
        if refused := self._check("vacate", IN_SESSION):
            return refused
        assert self.started_at is not None
        data = {
            "duration_s": now - self.started_at,
            "items_in": self.items_in,
            "items_out": self.items_out,
            "items_left_in_room": len(self.garments),
            "reason": reason,
        }
        event = self._event("room.session.ended", SYSTEM, now, **data)
        return applied(Room(self.room_id, last_session_id=self.session_id), event)

    def request_assist(
        self,
        request_id: str,
        type: str,
        target_gtin: str | None = None,
        *,
        now: float,
        timers: AssistTimers = DEFAULT_ASSIST_TIMERS,
    ) -> Outcome[AssistRequest | None]:
        """The shopper asks for another size, colour, style or for help, from a browsing session."""
        if self.state is not RoomState.BROWSING or self.session_id is None:
            reason = "room_vacant" if self.state is RoomState.VACANT else WRONG_STATE
            return refuse(None, reason, f"cannot request an assist: room {self.room_id} is {self.state.value}")
        return AssistRequest.request(
            request_id,
            room_id=self.room_id,
            session_id=self.session_id,
            type=type,
            target_gtin=target_gtin,
            now=now,
            timers=timers,
        )

    def _check(self, command: str, allowed: AbstractSet[RoomState]) -> Outcome[Room] | None:
        if self.state in allowed:
            return None
        if self.state is RoomState.VACANT:
            return refuse(self, "room_vacant", f"cannot {command}: room {self.room_id} has no session")
        return refuse(self, WRONG_STATE, f"cannot {command}: room {self.room_id} is {self.state.value}")

    def _event(self, name: str, actor: str, at: float, **data: object) -> WorkflowEvent:
        assert self.session_id is not None
        payload: dict[str, object] = {"room_id": self.room_id, **data}
        if self.profile is not None:
            payload["profile"] = self.profile
        return WorkflowEvent(name, self.session_id, actor, at, payload)


def _label(key: tuple[str, str | None]) -> str:
    return f"{key[0]} serial {key[1]}" if key[1] else key[0]
