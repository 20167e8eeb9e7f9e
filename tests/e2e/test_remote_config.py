"""Remote configuration that proves itself or reverts, on a real `edge-agent run` process against Mosquitto and
the central simulator: a pushed config is checked before anything changes, booted as a candidate, committed once
the agent is connected with the platform's acks flowing, and otherwise reverted with the reason, the agent back
online on its last good config. A kill -9 during the trial boots the last good config."""

from __future__ import annotations

import concurrent.futures
import json
import re
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from edge_agent.contract.requests import DeviceResponse
from edge_agent.contract.topics import Topics
from edge_agent.fleet.remote_config import STOPPED_DURING_TRIAL
from simulators.broker import free_port
from simulators.central import CentralPlatform
from simulators.desk import Desk, NoAnswer
from tests.support.broker import MosquittoBroker
from tests.support.world import AgentProcess, make_config, wait_until, write_config

KIOSK = Topics("acme", "s042", "kiosk-01")
ANSWER_WITHIN_S = 90
"""A trial and up to two boots; a bound for a hung test, not a figure (each step is awaited by its answer)."""
RETRY_S = 3


def remote_configured(tmp_path: Path, port: int, window_s: float = 20, **changes: Any) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, port).model_dump(mode="json", exclude_none=True)
    raw["remote_config"] = {"enabled": True, "trial_window_s": window_s}
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return AgentConfig.model_validate(raw)


def document(config: AgentConfig, tmp_path: Path) -> str:
    """A config as the platform would push it: the TOML of a device file."""
    return write_config(config, tmp_path / "pushed.toml").read_text()


def push(desk: Desk, doc: str, version: str) -> DeviceResponse:
    response, _ = desk.ask(KIOSK, "config/set", {"version": version, "document": doc}, timeout=ANSWER_WITHIN_S)
    return response


def running_config(desk: Desk) -> dict[str, Any]:
    """``config/get``, asked again until answered: a request sent before the (re)started agent subscribed is not
    delivered (it is idempotent, so asking again is what a desk does)."""
    for _ in range(ANSWER_WITHIN_S // RETRY_S):
        try:
            response, _ = desk.ask(KIOSK, "config/get", timeout=RETRY_S)
            break
        except NoAnswer:
            continue
    else:
        raise NoAnswer("config/get")
    assert response.status == "ok" and response.result is not None
    config: dict[str, Any] = response.result["config"]
    return config


@pytest.fixture
def agent(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform) -> Any:
    process = AgentProcess(remote_configured(tmp_path, broker.port), tmp_path).start()
    yield process
    process.stop()


def slots(tmp_path: Path) -> Path:
    return tmp_path / "config"  # beside the database (make_config puts it in tmp_path)


def test_a_good_config_is_committed_and_boots_from_then_on(
    tmp_path: Path, broker: MosquittoBroker, agent: AgentProcess, desk: Desk
) -> None:
    assert running_config(desk).get("config_version") is None
    better = remote_configured(tmp_path, broker.port, health={"interval_s": 30})
    response = push(desk, document(better, tmp_path), "2026-12-03.1")
    assert response.status == "ok", response
    assert response.result == {"state": "committed", "version": "2026-12-03.1"}
    config = running_config(desk)
    assert config["config_version"] == "2026-12-03.1" and config["health"]["interval_s"] == 30
    health, _ = desk.ask(KIOSK, "health", timeout=ANSWER_WITHIN_S)
    assert health.result is not None and health.result["config_version"] == "2026-12-03.1"
    assert (slots(tmp_path) / "good.toml").exists() and not (slots(tmp_path) / "trial.json").exists()

    assert agent.stop() == 0
    agent.start()
    assert running_config(desk)["config_version"] == "2026-12-03.1", "the committed config boots from now on"


def test_a_config_that_cannot_reach_the_broker_is_reverted_and_the_agent_is_back_online(
    tmp_path: Path, broker: MosquittoBroker, agent: AgentProcess, desk: Desk
) -> None:
    running_config(desk)  # online
    nowhere = remote_configured(
        tmp_path, broker.port, window_s=5, mqtt={"endpoints": [{"host": "127.0.0.1", "port": free_port()}]}
    )
    response = push(desk, document(nowhere, tmp_path), "bad-endpoint")
    assert (response.status, response.reason) == ("error", "reverted"), response
    assert response.detail is not None and "not connected to the broker" in response.detail
    config = running_config(desk)  # answered: online again, on the good config
    assert config["mqtt"]["endpoints"] == [{"host": "127.0.0.1", "port": broker.port}]
    assert config.get("config_version") is None
    assert (slots(tmp_path) / "rejected.toml").exists(), "the reverted candidate is kept aside for store IT"
    assert not (slots(tmp_path) / "candidate.toml").exists()


def test_a_kill_during_the_trial_boots_the_last_good_config(
    tmp_path: Path, broker: MosquittoBroker, agent: AgentProcess, desk: Desk
) -> None:
    running_config(desk)  # online
    nowhere = remote_configured(
        tmp_path, broker.port, window_s=600, mqtt={"endpoints": [{"host": "127.0.0.1", "port": free_port()}]}
    )
    trial = slots(tmp_path) / "trial.json"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(push, desk, document(nowhere, tmp_path), "never-healthy")
        wait_until(lambda: trial.exists() and json.loads(trial.read_text())["boots"] == 1, 30, "the trial booted")
        agent.kill()
        agent.start()
        response = answer.result(ANSWER_WITHIN_S)
    assert (response.status, response.reason) == ("error", "reverted"), response
    assert response.detail is not None and STOPPED_DURING_TRIAL in response.detail
    assert running_config(desk)["mqtt"]["endpoints"] == [{"host": "127.0.0.1", "port": broker.port}]


def test_an_invalid_document_is_refused_before_anything_changes(
    tmp_path: Path, broker: MosquittoBroker, agent: AgentProcess, desk: Desk
) -> None:
    running_config(desk)  # the agent answers: it is online
    good = document(remote_configured(tmp_path, broker.port), tmp_path)
    broken = re.sub(r"batch_max_ops = \d+", "batch_max_ops = 0", good.replace("window = ", "windw = ", 1))
    response = push(desk, broken, "typo")
    assert (response.status, response.reason) == ("error", "invalid_config")
    assert response.detail is not None and "mqtt.windw: unknown key" in response.detail
    assert "mqtt.batch_max_ops" in response.detail, "every problem, each naming its key"

    other = document(remote_configured(tmp_path, broker.port, device={"id": "kiosk-02"}), tmp_path)
    response = push(desk, other, "rename")
    assert (response.status, response.reason) == ("error", "invalid_config")
    assert response.detail is not None and "device.id" in response.detail

    response = push(desk, "not = [toml", "garbage")
    assert (response.status, response.reason) == ("error", "invalid_config")
    assert list(slots(tmp_path).glob("*")) == [], "nothing was written"
    assert agent.runs == 1 and agent.proc is not None and agent.proc.poll() is None, "and nothing restarted"
