"""BLE in the whole agent: bleak's real BlueZ backend (python-dbusmock on a private bus), real Mosquitto.

Presence leaves the device only as aggregates; an adapter that powers off is reported on the status topic
and scanning resumes by itself; an opted-in app nearby only invites the shopper to identify. No Bluetooth
address reaches MQTT or the database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from simulators.beacons import FakeBlueZ, altbeacon, app_token, ibeacon
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
STORE_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
BADGE_UUID = "2f234454-cf6d-4a0f-adf2-f4911ba9ffa6"
APP_UUID = "5a4bcfce-174e-4bac-a814-092e77f6b7e5"
BADGE_ADDRESS, SHELF_ADDRESS, PHONE_ADDRESS = "C4:7A:11:22:33:01", "D9:10:AB:CD:EF:03", "E2:55:66:77:88:04"
PREFIX = "rt/v1/acme/st/s042/dv/kiosk-01"


def ble_config(tmp_path: Path, port: int) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, port).model_dump(mode="json", exclude_none=True)
    raw["readers"] = {
        "ble": {
            "registry": {
                "store_beacons": [{"id": f"ibeacon:{STORE_UUID}:1:2", "name": "dairy-3", "zone": "dairy"}],
                "associate_badges": [{"id": f"altbeacon:{BADGE_UUID}:7:42", "associate_id": "emp-042"}],
                "app_token_uuid": APP_UUID,
            },
            "zones": {"min_dwell_s": 0.0, "absence_s": 2.0},
            "analytics": {"bucket_s": 10, "sightings_retention_s": 60, "min_count": 1},
            "watchdog_s": 600,
            "backoff_base_s": 0.1,
            "backoff_cap_s": 0.5,
        }
    }
    return AgentConfig.model_validate(raw)


def address_forms(address: str) -> list[bytes]:
    bare = address.replace(":", "")
    forms = [address, address.lower(), bare, bare.lower(), address.replace(":", "_"), address.replace(":", "-")]
    return [f.encode() for f in forms]


def ble_state(spy: Spy) -> str | None:
    statuses = spy.on(f"{PREFIX}/status")
    readers = statuses[-1]["data"].get("readers") if statuses else None
    return None if not readers or "ble" not in readers else f"{readers['ble']['state']} {readers['ble']['detail']}"


def test_presence_leaves_the_device_as_aggregates_only_and_no_address_reaches_mqtt_or_the_database(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    fake_bluez: FakeBlueZ,
    spy: Spy,
) -> None:
    agent = agent_factory(ble_config(tmp_path, broker.port))
    wait_until(lambda: (ble_state(spy) or "").startswith("ok"), 15, "the BLE reader reported ok on the status topic")
    for rssi in (-70, -55, -48, -47, -50):
        fake_bluez.advertise(BADGE_ADDRESS, rssi, mfr=altbeacon(BADGE_UUID, 7, 42))
        fake_bluez.advertise(SHELF_ADDRESS, rssi - 10, mfr=ibeacon(STORE_UUID, 1, 2))
    fake_bluez.advertise(PHONE_ADDRESS, -40, mfr={0x004C: bytes.fromhex("1005031c0a5b7e")})  # a passer-by's phone

    def associate_reported() -> bool:
        for report in spy.on(f"{PREFIX}/presence"):
            for zone in report["data"]["zones"]:
                if zone["role"] == "associate" and zone["visitors"] == 1:
                    return True
        return False

    wait_until(
        associate_reported, 40, "a presence report counting the associate", details=lambda: spy.on(f"{PREFIX}/presence")
    )
    report = spy.on(f"{PREFIX}/presence")[0]
    assert report["type"] == "com.edgeagent.presence.report.v1"
    assert set(report["data"]) == {"bucket_start", "bucket_s", "dwell_bins_s", "zones", "suppressed_cells"}
    agent.stop()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("kiosk-01.db*"))
    for address in (BADGE_ADDRESS, SHELF_ADDRESS, PHONE_ADDRESS):
        for form in address_forms(address):
            assert form not in spy.everything(), f"{form!r} published"
            assert form not in on_disk, f"{form!r} stored"


def test_an_adapter_that_powers_off_is_reported_on_the_status_topic_and_scanning_resumes_by_itself(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    fake_bluez: FakeBlueZ,
    spy: Spy,
) -> None:
    agent = agent_factory(ble_config(tmp_path, broker.port))
    wait_until(lambda: (ble_state(spy) or "").startswith("ok"), 15, "ble ok")
    fake_bluez.set_powered(False)
    wait_until(lambda: (ble_state(spy) or "").startswith("degraded powered_off"), 15, "degraded on the status topic")
    agent.scan("04006381333931")  # the other readers and the sync carry on
    wait_until(lambda: central.cart(agent.cart_id) == {"04006381333931": 1}, 15, "a scan synced while BLE is down")
    fake_bluez.set_powered(True)
    wait_until(lambda: (ble_state(spy) or "").startswith("ok"), 15, "ok again, without a restart")


def test_an_opted_in_app_nearby_invites_the_shopper_to_identify_but_identifies_nobody(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    fake_bluez: FakeBlueZ,
    spy: Spy,
) -> None:
    agent_factory(ble_config(tmp_path, broker.port))
    wait_until(lambda: (ble_state(spy) or "").startswith("ok"), 15, "ble ok")
    token = 0x5EC2E7A1
    fake_bluez.advertise(PHONE_ADDRESS, -45, mfr=app_token(APP_UUID, token))

    def invited() -> bool:
        states = spy.on(f"{PREFIX}/session")
        return bool(states) and states[-1]["data"]["app_nearby"] is True

    wait_until(invited, 15, "the session state invites the shopper to identify")
    state = spy.on(f"{PREFIX}/session")[-1]["data"]
    assert state["identified"] is False and state["state"] == "anonymous"
    assert f"{token:08x}".encode() not in spy.everything(), "the app's token never leaves the device"
