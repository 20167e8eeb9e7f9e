"""The platform's requests to a device and the device's answers, with valid examples (docs/asyncapi.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent.asyncapi.examples import EXAMPLE_SOURCE as _SRC
from edge_agent.contract.requests import DeviceRequest, DeviceRequestEvent, DeviceResponse, DeviceResponseEvent

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def request_messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    return {
        "deviceRequest": (
            "A request to one device",
            DeviceRequestEvent,
            DeviceRequestEvent(
                source="urn:acme:platform:desk",
                id="request:5b0c2f1e",
                time=_T0,
                data=DeviceRequest(id="5b0c2f1e", params={"level": "DEBUG", "for_s": 300}),
            ),
            "From the platform (only it may write `request/#`) to `dv/{device}/request/{name}`; QoS 1, not retained. "
            "Names: `health` (the health message's figures now), `doctor` (the doctor's report), "
            "`config/get` (the device's effective config document; secrets are files it names, never in it), "
            "`config/set` (params `version` and `document`, the whole config as TOML: refused at once as "
            "`invalid_config` naming each bad key, else booted on trial and answered `committed` once healthy or "
            "`reverted` with the reason, possibly by the next run; a second push during a trial is `trial_running`), "
            "`log_level` (params `level` DEBUG|INFO|WARNING|ERROR and `for_s` 1..3600: the configured level comes "
            "back by itself), `restart` (answers, then stops cleanly and exits 75 so systemd starts it again). Put "
            "the correlation in MQTT 5 correlation data and in `id`; a 3.1.1 caller matches answers by `id`. A "
            "request sent while the device's session is gone is not answered: ask again when its status is online.",
        ),
        "deviceResponse": (
            "A device's answer",
            DeviceResponseEvent,
            DeviceResponseEvent(
                source=_SRC,
                id="kiosk-01:4d2a",
                time=_T0,
                data=DeviceResponse(
                    device="kiosk-01",
                    request="log_level",
                    id="5b0c2f1e",
                    status="ok",
                    result={"level": "DEBUG", "for_s": 300, "then": "INFO"},
                ),
            ),
            "On `dv/{device}/response/{name}`, exactly one per request, with the request's correlation data echoed "
            "(MQTT 5) and its `id`. `status: error` carries a stable `reason`: `unknown_request` (the detail lists "
            "the names this device answers), `invalid_params` (the detail names the key), a parse refusal of the "
            "request itself (`not_json`, `schema`, `unexpected_type`, ...; `id` is null when the request named "
            "none), `internal_error`.",
        ),
    }
