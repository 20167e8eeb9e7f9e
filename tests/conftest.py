"""Shared fixtures: a real Mosquitto per test, fault proxies, the central simulator, agents."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = [
    "tests.support.fixtures",  # broker, broker_factory, proxy_factory
    "tests.support.world",  # central, agent_factory
]

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run long soak and fault campaigns")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak campaign: run with --soak (a short version runs in CI)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
