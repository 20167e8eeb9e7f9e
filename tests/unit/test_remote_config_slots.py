"""The config slots and the boot choice: a candidate boots once, a second boot of the same trial reverts (the
agent died during it), a committed config boots from then on, and the device's file can always switch it off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig, ConfigError
from edge_agent.fleet.remote_config import STOPPED_DURING_TRIAL, ConfigSlots, Trial, choose_boot_config, parse_document
from tests.support.world import make_config, write_config


def configured(tmp_path: Path, enabled: bool = True, **changes: Any) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, 1883).model_dump(mode="json", exclude_none=True)
    raw["remote_config"] = {"enabled": enabled, "trial_window_s": 30}
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values}
    return AgentConfig.model_validate(raw)


def toml_of(config: AgentConfig, tmp_path: Path) -> str:
    return write_config(config, tmp_path / "doc.toml").read_text()


def start_trial(tmp_path: Path, bootstrap: AgentConfig, version: str = "v2") -> ConfigSlots:
    data, _ = parse_document(toml_of(configured(tmp_path, mqtt={"window": 8}), tmp_path), version, bootstrap)
    slots = ConfigSlots.beside(bootstrap)
    slots.start_trial(data, Trial(version=version, request_id="q1", correlation_hex="ab", window_s=30))
    return slots


def test_without_slots_the_file_boots(tmp_path: Path) -> None:
    bootstrap = configured(tmp_path)
    assert choose_boot_config(bootstrap, tmp_path / "device.toml").config is bootstrap


def test_a_candidate_boots_once_and_a_second_boot_of_its_trial_reverts(tmp_path: Path) -> None:
    bootstrap = configured(tmp_path)
    slots = start_trial(tmp_path, bootstrap)

    first = choose_boot_config(bootstrap, tmp_path / "device.toml")
    assert first.trial is not None and first.config.config_version == "v2" and first.config.mqtt.window == 8
    trial = slots.trial()
    assert trial is not None and trial.boots == 1, "marked started before anything opens"

    second = choose_boot_config(bootstrap, tmp_path / "device.toml")
    assert second.trial is None and second.config is bootstrap
    owed = slots.owed()
    assert owed is not None and (owed.status, owed.reason, owed.request_id) == ("error", "reverted", "q1")
    assert owed.detail is not None and STOPPED_DURING_TRIAL in owed.detail and owed.correlation == b"\xab"
    assert slots.rejected.exists() and not slots.candidate.exists() and slots.trial() is None


def test_a_committed_config_boots_from_then_on_unless_the_file_turns_remote_config_off(tmp_path: Path) -> None:
    bootstrap = configured(tmp_path)
    slots = start_trial(tmp_path, bootstrap)
    choose_boot_config(bootstrap, tmp_path / "device.toml")
    slots.commit()
    assert choose_boot_config(bootstrap, tmp_path / "device.toml").config.config_version == "v2"
    assert choose_boot_config(configured(tmp_path, enabled=False), tmp_path / "f.toml").config.config_version is None


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"device": {"id": "kiosk-02"}}, "device.id"),
        ({"device": {"store": "s043"}}, "device.store"),
        ({"storage": {"path": "/tmp/elsewhere.db"}}, "storage.path"),
        ({"remote_config": {"enabled": False}}, "remote_config.enabled"),
    ],
)
def test_a_pushed_config_cannot_change_who_the_device_is_or_lock_the_platform_out(
    tmp_path: Path, changes: dict[str, Any], key: str
) -> None:
    running = configured(tmp_path)
    with pytest.raises(ConfigError) as refused:
        parse_document(toml_of(configured(tmp_path, **changes), tmp_path), "v2", running)
    assert any(p.startswith(key) for p in refused.value.problems), refused.value.problems


def test_the_version_is_stamped_into_the_document_and_a_different_stated_one_is_refused(tmp_path: Path) -> None:
    running = configured(tmp_path)
    data, candidate = parse_document(toml_of(running, tmp_path), "2026-12-03.1", running)
    assert data.startswith(b'config_version = "2026-12-03.1"\n') and candidate.config_version == "2026-12-03.1"
    with pytest.raises(ConfigError) as refused:
        parse_document(data.decode(), "other", running)
    assert refused.value.problems[0].startswith("config_version:")
