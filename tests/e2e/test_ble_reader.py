"""The BLE reader end to end: bleak's real BlueZ backend against python-dbusmock's bluez5 on a private bus.

Every advert here travels as a D-Bus signal from the mock process to bleak, and every assertion is on the
events the reader emits (or on what the fake adapter saw). Waits are generous; no duration is asserted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time

import pytest

from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.events import ZONES, BeaconTelemetry, ProximityTokenSeen, ZoneChanged
from edge_agent.readers.ble.zones import OFFER_ZONES
from edge_agent.readers.events import InputRejected, ReaderHealth
from simulators.beacons import (
    EDDYSTONE_UUID,
    FakeBlueZ,
    PrivateSystemBus,
    altbeacon,
    app_token,
    eddystone_tlm,
    eddystone_uid,
    eddystone_url,
    ibeacon,
    walk_by,
)
from tests.support.bluez import RunningReader

STORE_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
BADGE_UUID = "2f234454-cf6d-4a0f-adf2-f4911ba9ffa6"
APP_UUID = "5a4bcfce-174e-4bac-a814-092e77f6b7e5"
NAMESPACE, INSTANCE = "edd1ebeac04e5defa017", "0badc0ffee01"
URL = "https://example.com/dairy"

DAIRY = f"ibeacon:{STORE_UUID}:1:2"
BAKERY = f"ibeacon:{STORE_UUID}:1:3"
BADGE = f"altbeacon:{BADGE_UUID}:7:42"
ENDCAP = f"eddystone-uid:{NAMESPACE}:{INSTANCE}"
POSTER = f"eddystone-url:{URL}"

ADDRESSES = ["C4:7A:11:22:33:01", "C4:7A:11:22:33:02", "D9:10:AB:CD:EF:03", "E2:55:66:77:88:04"]


def config(**overrides: object) -> BleConfig:
    base: dict[str, object] = {
        "registry": {
            "store_beacons": [
                {"id": DAIRY, "name": "dairy-3", "zone": "dairy"},
                {"id": BAKERY, "name": "bakery-1", "zone": "bakery"},
                {"id": ENDCAP, "name": "endcap-2", "zone": "promo"},
                {"id": POSTER, "name": "poster-1", "zone": "promo"},
            ],
            "associate_badges": [{"id": BADGE, "associate_id": "emp-042"}],
            "app_token_uuid": APP_UUID,
        },
        "zones": {"min_dwell_s": 0.0},
        "watchdog_s": 600,
        "backoff_base_s": 0.1,
        "backoff_cap_s": 0.5,
    }
    return BleConfig.model_validate(base | overrides)


def is_health(state: str) -> object:
    return lambda e: isinstance(e, ReaderHealth) and e.state == state


def entered(beacon: str) -> object:
    return lambda e: isinstance(e, ZoneChanged) and e.beacon == beacon and e.entered


@pytest.mark.parametrize(
    ("frames", "beacon", "role", "label"),
    [
        ({"mfr": ibeacon(STORE_UUID, 1, 2)}, DAIRY, "store", "dairy-3"),
        ({"mfr": altbeacon(BADGE_UUID, 7, 42)}, BADGE, "associate", "emp-042"),
        ({"svc": eddystone_uid(NAMESPACE, INSTANCE)}, ENDCAP, "store", "endcap-2"),
        ({"svc": eddystone_url(URL)}, POSTER, "store", "poster-1"),
    ],
    ids=["ibeacon", "altbeacon", "eddystone-uid", "eddystone-url"],
)
def test_each_beacon_format_is_tracked_by_its_beacon_id(
    fake_bluez: FakeBlueZ, frames: dict[str, dict], beacon: str, role: str, label: str
) -> None:
    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -50, **frames)
            event = await r.wait_for(entered(beacon))
            assert isinstance(event, ZoneChanged)
            assert (event.role, event.label, event.zone, event.reader) == (role, label, "immediate", "ble")

    asyncio.run(scenario())


def test_eddystone_telemetry_is_tied_to_the_uid_frame_of_the_same_emitter(fake_bluez: FakeBlueZ) -> None:
    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -60, svc=eddystone_uid(NAMESPACE, INSTANCE))
            await r.wait_for(entered(ENDCAP))
            tlm = eddystone_tlm(battery_mv=2950, temperature_c=-3.5, adv_count=1234, uptime_s=360.5)
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -61, svc=tlm)
            # a TLM from another emitter has nothing to tie to: counted, not emitted
            await r.blocking(fake_bluez.advertise, ADDRESSES[1], -61, svc=tlm)
            event = await r.wait_for(lambda e: isinstance(e, BeaconTelemetry))
            assert event == BeaconTelemetry(ENDCAP, 2950, -3.5, 1234, 360.5, "ble", event.at)  # type: ignore[union-attr]
            await r.until(lambda: r.reader.counts["tlm_unlinked"] == 1, "unlinked TLM counted")

    asyncio.run(scenario())


def test_unregistered_adverts_are_dropped_at_the_filter_and_malformed_ones_rejected_with_a_reason(
    fake_bluez: FakeBlueZ,
) -> None:
    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            phone = {0x004C: bytes.fromhex("1005031c0a5b7e")}  # Apple Nearby Info of a shopper's phone
            foreign = ibeacon("11111111-2222-3333-4444-555555555555", 9, 9)  # someone else's iBeacon
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -40, mfr=phone)
            await r.blocking(fake_bluez.advertise, ADDRESSES[1], -40, mfr=foreign)
            await r.blocking(fake_bluez.advertise, ADDRESSES[2], -40, mfr={0x004C: b"\x02\x15" + bytes(10)})
            await r.until(lambda: r.reader.counts["adverts"] == 3, "three adverts seen")
            rejected = await r.wait_for(lambda e: isinstance(e, InputRejected))
            assert rejected == InputRejected("ble", "ibeacon_length", "12 bytes, expected 23 (1 so far)")
            assert r.reader.counts["not_registered"] == 2
            assert not [e for e in r.events if isinstance(e, ZoneChanged)]

    asyncio.run(scenario())


def test_random_garbage_adverts_never_break_the_reader(fake_bluez: FakeBlueZ) -> None:
    rng = random.Random(7)
    garbage = []
    for i in range(40):
        body = rng.randbytes(rng.randrange(0, 30))
        prefix = rng.choice([b"", b"\x02\x15", b"\xbe\xac", bytes([rng.choice([0x00, 0x10, 0x20, 0x30])])])
        if i % 2:
            garbage.append({"mfr": {rng.choice([0x004C, 0x0118, rng.randrange(65536)]): prefix + body}})
        else:
            garbage.append({"svc": {EDDYSTONE_UUID: prefix + body}})

    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            for n, frames in enumerate(garbage):
                await r.blocking(fake_bluez.advertise, f"C0:00:00:00:00:{n:02X}", -60, **frames)
            await r.until(lambda: r.reader.counts["adverts"] == len(garbage), "every garbage advert handled")
            assert r.reader.counts["callback_errors"] == 0
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -50, mfr=ibeacon(STORE_UUID, 1, 2))
            await r.wait_for(entered(DAIRY))
            assert r.reader.state == "ok"

    asyncio.run(scenario())


SPEED = 10.0
"""Scripted movements play 10x faster than real time; the reader's clock runs 10x too, so the tracker sees
the movement's own timing (EMA, dwell and absence in movement seconds)."""


def test_a_noisy_walk_by_moves_through_the_zones_without_flapping(fake_bluez: FakeBlueZ) -> None:
    walk = walk_by(seed=3, mfr=ibeacon(STORE_UUID, 1, 2))
    app_walk = walk_by(seed=4, mfr=app_token(APP_UUID, 0xC0FFEE42))
    cfg = config(zones={})  # production defaults: tau 2 s, 6 dB band, 2 s minimum dwell, 8 s absence

    async def scenario() -> None:
        async with RunningReader(cfg, clock=lambda: time.monotonic() * SPEED) as r:
            await r.wait_for(is_health("ok"))
            await asyncio.gather(
                r.blocking(fake_bluez.play, ADDRESSES[0], walk, SPEED),
                r.blocking(fake_bluez.play, ADDRESSES[1], app_walk, SPEED),
            )
            changes = [e for e in await _until_all_gone(r, 2) if isinstance(e, ZoneChanged)]
            for beacon in {e.beacon for e in changes}:
                levels = [ZONES.index(e.zone) for e in changes if e.beacon == beacon]
                peak = levels.index(max(levels))
                assert levels[: peak + 1] == sorted(set(levels[: peak + 1])), f"flapped on the way in: {levels}"
                assert levels[peak:] == sorted(set(levels[peak:]), reverse=True), f"flapped on the way out: {levels}"
                assert ZONES[max(levels)] == "immediate" and levels[-1] == 0
            offers = [e for e in r.events if isinstance(e, ProximityTokenSeen)]
            # Once per approach, on entering near or closer. Which of the two it enters first depends on the
            # samples' timing: a loaded machine delivers a moment of the walk late, and the average may step past
            # near in one update.
            assert [o.token_hex for o in offers] == ["c0ffee42"] and offers[0].zone in OFFER_ZONES
            app_changes = [e for e in changes if e.role == "app"]
            assert app_changes and all("c0ffee42" not in repr(e) for e in app_changes)

    asyncio.run(scenario())


async def _until_all_gone(r: RunningReader, beacons: int) -> list[object]:
    await r.until(
        lambda: sum(1 for e in r.events if isinstance(e, ZoneChanged) and e.exited) >= beacons, "beacons gone"
    )
    return list(r.events)


def test_adapter_unplugged_then_back_is_degraded_then_ok(fake_bluez: FakeBlueZ) -> None:
    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.remove_adapter)
            degraded = await r.wait_for(is_health("degraded"))
            assert isinstance(degraded, ReaderHealth) and degraded.detail.startswith("no_bluetooth")
            mark = len(r.events)
            await r.blocking(fake_bluez.add_adapter)
            await r.wait_for(is_health("ok"), start=mark)
            await r.blocking(fake_bluez.advertise, ADDRESSES[1], -50, mfr=ibeacon(STORE_UUID, 1, 3))
            await r.wait_for(entered(BAKERY), start=mark)

    asyncio.run(scenario())


def test_adapter_powered_off_then_on_is_degraded_then_ok(fake_bluez: FakeBlueZ) -> None:
    async def scenario() -> None:
        async with RunningReader(config()) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.set_powered, False)
            degraded = await r.wait_for(is_health("degraded"))
            assert isinstance(degraded, ReaderHealth) and degraded.detail.startswith("powered_off")
            mark = len(r.events)
            await r.blocking(fake_bluez.set_powered, True)
            await r.wait_for(is_health("ok"), start=mark)
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -50, mfr=ibeacon(STORE_UUID, 1, 2))
            await r.wait_for(entered(DAIRY), start=mark)

    asyncio.run(scenario())


def test_no_adapter_at_start_is_degraded_until_one_appears(system_bus: PrivateSystemBus) -> None:
    with FakeBlueZ().start(with_adapter=False) as fake:

        async def scenario() -> None:
            async with RunningReader(config()) as r:
                degraded = await r.wait_for(is_health("degraded"))
                assert isinstance(degraded, ReaderHealth) and degraded.detail.startswith("no_bluetooth")
                await r.blocking(fake.add_adapter)
                await r.wait_for(is_health("ok"))

        asyncio.run(scenario())


def test_the_watchdog_restarts_discovery_when_adverts_stop(fake_bluez: FakeBlueZ) -> None:
    async def scenario() -> None:
        async with RunningReader(config(watchdog_s=1.0)) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -50, mfr=ibeacon(STORE_UUID, 1, 2))
            await r.wait_for(entered(DAIRY))
            starts = await r.blocking(fake_bluez.start_discovery_calls)
            await r.until(lambda: r.reader.counts["watchdog_restarts"] >= 1, "watchdog restart")
            assert await r.blocking(fake_bluez.start_discovery_calls) > starts
            await r.blocking(fake_bluez.advertise, ADDRESSES[1], -50, mfr=ibeacon(STORE_UUID, 1, 3))
            await r.wait_for(entered(BAKERY))
            assert not [e for e in r.events if isinstance(e, ReaderHealth) and e.state == "degraded"]

    asyncio.run(scenario())


def test_passive_scanning_delivers_adverts(fake_bluez: FakeBlueZ) -> None:
    async def scenario() -> None:
        async with RunningReader(config(scanning_mode="passive")) as r:
            await r.wait_for(is_health("ok"))
            await r.blocking(fake_bluez.advertise, ADDRESSES[0], -50, mfr=ibeacon(STORE_UUID, 1, 2))
            await r.wait_for(entered(DAIRY))
            assert r.reader.mode == "passive"

    asyncio.run(scenario())


def test_passive_falls_back_to_active_where_bluez_has_no_advertisement_monitor(system_bus: PrivateSystemBus) -> None:
    with FakeBlueZ(monitor_api=False) as fake:

        async def scenario() -> None:
            async with RunningReader(config(scanning_mode="passive")) as r:
                health = await r.wait_for(is_health("ok"))
                assert isinstance(health, ReaderHealth) and health.detail.endswith("(active)")
                await r.blocking(fake.advertise, ADDRESSES[0], -50, mfr=ibeacon(STORE_UUID, 1, 2))
                await r.wait_for(entered(DAIRY))
                assert r.reader.counts["passive_fallbacks"] == 1

        asyncio.run(scenario())


def _address_forms(address: str) -> set[str]:
    bare = address.replace(":", "")
    forms = {address, bare, address.replace(":", "_"), address.replace(":", "-")}
    return {f.lower() for f in forms} | {f.upper() for f in forms}


def test_no_event_field_or_log_line_carries_a_bluetooth_address(
    fake_bluez: FakeBlueZ, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge_agent")

    async def scenario() -> RunningReader:
        async with RunningReader(config(zones={"min_dwell_s": 0.0, "absence_s": 0.5})) as r:
            await r.wait_for(is_health("ok"))
            sends = [
                (ADDRESSES[0], {"mfr": ibeacon(STORE_UUID, 1, 2)}),
                (ADDRESSES[1], {"mfr": altbeacon(BADGE_UUID, 7, 42)}),
                (ADDRESSES[2], {"svc": eddystone_uid(NAMESPACE, INSTANCE)}),
                (ADDRESSES[2], {"svc": eddystone_tlm(adv_count=5)}),
                (ADDRESSES[3], {"mfr": app_token(APP_UUID, 0x01020304)}),
                (ADDRESSES[3], {"mfr": {0x004C: b"\x02\x15\x00"}}),
            ]
            for address, frames in sends:
                await r.blocking(fake_bluez.advertise, address, -45, **frames)
            await r.wait_for(lambda e: isinstance(e, BeaconTelemetry))
            await r.wait_for(lambda e: isinstance(e, ProximityTokenSeen))
            await r.until(lambda: sum(isinstance(e, ZoneChanged) and e.exited for e in r.events) >= 4, "all gone")
            return r

    r = asyncio.run(scenario())
    texts = [repr(e) for e in r.events]
    texts += [str(f) for e in r.events for f in dataclasses.astuple(e)]  # fields hidden from a custom repr too
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(r.reader.counts), repr(r.reader.tracker.beacons)]
    assert len(r.events) > 10
    for address in ADDRESSES:
        for form in _address_forms(address):
            leaks = [t for t in texts if form in t or form in t.upper() or form in t.lower()]
            assert not leaks, f"{form} leaked: {leaks}"
