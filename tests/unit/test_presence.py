"""Presence analytics: occupancy and dwell per zone and bucket, computed on the device; raw visits are
held only until reported and never beyond the retention window; small shopper cells are suppressed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from edge_agent.contract.presence import PresenceReport
from edge_agent.presence import PresenceAggregator, PresenceConfig
from edge_agent.readers.ble.events import Role, Zone, ZoneChanged

T0 = 1_800_000_000.0  # a multiple of 300 s: bucket boundaries fall on T0 + k*300


def change(beacon: str, previous: Zone, zone: Zone, at: float, role: Role = "associate") -> ZoneChanged:
    return ZoneChanged(beacon, role, "", previous, zone, -60.0, 0.0, "ble", at)


def cell(report: PresenceReport, role: str, zone: str) -> tuple[int, int, list[int]]:
    (found,) = [z for z in report.zones if (z.role, z.zone) == (role, zone)]
    return found.visitors, found.peak_occupancy, found.dwell_histogram


def test_occupancy_and_dwell_per_zone_and_bucket() -> None:
    agg = PresenceAggregator(PresenceConfig(bucket_s=300, dwell_bins_s=[30, 120], min_count=1))
    agg.observe(change("a", "gone", "near", T0 + 10))
    agg.observe(change("b", "gone", "near", T0 + 20))
    agg.observe(change("a", "near", "gone", T0 + 30))  # 20 s visit
    agg.observe(change("c", "gone", "near", T0 + 40))  # overlaps b only: peak stays 2
    agg.observe(change("b", "near", "gone", T0 + 200))  # 180 s visit
    assert agg.flush(T0 + 299) == []  # the bucket is not over yet
    (report,) = agg.flush(T0 + 300)
    assert report.bucket_start == datetime.fromtimestamp(T0, UTC)
    assert cell(report, "associate", "near") == (3, 2, [1, 0, 1])
    # c is still there: counted in the next bucket too, its visit not yet in any histogram
    agg.observe(change("c", "near", "gone", T0 + 400))
    (report2,) = agg.flush(T0 + 600)
    assert cell(report2, "associate", "near") == (1, 1, [0, 0, 1])


def test_shopper_cells_below_k_are_suppressed() -> None:
    agg = PresenceAggregator(PresenceConfig(min_count=3))
    for i in range(2):
        agg.observe(change(f"app:{i}", "gone", "immediate", T0 + i, role="app"))
    for i in range(3):
        agg.observe(change(f"app:n{i}", "gone", "near", T0 + i, role="app"))
    (report,) = agg.flush(T0 + 300)
    assert [(z.zone, z.visitors) for z in report.zones] == [("near", 3)]
    assert report.suppressed_cells == 1


def test_raw_visits_are_dropped_once_reported_and_bounded_by_retention() -> None:
    agg = PresenceAggregator(PresenceConfig(bucket_s=300, sightings_retention_s=600))
    for i in range(50):
        agg.observe(change(f"b{i}", "gone", "far", T0 + i))
        agg.observe(change(f"b{i}", "far", "gone", T0 + i + 5))
    assert agg.held_visits == 50
    agg.flush(T0 + 300)
    assert agg.held_visits == 0
    # nobody flushes for a day: only buckets inside the retention window are reported
    agg.observe(change("late", "gone", "near", T0 + 400))
    reports = agg.flush(T0 + 86_400)
    assert len(reports) == 2 and all(r.bucket_start >= datetime.fromtimestamp(T0 + 86_400 - 600, UTC) for r in reports)


def test_reports_are_ready_to_publish_as_json() -> None:
    agg = PresenceAggregator(PresenceConfig(min_count=1))
    agg.observe(change("a", "gone", "near", T0 + 1))
    (report,) = agg.flush(T0 + 300)
    assert PresenceReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sightings_retention_s": 90_000}, "less than or equal to 86400"),
        ({"bucket_s": 420}, "divide 3600"),
        ({"dwell_bins_s": [60, 30]}, "strictly increasing"),
        ({"bucket_s": 600, "sightings_retention_s": 300}, "at least bucket_s"),
        ({"bukket_s": 300}, "Extra inputs"),
    ],
)
def test_config_limits_give_clear_errors(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PresenceConfig.model_validate(settings)
