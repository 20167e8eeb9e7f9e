"""The fitting-room mirror and its assist requests (retail note §1.4): rules, then random command sequences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.workflows import assist as AS
from edge_agent.domain.workflows import fitting_room as FR
from edge_agent.domain.workflows.assist import AssistRequest, AssistState, AssistTimers
from edge_agent.domain.workflows.common import Outcome, Source
from edge_agent.domain.workflows.fitting_room import Room, RoomState
from edge_agent.identifiers.gtin import gtin_check_digit
from tests.support.fuzz import fuzz


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


DRESS_S, DRESS_M, COAT = gtin(7001), gtin(7002), gtin(7100)
A, B = "assoc-ann", "assoc-bob"
TIMERS = AssistTimers(ack_s=60, delivery_s=300, max_level=3)
PROFILE = frozenset({"profile"})

R = TypeVar("R")


def ok(out: Outcome[R]) -> R:
    assert out.refused is None, out.refused
    return out.state


def refused(out: Outcome[R], before: R, reason: str) -> None:
    assert out.refused is not None and out.refused.reason == reason, out.refused
    assert out.state is before and out.events == () and out.refused.detail


def browsing(session_id: str = "s-1") -> Room:
    room = ok(Room("room-3").occupy(session_id, now=0))
    return ok(room.garment_detected(DRESS_S, "SN-1", now=1))


def requested(now: float = 100.0) -> AssistRequest:
    req = ok(browsing().request_assist("rq-1", "size", DRESS_M, now=now, timers=TIMERS))
    assert req is not None
    return req


# --- the room ---------------------------------------------------------------------------------------------------


def test_a_session_lists_tapped_garments_and_vacating_purges_it() -> None:
    room = browsing()
    room = ok(room.garment_detected(COAT, now=2))
    assert room.state is RoomState.BROWSING and [g.gtin14 for g in room.garments] == [DRESS_S, COAT]
    room = ok(room.garment_left(COAT, now=3))
    out = room.vacate(now=60)
    vacant = ok(out)
    assert vacant == Room("room-3", last_session_id="s-1")
    ((event),) = out.events
    assert event.name == "room.session.ended" and event.subject == "s-1"
    assert {k: event.data[k] for k in ("duration_s", "items_in", "items_out", "items_left_in_room")} == {
        "duration_s": 60,
        "items_in": 2,
        "items_out": 1,
        "items_left_in_room": 1,
    }


def test_the_next_session_has_a_new_id_and_no_garments() -> None:
    vacant = ok(browsing("s-1").vacate(now=10))
    refused(vacant.occupy("s-1", now=11), vacant, "session_id_reused")
    room = ok(vacant.occupy("s-2", now=11))
    assert room.session_id == "s-2" and room.garments == () and room.tried == () and room.profile is None


def test_a_repeated_tap_of_the_same_tag_is_not_counted_twice() -> None:
    room = browsing()
    refused(room.garment_detected(DRESS_S, "SN-1", now=2), room, "already_detected")
    assert ok(room.garment_detected(DRESS_S, "SN-2", now=2)).items_in == 2


def test_a_garment_is_tapped_in_only_during_a_session() -> None:
    vacant = Room("room-3")
    refused(vacant.garment_detected(DRESS_S, now=1), vacant, "room_vacant")
    room = browsing()
    refused(room.garment_detected("1234", now=2), room, "bad_gtin")
    closing = ok(room.close(now=3))
    refused(closing.garment_detected(COAT, now=4), closing, "wrong_state")
    assert ok(closing.garment_left(DRESS_S, "SN-1", now=4)).garments == ()
    refused(closing.garment_left(COAT, now=4), closing, "not_in_room")


def test_the_try_on_list_is_saved_as_a_wishlist_only_with_profile_consent() -> None:
    room = ok(browsing().garment_detected(COAT, now=2))
    refused(room.save_tryon_list("pseudo-9", frozenset({"analytics"}), now=3), room, "no_consent")
    out = room.save_tryon_list("pseudo-9", PROFILE, now=3)
    ((event),) = out.events
    assert event.name == "tryon.list.saved" and event.data["profile_id"] == "pseudo-9"
    assert event.data["items"] == [{"gtin14": DRESS_S}, {"gtin14": COAT}]
    assert not any(e.name.startswith("cart.") for e in out.events), "wishlist, never cart operations"
    after = ok(ok(out).garment_left(COAT, now=4))
    assert after.vacate(now=5).events[0].data["profile"] == "pseudo-9"
    assert ok(after.vacate(now=5)).profile is None


def test_without_consent_no_event_carries_a_profile() -> None:
    room = ok(browsing().garment_left(DRESS_S, "SN-1", now=2))
    assert "profile" not in room.vacate(now=3).events[0].data


def test_checkout_hands_the_garments_to_the_pos_and_the_room_then_closes() -> None:
    room = browsing()
    refused(room.checkout("cash_drawer", now=2), room, "unknown_channel")
    out = room.checkout("pos", now=2)
    assert ok(out).state is RoomState.CHECKOUT_HANDOFF and out.events[0].name == "checkout.handoff"
    assert out.events[0].data["items"] == [{"gtin14": DRESS_S, "quantity": 1}]
    assert ok(ok(out).close(now=3)).state is RoomState.CLOSING


# --- assist requests --------------------------------------------------------------------------------------------


def test_an_assist_is_requested_from_a_browsing_session_and_names_its_garment() -> None:
    room = browsing()
    out = room.request_assist("rq-1", "size", DRESS_M, now=5, timers=TIMERS)
    req = ok(out)
    assert req is not None and req.session_id == "s-1" and req.state is AssistState.REQUESTED
    assert out.events[0].data["target_gtin"] == DRESS_M
    assert ok(room.request_assist("rq-2", "help", now=5)) is not None

    def reason(room: Room, type: str, target: str | None) -> str | None:
        out = room.request_assist("rq-3", type, target, now=5)
        assert out.state is None and out.events == ()
        return out.refused.reason if out.refused else None

    assert reason(room, "colour", None) == "target_required"
    assert reason(room, "pizza", None) == "unknown_type"
    assert reason(room, "style", "12") == "bad_gtin"
    assert reason(Room("r"), "help", None) == "room_vacant"


def test_an_unacknowledged_request_escalates_one_level_per_ack_period_up_to_the_maximum() -> None:
    req = requested(now=100)
    assert req.tick(159).events == ()
    out = req.tick(160)
    assert [(e.name, e.data["level"], e.at) for e in out.events] == [("assist.escalated", 1, 160)]
    late = ok(out).tick(1000)
    assert [(e.data["level"], e.at) for e in late.events] == [(2, 220), (3, 280)]
    assert ok(late).level == 3 and ok(late).tick(5000).events == ()


def test_the_first_acknowledgement_wins_and_starts_the_delivery_timer() -> None:
    req = ok(requested(now=100).acknowledge(associate=A, now=130))
    refused(req.acknowledge(associate=B, now=131), req, "already_acknowledged")
    assert req.tick(429).events == ()
    out = req.tick(500)
    assert [(e.name, e.at) for e in out.events] == [("assist.delivery_timer_breached", 430)]
    assert ok(out).tick(10_000).events == ()
    delivered = req.delivered(associate=B, now=600)
    assert ok(delivered).state is AssistState.DELIVERED and delivered.events[0].data["delivery_s"] == 470


def test_an_acknowledged_request_does_not_escalate() -> None:
    req = ok(requested(now=100).acknowledge(associate=A, now=110))
    assert not any(e.name == "assist.escalated" for e in req.tick(250).events)


def test_delivery_or_unavailability_comes_after_an_acknowledgement() -> None:
    req = requested()
    refused(req.delivered(associate=A, now=120), req, "not_acknowledged")
    refused(req.unavailable(associate=A, now=120), req, "not_acknowledged")
    acked = ok(req.acknowledge(associate=A, now=120))
    assert ok(acked.unavailable(associate=A, now=130, reason="none in stock")).state is AssistState.UNAVAILABLE


def test_the_shopper_may_cancel_an_open_request_and_an_associate_may_not() -> None:
    req = requested()
    refused(req.cancel(source=Source.ASSOCIATE, now=110), req, "not_shopper")
    cancelled = ok(req.cancel(now=110))
    assert cancelled.state is AssistState.CANCELLED
    refused(cancelled.acknowledge(associate=A, now=111), cancelled, "wrong_state")
    assert cancelled.tick(10_000).events == ()


# --- random command sequences ---------------------------------------------------------------------------------

T_ = TypeVar("T_")
BYTE = st.integers(0, 255)
GTINS = [DRESS_S, DRESS_M, COAT, "99"]
SERIALS = [None, None, "SN-1", "SN-2", ""]


def choose(data: st.DataObject, options: Sequence[T_]) -> T_:
    return options[data.draw(BYTE) % len(options)]


ROOM_COMMANDS = ["occupy", "detect", "detect", "left", "save", "checkout", "close", "vacate"]


def run_room(data: st.DataObject, name: str, room: Room, now: float, next_id: str) -> Outcome[Room]:
    match name:
        case "occupy":
            return room.occupy(choose(data, [next_id, next_id, room.last_session_id or "", ""]), now=now)
        case "detect":
            return room.garment_detected(choose(data, GTINS), choose(data, SERIALS), now=now)
        case "left":
            held = [(g.gtin14, g.serial) for g in room.garments]
            g, s = choose(data, [*held, (COAT, None)])
            return room.garment_left(g, s, now=now)
        case "save":
            return room.save_tryon_list(choose(data, ["p9", ""]), choose(data, [PROFILE, frozenset()]), now=now)
        case "checkout":
            return room.checkout(choose(data, ["pos", "app", "cash"]), now=now)
        case "close":
            return room.close(now=now)
        case _:
            return room.vacate(now=now)


@fuzz(200)
@given(data=st.data())
def test_no_sequence_leaves_a_room_invalid_and_a_vacated_room_holds_nothing(data: st.DataObject) -> None:
    room, now = Room("room-3"), 0.0
    sessions: list[str] = []
    consented_saves = 0
    for _ in range(data.draw(st.integers(5, 40))):
        now += choose(data, [1, 0, 30])
        name = choose(data, ROOM_COMMANDS)
        before = room
        out = run_room(data, name, room, now, f"s-{len(sessions) + 1}")
        if out.refused is not None:
            assert out.refused.reason in FR.REFUSAL_REASONS and out.refused.detail
            assert out.state is before and out.events == ()
            continue
        room = out.state
        for event in out.events:
            assert event.name in FR.EVENT_NAMES and event.actor and event.at == now
            assert event.subject == (before.session_id or room.session_id)
            assert not event.name.startswith("cart."), "the mirror never touches a cart"
            if event.name == "room.session.started":
                sessions.append(event.subject)
            if event.name == "tryon.list.saved":
                consented_saves += 1
        assert room.state in set(RoomState)
        assert len(sessions) == len(set(sessions)), "a session id was reused"
        keys = [g.key for g in room.garments]
        assert len(keys) == len(set(keys)), "a garment listed twice"
        if room.state is RoomState.VACANT:
            assert room == Room("room-3", last_session_id=room.last_session_id), "a vacated room holds nothing"
        else:
            assert room.session_id == sessions[-1] and room.items_in - room.items_out == len(room.garments)
            assert set(g.gtin14 for g in room.garments) <= set(room.tried)
            assert room.profile is None or consented_saves > 0


ASSIST_COMMANDS = ["ack", "ack", "delivered", "unavailable", "cancel", "tick", "tick"]


@fuzz(200)
@given(data=st.data())
def test_no_sequence_leaves_an_assist_request_invalid_and_escalation_is_stepwise(data: st.DataObject) -> None:
    req, now = requested(now=0), 0.0
    levels: list[int] = []
    breaches = 0
    first_ack: str | None = None
    for _ in range(data.draw(st.integers(3, 30))):
        now += choose(data, [1, 30, 60, 200])
        name = choose(data, ASSIST_COMMANDS)
        who = choose(data, [A, B, ""])
        before = req
        match name:
            case "ack":
                out = req.acknowledge(associate=who, now=now)
            case "delivered":
                out = req.delivered(associate=who, now=now)
            case "unavailable":
                out = req.unavailable(associate=who, now=now)
            case "cancel":
                out = req.cancel(source=choose(data, [Source.SHOPPER, Source.SYSTEM, Source.ASSOCIATE]), now=now)
            case _:
                out = req.tick(now)
        if out.refused is not None:
            assert out.refused.reason in AS.REFUSAL_REASONS and out.refused.detail
            assert out.state is before and out.events == ()
            continue
        req = out.state
        for event in out.events:
            assert event.name in AS.EVENT_NAMES and event.subject == "rq-1" and event.actor and event.at <= now
            if event.name == "assist.escalated":
                levels.append(int(str(event.data["level"])))
            if event.name == "assist.delivery_timer_breached":
                breaches += 1
        assert req.state in set(AssistState)
        assert levels == list(range(1, len(levels) + 1)) and req.level == len(levels) <= TIMERS.max_level
        assert breaches <= 1 and breaches == int(req.delivery_breached)
        assert (req.associate is None) == (req.acknowledged_at is None)
        if req.state in (AssistState.ACKNOWLEDGED, AssistState.DELIVERED, AssistState.UNAVAILABLE):
            assert req.associate is not None
        first_ack = first_ack or req.associate
        assert req.associate in (None, first_ack), "an acknowledged request is never taken over"
        if before.state in AS.FINAL:
            assert req == before and out.events == ()
