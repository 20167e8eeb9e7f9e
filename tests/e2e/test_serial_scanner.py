"""A handheld serial scanner at the kiosk: its lines reach the central cart through the real agent, Mosquitto
and the central simulator, GS1 codes keep their meaning by their AIM prefix, bad input is refused with a reason
and counted, and an unplugged scanner comes back by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.config import AgentConfig
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.readers.scanner.config import ScannerConfig
from edge_agent.store import readonly
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.serial_scanner import PtyScanner
from tests.support.world import InProcessAgent, make_config, wait_until

EAN = DEMO_CODES[0]
GS = b"\x1d"
GS1_128 = b"]C1" + b"0109506000134352" + b"10ABC123" + GS + b"17271231"
"""GS1-128: GTIN 09506000134352, lot ABC123 (variable length, so GS ends it), expiry 2027-12-31."""
GS1_DATAMATRIX = b"]d2" + b"0105012345678900" + b"21SN0001" + GS + b"17281130"
"""GS1 DataMatrix: GTIN 05012345678900, serial SN0001: a serialised item is one item, once."""


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[PtyScanner]:
    pty = PtyScanner(tmp_path / "usb-Acme_Scanner_S1-if00")
    yield pty
    pty.close()


def kiosk_with_scanner(tmp_path: Path, port: int, scanner: PtyScanner, **options: object) -> AgentConfig:
    config = make_config(tmp_path, port)
    scanner_config = ScannerConfig.model_validate({"kind": "serial", "device": str(scanner.link), **options})
    return config.model_copy(update={"readers": config.readers.model_copy(update={"scanner": scanner_config})})


def scanner_state(agent: InProcessAgent) -> str | None:
    return None if agent.agent is None else agent.agent.status.reader_health.get("scanner")


def rejected(agent: InProcessAgent) -> dict[str, int]:
    assert agent.agent is not None
    counts: dict[str, int] = agent.call(lambda: dict(agent.agent.status.rejected))  # type: ignore[union-attr]
    return counts


def test_scans_from_a_serial_scanner_arrive_in_the_central_cart_gs1_codes_included(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, scanner: PtyScanner
) -> None:
    agent = agent_factory(kiosk_with_scanner(tmp_path, broker.port, scanner, aim_prefix="expected", suffix="cr"))
    wait_until(lambda: scanner_state(agent) == "ok", 15, "the scanner open")

    # Two trigger pulls on the same EAN are two of it. The GS1 codes go through GS1 parsing by their prefix: the
    # DataMatrix's serial (AI 21) makes its second scan the same item, which the basket refuses.
    for line in (b"]E0" + EAN.encode(), b"]E0" + EAN.encode(), GS1_128, GS1_DATAMATRIX, GS1_DATAMATRIX):
        scanner.send(line + b"\r")

    wait_until(lambda: rejected(agent) == {"basket:serial_already_in_basket": 1}, 15, "the repeated serial refused")
    converge(agent, central, {normalise_gtin(EAN): 2, "09506000134352": 1, "05012345678900": 1})


def test_bad_scanner_input_is_refused_with_a_reason_counted_and_never_added(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, scanner: PtyScanner
) -> None:
    agent = agent_factory(kiosk_with_scanner(tmp_path, broker.port, scanner, aim_prefix="expected", max_line=64))
    wait_until(lambda: scanner_state(agent) == "ok", 15, "the scanner open")

    scanner.send(b"]E0" + b"9" * 200 + b"\r")  # an over-long line (a stuck trigger, a flood)
    scanner.send(b"]E0\xff\xfe\x804006\r")  # line noise: a wrong baud rate looks like this
    scanner.send(b"4006381333931\r")  # no AIM prefix, though the config expects one
    scanner.send(b"]E04006381333932\r")  # a misread: wrong check digit
    scanner.send(b"]E0" + EAN.encode() + b"\r")  # the one good scan
    scanner.send(b"]E05012345")  # a half line, then the scanner is unplugged
    converge(agent, central, {normalise_gtin(EAN): 1})
    scanner.unplug()

    expected = {"line_too_long", "not_ascii", "no_aim_prefix", "bad_check_digit", "partial_line"}
    wait_until(
        lambda: expected <= {key.removeprefix("scanner:") for key in rejected(agent)},
        15,
        "every bad line refused with its reason",
        details=lambda: rejected(agent),
    )
    assert all(rejected(agent)[f"scanner:{reason}"] == 1 for reason in expected)
    assert expected <= set(readonly.reject_counts(agent.db_path)), "kept in the rejects table for `status`"
    assert agent.basket() == central.cart(agent.cart_id) == {normalise_gtin(EAN): 1}


def test_an_unplugged_scanner_is_reopened_when_it_comes_back_and_scans_again(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, scanner: PtyScanner
) -> None:
    agent = agent_factory(kiosk_with_scanner(tmp_path, broker.port, scanner))
    wait_until(lambda: scanner_state(agent) == "ok", 15, "the scanner open")
    scanner.send(EAN.encode() + b"\r")  # aim_prefix optional: bare digits are a GTIN
    converge(agent, central, {normalise_gtin(EAN): 1})

    scanner.unplug()
    wait_until(lambda: scanner_state(agent) == "degraded", 15, "the scanner reported gone")
    scanner.plug()  # the same by-id name, a new device behind it
    wait_until(lambda: scanner_state(agent) == "ok", 30, "the scanner reopened")
    scanner.send(b"]E0" + DEMO_CODES[1].encode() + b"\r")

    converge(agent, central, {normalise_gtin(EAN): 1, normalise_gtin(DEMO_CODES[1]): 1})
