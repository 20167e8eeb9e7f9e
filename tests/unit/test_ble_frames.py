"""Beacon frames: each layout parsed to its typed frame, every malformation rejected with a stable reason,
and no byte string -- however hostile -- makes the parser or the filter raise."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.frames import (
    AltBeacon,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    IBeacon,
    Rejected,
    format_beacon_id,
    parse_advert,
    parse_beacon_id,
    parse_eddystone,
    parse_manufacturer,
)
from edge_agent.readers.ble.reader import BleReader
from simulators.beacons import EDDYSTONE_UUID, altbeacon, eddystone_tlm, eddystone_uid, eddystone_url, ibeacon

U = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def test_ibeacon_layout() -> None:
    ((company, data),) = ibeacon(U, 258, 772, power=-61).items()
    frame = parse_manufacturer(company, data)
    assert isinstance(frame, IBeacon)
    assert (frame.major, frame.minor, frame.power_1m) == (258, 772, -61)
    assert frame.beacon_id == f"ibeacon:{U}:258:772"


def test_altbeacon_under_any_company_id() -> None:
    ((company, data),) = altbeacon(U, 7, 42, ref_rssi=-65, company=0x0059).items()
    frame = parse_manufacturer(company, data)
    assert isinstance(frame, AltBeacon)
    assert (frame.company, frame.ref_rssi, frame.beacon_id) == (0x0059, -65, f"altbeacon:{U}:7:42")


def test_eddystone_uid_with_and_without_the_rfu_bytes() -> None:
    data = eddystone_uid("edd1ebeac04e5defa017", "0badc0ffee01", tx_0m=-20)[EDDYSTONE_UUID]
    for variant in (data, data[:18]):
        frame = parse_eddystone(variant)
        assert frame == EddystoneUid(-20, bytes.fromhex("edd1ebeac04e5defa017"), bytes.fromhex("0badc0ffee01"))


@pytest.mark.parametrize("url", ["https://example.com/dairy", "http://www.shop.org", "https://a.b/c.info/x"])
def test_eddystone_url_round_trips_through_the_compressed_encoding(url: str) -> None:
    frame = parse_eddystone(eddystone_url(url, tx_0m=-10)[EDDYSTONE_UUID])
    assert frame == EddystoneUrl(-10, url)


def test_eddystone_tlm_units() -> None:
    frame = parse_eddystone(eddystone_tlm(2950, -3.5, 1234, 360.5)[EDDYSTONE_UUID])
    assert frame == EddystoneTlm(2950, -3.5, 1234, 360.5)
    no_sensors = parse_eddystone(eddystone_tlm(0, None, 1, 0)[EDDYSTONE_UUID])
    assert no_sensors == EddystoneTlm(None, None, 1, 0.0)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ((0x004C, b"\x02\x15" + bytes(20)), "ibeacon_length"),
        ((0x0118, b"\xbe\xac" + bytes(23)), "altbeacon_length"),
        (b"", "eddystone_empty"),
        (b"\x00\xf0" + bytes(10), "eddystone_uid_length"),
        (b"\x10\xf0\x09abc", "eddystone_url_scheme"),
        (b"\x10\xf0\x03ab\x7f", "eddystone_url_encoding"),
        (b"\x10\xf0\x03" + b"a" * 18, "eddystone_url_length"),
        (b"\x20\x00" + bytes(5), "eddystone_tlm_length"),
        (b"\x20\x01" + bytes(12), "eddystone_tlm_encrypted"),
        (b"\x20\x07" + bytes(12), "eddystone_tlm_version"),
        (b"\x30\xf0" + bytes(8), "eddystone_eid_unsupported"),
        (b"\x40\x00", "eddystone_frame_type"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(frame: bytes | tuple[int, bytes], reason: str) -> None:
    result = parse_manufacturer(*frame) if isinstance(frame, tuple) else parse_eddystone(frame)
    assert isinstance(result, Rejected) and result.reason == reason


def test_ambient_manufacturer_data_is_not_a_beacon_at_all() -> None:
    assert parse_manufacturer(0x004C, bytes.fromhex("1005031c0a5b7e")) is None  # Apple Nearby Info
    assert parse_manufacturer(0x0006, b"\x01\x09\x20\x02") is None  # Microsoft CDP
    assert parse_advert({0x0006: b"\x01"}, {"0000fe9f-0000-1000-8000-00805f9b34fb": b"\x00"}) == []


@pytest.mark.parametrize(
    "text",
    [
        f"ibeacon:{U}:1:2",
        f"altbeacon:{U}:0:65535",
        "eddystone-uid:edd1ebeac04e5defa017:0badc0ffee01",
        "eddystone-url:https://x.io/a",
    ],
)
def test_beacon_ids_round_trip_in_canonical_form(text: str) -> None:
    assert format_beacon_id(parse_beacon_id(text.replace(U, U.upper()))) == text


@pytest.mark.parametrize(
    "text", ["ibeacon:nope:1:2", f"ibeacon:{U}:1", f"ibeacon:{U}:1:70000", "mac:AA:BB", "eddystone-uid:ab:cd"]
)
def test_bad_beacon_ids_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_beacon_id(text)


payloads = st.binary(max_size=40)
prefixed = st.tuples(
    st.sampled_from([b"", b"\x02\x15", b"\xbe\xac", b"\x00", b"\x10", b"\x20", b"\x20\x00", b"\x30"]), payloads
).map(lambda p: p[0] + p[1])
companies = st.one_of(st.just(0x004C), st.just(0x0118), st.integers(0, 0xFFFF))


@given(st.dictionaries(companies, prefixed, max_size=3), st.one_of(st.none(), prefixed))
def test_the_parser_never_raises_on_arbitrary_bytes(mfr: dict[int, bytes], eddystone: bytes | None) -> None:
    svc = {} if eddystone is None else {EDDYSTONE_UUID: eddystone}
    for frame in parse_advert(mfr, svc):
        assert isinstance(frame, IBeacon | AltBeacon | EddystoneUid | EddystoneUrl | EddystoneTlm | Rejected)


@given(
    st.lists(
        st.tuples(
            st.dictionaries(companies, prefixed, max_size=2), st.one_of(st.none(), prefixed), st.integers(-127, 20)
        ),
        max_size=20,
    )
)
def test_the_reader_hot_path_never_raises_on_arbitrary_adverts(
    adverts: list[tuple[dict[int, bytes], bytes | None, int]],
) -> None:
    events: list[object] = []
    reader = BleReader(
        BleConfig.model_validate(
            {"registry": {"store_beacons": [{"id": f"ibeacon:{U}:1:2", "name": "a", "zone": "b"}]}}
        ),
        events.append,
    )
    for mfr, eddystone, rssi in adverts:
        reader.process_advert(mfr, {} if eddystone is None else {EDDYSTONE_UUID: eddystone}, rssi, "C4:7A:11:22:33:01")
    reader.tick()
    assert reader.counts["adverts"] == len(adverts)


def test_an_unchanged_payload_skips_parsing_and_only_feeds_rssi() -> None:
    events: list[object] = []
    reader = BleReader(
        BleConfig.model_validate(
            {
                "registry": {"store_beacons": [{"id": f"ibeacon:{U}:1:2", "name": "a", "zone": "b"}]},
                "zones": {"min_dwell_s": 0},
            }
        ),
        events.append,
    )
    mfr = ibeacon(U, 1, 2)
    for rssi in (-80, -79, -81):
        reader.process_advert(mfr, {}, rssi, "C4:7A:11:22:33:01")
    assert (reader.counts["registered"], reader.counts["unchanged"]) == (1, 2)
    assert struct.unpack(">H", mfr[0x004C][18:20]) == (1,)
