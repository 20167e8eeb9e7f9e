"""The demo's agents serve their screens on the demo's own loopback port, whatever the device file says."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge_agent.config import AgentConfig
from simulators.demo_screens import screen_url, with_screen

DEVICE_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "device_config").glob("*.toml"))


@pytest.mark.parametrize("path", DEVICE_CONFIGS, ids=lambda p: p.name)
def test_every_device_file_gets_one_screen_section_on_the_demos_port(path: Path) -> None:
    config = tomllib.loads(with_screen(path.read_text(), 45678))
    assert config["screen"]["listen"] == "127.0.0.1:45678"
    assert AgentConfig.model_validate(config).screen is not None


def test_a_screen_section_the_device_file_already_has_is_replaced_not_doubled() -> None:
    text = '[device]\nid = "k"\n\n[screen]\nlisten = "0.0.0.0:8080"\nlocale = "de"\n\n[basket]\ncart_id = "b"\n'
    config = tomllib.loads(with_screen(text, 40001))
    assert config["screen"] == {"listen": "127.0.0.1:40001"}
    assert config["basket"] == {"cart_id": "b"} and config["device"] == {"id": "k"}
    assert tomllib.loads(with_screen(with_screen(text, 40001), 40002))["screen"]["listen"] == "127.0.0.1:40002"
    assert screen_url(40001) == "http://127.0.0.1:40001/"
