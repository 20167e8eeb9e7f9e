"""Fleet health's pure parts: its config (errors name the file, the key and what is allowed), the config version,
per-minute rates from samples, and the figures' OS probes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config
from edge_agent.fleet import system
from edge_agent.fleet.rates import ReaderActivity, SampleWindow, kind_of
from tests.support.world import make_config, write_config


def _written(tmp_path: Path, extra: str = "") -> Path:
    """A device's TOML without [health] and [metrics] (their defaults), plus ``extra``."""
    path = write_config(make_config(tmp_path, 1883), tmp_path / "agent.toml")
    text = path.read_text()
    text = text[: text.index("[health]")]
    path.write_text(extra + "\n" + text if extra.startswith("config_version") else text + extra)
    return path


def _problems(tmp_path: Path, extra: str) -> str:
    path = _written(tmp_path, extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: invalid configuration")
    return text


def test_health_and_metrics_are_on_and_off_by_default(tmp_path: Path) -> None:
    config = load_config(_written(tmp_path))
    assert (config.health.enabled, config.health.interval_s) == (True, 60.0)
    assert (config.metrics.listen, config.metrics.textfile) == (None, None)


def test_a_metrics_listener_off_loopback_is_refused_with_what_is_allowed(tmp_path: Path) -> None:
    text = _problems(tmp_path, '[metrics]\nlisten = "0.0.0.0:9108"\n')
    assert "metrics.listen" in text and "allowed: 127.0.0.1, ::1 or localhost" in text


def test_a_textfile_node_exporter_would_not_read_is_refused(tmp_path: Path) -> None:
    text = _problems(tmp_path, '[metrics]\ntextfile = "metrics.txt"\n')
    assert "metrics.textfile" in text and "ending in .prom" in text


def test_a_health_interval_out_of_bounds_names_the_bounds(tmp_path: Path) -> None:
    text = _problems(tmp_path, "[health]\ninterval_s = 1\n")
    assert "health.interval_s" in text and "allowed: ge 5.0" in text
    assert "health.typo" in _problems(tmp_path, "[health]\ntypo = 1\n")


def test_the_loopback_listener_parses_to_host_and_port(tmp_path: Path) -> None:
    config = load_config(_written(tmp_path, '[metrics]\nlisten = "[::1]:9108"\n'))
    assert (config.metrics.host, config.metrics.port) == ("::1", 9108)


def test_the_config_version_is_its_own_key_else_the_files_digest(tmp_path: Path) -> None:
    path = _written(tmp_path)
    assert load_config(path).version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    named = _written(tmp_path, 'config_version = "2026-11-23.1"')
    assert load_config(named).version == "2026-11-23.1"
    in_code = make_config(tmp_path, 1883)
    assert len(in_code.version) == 12 and in_code.version == make_config(tmp_path, 1883).version


def test_rates_are_per_minute_over_the_last_window_and_reading_them_changes_nothing() -> None:
    activity = ReaderActivity(SampleWindow(window_s=60))
    activity.sample(0.0)
    assert activity.per_minute() == {}, "one sample is no rate"
    for t in range(10, 130, 10):
        activity.seen("barcode", 2)  # 2 scans every 10 s: 12 a minute
        activity.sample(float(t))
    assert activity.per_minute() == {"barcode": 12.0}
    assert activity.per_minute() == {"barcode": 12.0}
    assert activity.totals() == {"barcode": 24}
    activity.sample(190.0)  # a quiet minute
    assert activity.per_minute()["barcode"] < 12.0


def test_a_reader_that_counts_its_own_events_is_watched() -> None:
    adverts = [0]
    activity = ReaderActivity()
    activity.watch("ble", lambda: adverts[0])
    activity.sample(0.0)
    adverts[0] = 300
    activity.sample(30.0)
    assert activity.per_minute() == {"ble": 600.0}
    assert [kind_of(r) for r in ("barcode", "nfc", "ble")] == ["scans", "taps", "adverts"]


def test_the_os_probes_answer_or_say_they_cannot(tmp_path: Path) -> None:
    assert (system.rss_bytes() or 0) > 0
    assert system.cpu_seconds() > 0
    assert system.file_bytes(tmp_path / "absent") == 0
    assert (system.disk_free_bytes(tmp_path) or 0) > 0
    assert system.not_after(None) is None
    assert system.clock_synchronised() in (True, False, None)
