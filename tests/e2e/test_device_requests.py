"""The platform asks a device, the device answers (dv/{device}/request/<name> -> response/<name>), through a real
Mosquitto to a real agent: every request gets exactly one answer with the caller's correlation (MQTT 5 correlation
data, and the payload's id on 3.1.1); a request it cannot do is answered with a reason, never left hanging."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from edge_agent.config import AgentConfig
from edge_agent.contract.topics import Topics
from simulators.desk import Desk
from tests.support.broker import MosquittoBroker
from tests.support.wire import WireRecorder
from tests.support.world import AgentProcess, InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KIOSK = Topics("acme", "s042", "kiosk-01")


def test_a_request_is_answered_with_its_correlation_and_a_bounded_log_level_comes_back_by_itself(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory, desk: Desk
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    root = logging.getLogger()
    configured = root.level

    response, correlation = desk.ask(KIOSK, "log_level", {"level": "DEBUG", "for_s": 1})
    assert (response.status, response.request, response.device) == ("ok", "log_level", "kiosk-01")
    assert correlation is not None and correlation.decode() == response.id, "MQTT 5 correlation data echoed"
    assert response.result == {"level": "DEBUG", "for_s": 1, "then": logging.getLevelName(configured)}
    assert root.level == logging.DEBUG
    wait_until(lambda: root.level == configured, 10, "the configured level is back after for_s")


def test_what_the_device_cannot_do_is_answered_with_a_reason(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory, desk: Desk
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    root = logging.getLogger()
    before = root.level

    response, _ = desk.ask(KIOSK, "log_level", {"level": "LOUD", "for_s": 99999})
    assert (response.status, response.reason) == ("error", "invalid_params")
    assert response.detail is not None and response.detail.startswith("level:")
    assert root.level == before, "a refused request changes nothing"

    response, _ = desk.ask(KIOSK, "self_destruct")
    assert (response.status, response.reason) == ("error", "unknown_request")
    assert response.detail is not None and "log_level" in response.detail, "the answer lists what it can do"

    response, correlation = desk.ask(KIOSK, "config/get", payload=b"not json")
    assert (response.status, response.reason, response.id) == ("error", "not_json", None)
    assert correlation is not None, "even a malformed request's MQTT 5 correlation comes back"

    response, _ = desk.ask(KIOSK, "config/get", payload=b'{"specversion": "1.0", "data": {"id": "q-7"}}')
    assert (response.status, response.reason, response.id) == ("error", "unexpected_type", "q-7")
    assert agent.connected, "bad requests never stop the agent"


def test_on_mqtt_3_1_1_the_payloads_id_is_the_correlation(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, protocol="3.1.1"))
    wait_until(lambda: agent.connected, 10, "agent connected")
    with Desk(broker.host, broker.port, protocol="3.1.1") as desk:
        response, correlation = desk.ask(KIOSK, "config/get")
    assert correlation is None
    assert response.status == "ok" and response.result is not None
    config = response.result["config"]
    assert config["device"]["id"] == "kiosk-01" and config["mqtt"]["protocol"] == "3.1.1"


def test_restart_answers_then_exits_for_systemd_to_start_it_again(
    tmp_path: Path, broker: MosquittoBroker, desk: Desk
) -> None:
    process = AgentProcess(make_config(tmp_path, broker.port), tmp_path).start()
    try:
        with WireRecorder(broker.host, broker.port) as wire:  # "online" is published after the subscriptions
            wait_until(lambda: any(b'"online"' in m.payload for m in wire.on(KIOSK.status)), 20, "agent online")
        response, _ = desk.ask(KIOSK, "restart")
        assert response.status == "ok"
        assert process.proc is not None
        assert process.proc.wait(30) == 75, f"EX_TEMPFAIL, so Restart=on-failure restarts it:\n{process.log_text()}"
    finally:
        process.stop()


def test_health_and_doctor_on_request_are_the_same_figures_and_report_the_desk_reads_elsewhere(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory, desk: Desk
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    agent.scan("05012345678900")  # no platform here: it stays unconfirmed

    response, _ = desk.ask(KIOSK, "health")
    assert response.status == "ok" and response.result is not None
    assert response.result["device"] == "kiosk-01"
    wait_until(lambda: desk.ask(KIOSK, "health")[0].result["outbox"]["unconfirmed_ops"] == 1, 10, "the scan counted")

    response, _ = desk.ask(KIOSK, "doctor")
    assert response.status == "ok" and response.result is not None
    checks = {c["name"]: c for c in response.result["checks"]}
    assert checks["database"]["verdict"] == "ok", "quick_check of the live database, read-only beside the agent"
    assert checks["broker"]["verdict"] == "ok" and checks["state_dir"]["verdict"] in ("ok", "warn")
    assert response.result["device"] == "kiosk-01"
    assert agent.connected and agent.outbox_total() == 1, "the doctor changed nothing"
