"""The words a failed connection attempt is reported in (sync/link_reasons.py), for what the e2e tests cannot
make Mosquitto say: other TLS alerts, a hostname mismatch, 3.1.1 and MQTT 5 refusal codes, a timeout."""

from __future__ import annotations

import dataclasses
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.sync.link_reasons import Attempt, AttemptTrace, certificate_not_after, connect_failure
from tests.support.tls_pki import make_pki

TLS = Attempt("broker.store", 8883, "5", True, "/etc/edge-agent/ca.pem", "/etc/edge-agent/kiosk-01.pem", 10)
GONE = ConnectionRefusedError("disconnected: Unspecified error")


def _alert(name: str) -> AttemptTrace:
    return AttemptTrace(socket_error=f"failed to receive on socket: [SSL: X] tlsv1 alert {name} (_ssl.c:2580)")


@pytest.mark.parametrize(
    ("trace", "words"),
    [
        (_alert("unknown ca"), "client certificate unknown to the broker: it does not accept /etc/edge-agent/kiosk-01"),
        (_alert("bad certificate"), "client certificate unknown to the broker"),
        (
            _alert("certificate expired"),  # and the certificate is valid here: Mosquitto's CRL is past nextUpdate
            "the broker's revocation list has expired, most likely: the broker refuses /etc/edge-agent/kiosk-01.pem",
        ),
        (
            _alert("certificate revoked"),
            "client certificate revoked by the store CA: the broker refuses /etc/edge-agent/kiosk-01.pem",
        ),
        (_alert("certificate required"), "the broker requires a client certificate"),
        (
            AttemptTrace(refusal=(0x87, "Not authorized")),
            "not authorized: the broker refuses this device (CONNACK 0x87",
        ),
        (AttemptTrace(refusal=(0x86, "Bad user name or password")), "not authorized: bad user name or password"),
    ],
)
def test_what_the_broker_said_is_named(trace: AttemptTrace, words: str) -> None:
    reason = connect_failure(GONE, trace, TLS)
    assert words in reason and "Unspecified error" not in reason


def test_a_certificate_expired_alert_for_a_locally_expired_certificate_names_the_certificate() -> None:
    expired = dataclasses.replace(TLS, cert_expired_at=datetime(2020, 2, 1, tzinfo=UTC))
    reason = connect_failure(GONE, _alert("certificate expired"), expired)
    assert reason.startswith("client certificate expired: the broker refuses /etc/edge-agent/kiosk-01.pem")
    assert "2020-02-01" in reason and "revocation list" not in reason


def test_a_3_1_1_refusal_is_given_in_its_own_return_code() -> None:
    v311 = Attempt("broker.store", 1883, "3.1.1", False)
    reason = connect_failure(GONE, AttemptTrace(refusal=(0x87, "Not authorized")), v311)
    assert reason.startswith("not authorized:") and "(CONNACK return code 5, Not authorized)" in reason


def test_a_broker_certificate_for_another_name_says_which_name() -> None:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    exc.verify_code = 62
    exc.verify_message = "Hostname mismatch, certificate is not valid for 'broker.store'."
    reason = connect_failure(exc, AttemptTrace(), TLS)
    assert reason.startswith("broker certificate not trusted: it does not name broker.store")
    assert "server_hostname_check" in reason


def test_a_locally_expired_client_certificate_is_named_whatever_the_broker_says() -> None:
    expired = dataclasses.replace(TLS, cert_expired_at=datetime(2020, 2, 1, tzinfo=UTC))
    reason = connect_failure(GONE, AttemptTrace(socket_error="failed to receive on socket: EOF occurred"), expired)
    assert reason.startswith("client certificate expired: /etc/edge-agent/kiosk-01.pem was valid until 2020-02-01")
    timeout = connect_failure(TimeoutError(), AttemptTrace(), expired)
    assert timeout.startswith("broker unreachable: broker.store:8883 did not answer within 10s")
    assert "also, the client certificate /etc/edge-agent/kiosk-01.pem expired on 2020-02-01" in timeout


def test_the_not_after_of_a_real_certificate_is_read_without_a_crypto_library(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    assert certificate_not_after(pki.pem("expired")) == datetime(2020, 2, 1, tzinfo=UTC)
    fresh = certificate_not_after(pki.pem("client"))
    assert fresh is not None and fresh > datetime.now(UTC)
    assert certificate_not_after(pki.key("client")) is None and certificate_not_after(tmp_path / "none") is None
