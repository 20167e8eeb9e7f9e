"""Why the agent is offline, in `edge-agent status`: the broker's TLS or authorization reason in plain words
(connection_detail), never only `Unspecified error` — against a real Mosquitto with a TLS listener."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.broker import FencedBroker, MosquittoBroker
from tests.support.fence import make_store_pki
from tests.support.tls_pki import Pki, make_pki
from tests.support.world import REPO, InProcessAgent, make_config, wait_until, write_config

AgentFactory = Callable[..., InProcessAgent]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "tls-broker", listener_options=pki.broker_options()) as started:
        yield started


def _status(config_path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "status", "--config", str(config_path), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _offline_detail(tmp_path: Path, agent_factory: AgentFactory, words: str, port: int, **mqtt: Any) -> str:
    """Starts the agent, waits until `edge-agent status` shows it offline with `words` in its detail."""
    config = make_config(tmp_path, port, **mqtt)
    path = write_config(config, tmp_path / "kiosk.toml")
    agent = agent_factory(config)
    seen: list[dict[str, Any]] = []

    def shown() -> bool:
        seen.append(_status(path))
        return seen[-1]["connection"] == "offline" and words in seen[-1]["connection_detail"]

    wait_until(shown, 30, f"status offline with {words!r}", interval=0.2, details=lambda: seen[-1] if seen else None)
    assert not agent.connected
    detail: str = seen[-1]["connection_detail"]
    assert "Unspecified error" not in detail
    return detail


def test_a_client_certificate_from_another_ca_is_reported_as_unknown_to_the_broker(
    tmp_path: Path, pki: Pki, tls_broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    detail = _offline_detail(
        tmp_path,
        agent_factory,
        "client certificate unknown to the broker",
        tls_broker.port,
        tls=pki.agent_tls("foreign"),
    )
    assert str(pki.pem("foreign")) in detail


def test_an_expired_client_certificate_is_reported_with_its_end_date(
    tmp_path: Path, pki: Pki, tls_broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    detail = _offline_detail(
        tmp_path, agent_factory, "client certificate expired", tls_broker.port, tls=pki.agent_tls("expired")
    )
    assert str(pki.pem("expired")) in detail and "2020-02-01" in detail


def test_a_broker_certificate_from_another_ca_is_reported_as_not_trusted(
    tmp_path: Path, pki: Pki, agent_factory: AgentFactory
) -> None:
    with MosquittoBroker(tmp_path / "other", listener_options=pki.broker_options("server-other")) as other:
        detail = _offline_detail(
            tmp_path, agent_factory, "broker certificate not trusted", other.port, tls=pki.agent_tls()
        )
    assert "unable to get local issuer certificate" in detail and str(pki.pem("ca")) in detail


def test_the_shipped_fence_refuses_a_certificate_from_another_store_in_the_same_words(
    tmp_path: Path, agent_factory: AgentFactory
) -> None:
    store = make_store_pki(tmp_path / "store-pki", ("kiosk-01",))
    stranger = make_store_pki(tmp_path / "other-store", ("kiosk-01",)).device("kiosk-01")
    tls = {**stranger.as_agent_tls(), "ca_file": str(store.ca)}  # trusts the broker, is not known to it
    with FencedBroker(tmp_path / "fenced", store.root) as fenced:
        _offline_detail(tmp_path, agent_factory, "client certificate unknown to the broker", fenced.port, tls=tls)


@pytest.mark.parametrize(("protocol", "code"), [("5", "CONNACK 0x87 Not authorized"), ("3.1.1", "return code 5")])
def test_credentials_the_broker_refuses_are_reported_as_not_authorized(
    tmp_path: Path, agent_factory: AgentFactory, protocol: str, code: str
) -> None:
    users = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(users), "kiosk-01", "right"], check=True, capture_output=True)
    password = tmp_path / "mqtt.password"
    password.write_text("wrong\n")
    password.chmod(0o600)
    with MosquittoBroker(tmp_path / "pw-broker", listener_options=[f"password_file {users}"]) as broker:
        detail = _offline_detail(
            tmp_path,
            agent_factory,
            "not authorized",
            broker.port,
            protocol=protocol,
            username="kiosk-01",
            password_file=str(password),
        )
    assert code in detail


def test_the_password_from_the_file_is_the_one_sent(tmp_path: Path, agent_factory: AgentFactory) -> None:
    users = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(users), "kiosk-01", "right"], check=True, capture_output=True)
    password = tmp_path / "mqtt.password"
    password.write_text("right\n")
    password.chmod(0o600)
    with MosquittoBroker(tmp_path / "pw-broker", listener_options=[f"password_file {users}"]) as broker:
        config = make_config(tmp_path, broker.port, username="kiosk-01", password_file=str(password))
        agent = agent_factory(config)
        wait_until(lambda: agent.connected, 20, "connected with the password from mqtt.password_file")
        path = write_config(config, tmp_path / "kiosk.toml")
        wait_until(lambda: _status(path)["connection"] == "online", 20, "status online")
