"""Zones: smoothed RSSI mapped to immediate / near / far / gone with a hysteresis band, a minimum dwell and
an absence timeout -- and a noisy walk-by never flaps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.readers.ble.config import BleConfig, ZoneSection
from edge_agent.readers.ble.events import ZONES as ZONE_ORDER
from edge_agent.readers.ble.events import ProximityTokenSeen, ZoneChanged, ZoneDwell
from edge_agent.readers.ble.registry import Entry
from edge_agent.readers.ble.zones import BeaconTracker, Dwell, Transition, ZoneTracker
from simulators.beacons import associate_badge, dwell_at_shelf, walk_by

ZONES = ZoneSection()  # production defaults: -55 / -68 / -90 dBm, 6 dB band, tau 2 s, dwell 2 s, absence 8 s
SHELF_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def feed(tracker: ZoneTracker, samples: list[tuple[float, float]]) -> list[Transition]:
    out = []
    for t, rssi in samples:
        change = tracker.sighting(rssi, t)
        if change is not None:
            out.append(change)
    return out


def test_a_new_zone_is_reported_only_after_the_minimum_dwell() -> None:
    tracker = ZoneTracker(ZONES)
    assert feed(tracker, [(0.0, -60), (1.0, -60), (1.9, -60)]) == []
    (change,) = feed(tracker, [(2.0, -60)])
    assert (change.previous, change.zone) == ("gone", "near")


def test_inside_the_hysteresis_band_the_zone_holds() -> None:
    tracker = ZoneTracker(ZONES.model_copy(update={"min_dwell_s": 0.0, "ema_tau_s": 0.01}))
    feed(tracker, [(0.0, -60.0)])
    assert tracker.zone == "near"
    # near_dbm -68 with a 6 dB band: leaving near needs < -71, re-entering needs >= -65
    assert feed(tracker, [(t, -70.5) for t in range(1, 10)]) == [] and tracker.zone == "near"
    (down,) = feed(tracker, [(10.0, -71.5)])
    assert down.zone == "far"
    assert feed(tracker, [(t, -66.0) for t in range(11, 20)]) == [] and tracker.zone == "far"


def test_silence_longer_than_the_absence_timeout_is_gone_with_the_time_spent() -> None:
    tracker = ZoneTracker(ZONES.model_copy(update={"min_dwell_s": 0.0}))
    feed(tracker, [(0.0, -50.0)])
    assert tracker.tick(5.0) is None
    change = tracker.tick(8.5)
    assert isinstance(change, Transition)
    assert (change.previous, change.zone, change.previous_dwell_s) == ("immediate", "gone", 8.5)


def test_a_long_stay_reports_dwell_periodically() -> None:
    tracker = ZoneTracker(ZONES.model_copy(update={"min_dwell_s": 0.0, "dwell_event_s": 10.0}))
    dwells = []
    for t in range(0, 35):
        tracker.sighting(-60, float(t))
        if isinstance(d := tracker.tick(float(t)), Dwell):
            dwells.append(d)
    assert [d.dwell_s for d in dwells] == [10.0, 20.0, 30.0]


def levels_of(changes: list[Transition]) -> list[str]:
    return [c.zone for c in changes]


@pytest.mark.parametrize("seed", range(200))
def test_a_noisy_walk_by_rises_to_immediate_and_falls_to_gone_without_flapping(seed: int) -> None:
    walk = walk_by(seed=seed)  # σ 5 dB log-normal shadowing, 10 Hz, 12 m -> 0.3 m -> 12 m
    tracker = ZoneTracker(ZONES)
    changes = feed(tracker, [(s.t, s.rssi) for s in walk.samples])
    end = walk.duration_s + ZONES.absence_s + 1
    changes += [c for c in [tracker.tick(end)] if isinstance(c, Transition)]
    levels = [ZONE_ORDER.index(z) for z in levels_of(changes)]
    peak = levels.index(max(levels))
    # monotonic up to immediate, monotonic down to gone: a zone may be skipped (crossed within the minimum
    # dwell), never re-entered
    assert levels[: peak + 1] == sorted(set(levels[: peak + 1])) and ZONE_ORDER[levels[peak]] == "immediate"
    assert levels[peak:] == sorted(set(levels[peak:]), reverse=True) and levels[-1] == 0


@pytest.mark.parametrize("seed", range(50))
def test_dwelling_at_a_shelf_is_one_visit_to_near(seed: int) -> None:
    stay = dwell_at_shelf(seed=seed, shelf_m=1.0, dwell_s=20.0)
    tracker = ZoneTracker(ZONES)
    changes = feed(tracker, [(s.t, s.rssi) for s in stay.samples])
    assert levels_of(changes) == ["far", "near", "far"]
    assert changes[1].previous_dwell_s > 0 and changes[2].previous_dwell_s >= 18


@pytest.mark.parametrize("seed", range(50))
def test_a_slow_beaconing_associate_badge_is_immediate_while_working(seed: int) -> None:
    badge = associate_badge(seed=seed)  # 2 Hz
    tracker = ZoneTracker(ZONES)
    assert "immediate" in levels_of(feed(tracker, [(s.t, s.rssi) for s in badge.samples]))


def test_an_app_token_is_offered_once_per_approach_and_never_named_in_zone_events() -> None:
    tracker = BeaconTracker(ZONES.model_copy(update={"min_dwell_s": 0.0, "ema_tau_s": 0.01}))
    app = Entry("app:3f2a9c", "app", "", token_hex="c0ffee42")
    events = []
    for t, rssi in [(0, -80), (1, -60), (2, -50), (3, -60), (4, -50), (5, -80), (6, -60)]:
        events += tracker.sighting(app, rssi, float(t), 1000.0 + t)
    offers = [e for e in events if isinstance(e, ProximityTokenSeen)]
    assert [(o.token_hex, o.zone) for o in offers] == [("c0ffee42", "near"), ("c0ffee42", "near")]
    assert all("c0ffee42" not in repr(e) for e in events)
    assert all(e.beacon == "app:3f2a9c" for e in events if isinstance(e, ZoneChanged | ZoneDwell))


def test_the_tracker_is_bounded_and_forgets_gone_beacons() -> None:
    tracker = BeaconTracker(ZONES.model_copy(update={"min_dwell_s": 0.0}), max_tracked=3)
    for i in range(10):
        tracker.sighting(Entry(f"app:{i}", "app", "", token_hex=f"{i:08x}"), -60, float(i), float(i))
    assert len(tracker.beacons) == 3
    tracker.tick(100.0, 100.0)
    tracker.tick(100.0, 100.0)
    assert tracker.beacons == {}


def test_zone_thresholds_must_leave_room_for_the_band() -> None:
    with pytest.raises(ValidationError, match="descend"):
        BleConfig.model_validate({"zones": {"immediate_dbm": -60, "near_dbm": -62, "hysteresis_db": 6}})
    with pytest.raises(ValidationError, match="extra"):
        BleConfig.model_validate({"zones": {"immediat_dbm": -50}})
    upper, lower = f"ibeacon:{SHELF_UUID.upper()}:1:2", f"ibeacon:{SHELF_UUID}:1:2"
    with pytest.raises(ValidationError, match="listed twice"):
        BleConfig.model_validate(
            {
                "registry": {
                    "store_beacons": [{"id": upper, "name": "a", "zone": "b"}],
                    "associate_badges": [{"id": lower, "associate_id": "e1"}],
                }
            }
        )
