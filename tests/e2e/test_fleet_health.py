"""Fleet health (issue 15) against real Mosquitto: the health message on connect and after a reconnect, retained
state back on a broker that restarted without persistence, and the Prometheus metrics (scraped over HTTP and read
from the textfile) carrying the same figures with no id in any label."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from edge_agent import __version__
from edge_agent.config import AgentConfig
from edge_agent.contract.health import T_HEALTH, DeviceHealth
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.identifiers.product_key import parse_code
from edge_agent.readers.events import ProductScanned
from simulators.broker import MosquittoBroker, free_port
from simulators.camera import DEMO_CODES
from tests.support.fixtures import ProxyFactory
from tests.support.wire import WireRecorder
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
GTINS = [normalise_gtin(c) for c in DEMO_CODES]
PREFIX = "rt/v1/acme/st/s042/dv"
FORBIDDEN_LABELS = {"cart", "cart_id", "op", "op_id", "shopper", "session", "session_id", "entry_id", "gtin"}


def _config(tmp_path: Path, port: int, role: str = "kiosk", device: str = "kiosk-01", **sections: Any) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, port, device=device).model_dump(mode="json", exclude_none=True)
    raw["device"]["role"] = role
    raw.update(sections)
    return AgentConfig.model_validate(raw)


def _health(recorder: WireRecorder, device: str) -> list[DeviceHealth]:
    out = []
    for m in recorder.on(f"{PREFIX}/{device}/health"):
        event = json.loads(m.payload)
        assert event["type"] == T_HEALTH and m.user_property("ce_type") == [T_HEALTH]
        assert not m.retain, "health is not retained: the status says online or offline"
        out.append(DeviceHealth.model_validate(event["data"]))
    return out


def _retained(broker: MosquittoBroker, topic: str) -> dict[str, Any]:
    """The broker's retained message on a topic, as a client that connects now sees it."""
    with WireRecorder(broker.host, broker.port, client_id="late-reader") as late:
        wait_until(lambda: bool(late.on(topic)), 10, f"a retained message on {topic}")
        message = late.on(topic)[-1]
        assert message.retain
        data: dict[str, Any] = json.loads(message.payload)["data"]
        return data


def test_health_arrives_on_connect_and_again_after_a_broker_restart_that_lost_every_retained_message(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory(broker)
    config = _config(tmp_path, proxy.port, role="shelf", device="shelf-07")
    recorder = WireRecorder(broker.host, broker.port).start()
    try:
        agent = agent_factory(config)
        wait_until(lambda: bool(_health(recorder, "shelf-07")), 15, "a health message on connect")
        first = _health(recorder, "shelf-07")[0]
        assert (first.device, first.agent_version, first.config_version) == ("shelf-07", __version__, config.version)
        assert first.storage.database_bytes > 0 and (first.storage.free_bytes or 0) > 0
        assert (first.process.rss_bytes or 0) > 0 and first.process.cpu_seconds > 0
        assert first.client_cert_days_left is None, "no client certificate is configured"
        assert first.link.connects == 1 and first.outbox.unconfirmed_ops == 0
    finally:
        recorder.close()

    # The broker dies and comes back without persistence: every retained message is gone. The agent is kept off it
    # until a recorder listens, so nothing it sends on reconnecting is missed.
    proxy.refuse()
    broker.kill()
    wait_until(lambda: not agent.connected, 15, "the agent notices the broker is gone")
    code = GTINS[0]
    agent.call(lambda: inner(agent).submit(ProductScanned(parse_code(code), "]E0", "barcode", 0.0)))
    wait_until(lambda: inner(agent).role.last_lookup is not None, 10, "a lookup shown while offline")
    broker.restart()
    recorder = WireRecorder(broker.host, broker.port).start()
    try:
        proxy.pass_through()
        wait_until(lambda: inner(agent).link.counters.connects == 2 and agent.connected, 20, "reconnected")
        wait_until(lambda: bool(_health(recorder, "shelf-07")), 15, "a health message after the reconnect")
        again = _health(recorder, "shelf-07")[0]
        assert again.link.connects == 2 and again.link.disconnects >= 1
        assert again.session > first.session and again.uptime_s >= first.uptime_s
    finally:
        recorder.close()
    status = _retained(broker, f"{PREFIX}/shelf-07/status")
    assert (status["state"], status["session"]) == ("online", again.session)
    display = _retained(broker, f"{PREFIX}/shelf-07/display")
    assert display["gtin14"] == code, "the view shown while offline is on the broker once the agent is back"


def inner(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    [(_, value)] = samples[name]
    return value


def test_without_the_platform_health_and_metrics_count_the_unconfirmed_ops_and_no_label_names_an_id(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    port, textfile = free_port(), tmp_path / "textfile" / "edge_agent.prom"
    textfile.parent.mkdir()
    config = _config(
        tmp_path,
        broker.port,
        metrics={"listen": f"127.0.0.1:{port}", "textfile": str(textfile)},
        health={"interval_s": 5},
    )
    recorder = WireRecorder(broker.host, broker.port).start()
    try:
        agent = agent_factory(config)
        wait_until(lambda: agent.connected, 15, "connected")
        agent.scan(*GTINS[:3])
        wait_until(lambda: agent.outbox_total() == 3 and agent.ops_created() == 3, 10, "three ops saved")
        wait_until(lambda: inner(agent).pump.counters.ops_published == 3, 10, "the ops sent to the broker")
        before = len(_health(recorder, "kiosk-01"))
        agent.call(inner(agent).health.publish)
        wait_until(lambda: len(_health(recorder, "kiosk-01")) > before, 10, "the health message asked for")
        health = _health(recorder, "kiosk-01")[-1]
        assert health.outbox.unconfirmed_ops == agent.outbox_total() == 3, "no platform: nothing is confirmed"
        assert health.outbox.oldest_unconfirmed_age_s is not None and health.outbox.oldest_unconfirmed_age_s >= 0
        assert health.scans_saved == 3

        wait_until(lambda: inner(agent).metrics.port == port, 10, "the metrics listener")
        scraped = _samples(_scrape(port))
        assert _value(scraped, "edge_agent_outbox_unconfirmed_ops") == 3
        assert _value(scraped, "edge_agent_scans_saved_total") == 3
        assert _value(scraped, "edge_agent_mqtt_connected") == 1
        [(info, one)] = scraped["edge_agent_build_info"]
        assert one == 1 and info == {"version": __version__, "config": config.version}
        assert _value(scraped, "edge_agent_database_bytes") > 0
        assert _value(scraped, "edge_agent_process_resident_memory_bytes") > 0
        assert all(name.startswith("edge_agent_") for name in scraped)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
        except urllib.error.HTTPError as refused:
            assert refused.code == 404
        else:
            raise AssertionError("only /metrics is served")

        labels = [(k, v) for series in scraped.values() for labelset, _ in series for k, v in labelset.items()]
        assert not {k for k, _ in labels} & FORBIDDEN_LABELS
        ids = [config.device.id, agent.cart_id, *inner(agent).store.cart_ids()]
        assert not [(k, v) for k, v in labels if any(i in v for i in ids)], "a label carries a device or cart id"

        def textfile_outbox() -> float | None:
            if not textfile.exists():
                return None
            return _value(_samples(textfile.read_text()), "edge_agent_outbox_unconfirmed_ops")

        wait_until(lambda: textfile_outbox() == 3, 30, "the textfile rewritten on the health interval")
        assert not [p for p in textfile.parent.iterdir() if p != textfile], "no temporary file is left behind"
    finally:
        recorder.close()
