"""Shared fixtures: a real Mosquitto per test, fault proxies, the central simulator, agents."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = [
    "tests.support.fixtures",  # broker, broker_factory, proxy_factory, desk, tmpfs
    "tests.support.world",  # central, agent_factory
    "tests.support.bluez",  # system_bus, fake_bluez (python-dbusmock's BlueZ on a private D-Bus)
    "tests.support.mqtt_spy",  # spy: everything published on the test's broker
    "tests.support.browser",  # browser: headless Debian Chromium through Selenium
    "tests.support.chain",  # cluster, chain_central: a 3-node NATS cluster and the platform on it
]

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run long soak and fault campaigns")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--soak"):
        settings.load_profile("soak")  # 10,000 examples per property


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --soak the long campaigns are deselected, not skipped: CI runs their short versions."""
    if config.getoption("--soak"):
        return
    soak = [item for item in items if "soak" in item.keywords]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if "soak" not in item.keywords]
