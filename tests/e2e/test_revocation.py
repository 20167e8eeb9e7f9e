"""A lost or stolen device: `scripts/store-pki.sh DIR revoke ID` puts its certificate on the store CA's CRL, and
real Mosquitto running the shipped fence (its crlfile, FencedBroker) refuses it at the TLS handshake from the
next start on, while every other device keeps syncing and a replacement with the same id gets in again.

What Mosquitto 2.0.11 does (checked by hand, see README "A lost or stolen device"): a revoked certificate gets
TLS alert 44 `certificate revoked`; SIGHUP re-reads crlfile for new connections but keeps open sessions, so the
procedure is a restart; a CRL past its nextUpdate makes it refuse every client with `certificate expired`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.fleet.doctor import Finding
from edge_agent.fleet.doctor_broker import broker_checks
from edge_agent.identifiers.gtin import normalise_gtin
from simulators.broker import FencedBroker
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import converge
from tests.support.fence import FenceClient, Identity, StorePki, make_store_pki, store_pki
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[..., InProcessAgent]
GTIN = normalise_gtin(DEMO_CODES[0])
REVOKED_WORDS = "client certificate revoked by the store CA"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> StorePki:
    """kiosk-02 is revoked by the first test, kiosk-03 by the second: each test revokes its own device."""
    return make_store_pki(tmp_path_factory.mktemp("revocation-pki"), ("kiosk-01", "kiosk-02", "kiosk-03"))


def stolen_copy(identity: Identity, where: Path) -> Identity:
    """What the thief holds: the device's certificate and key as they were on the device."""
    assert identity.cert is not None and identity.key is not None
    where.mkdir(parents=True)
    cert, key = shutil.copy(identity.cert, where), shutil.copy(identity.key, where)
    return Identity(identity.ca, Path(cert), Path(key))


def connects(fenced: FencedBroker, identity: Identity, name: str) -> str:
    client = FenceClient(fenced.host, fenced.port, identity, name=name)
    try:
        return client.connect()
    finally:
        client.close()


def doctor_broker_check(tmp_path: Path, fenced: FencedBroker, device: str, identity: Identity) -> Finding:
    """`edge-agent doctor`'s broker check as `device` with `identity`'s files."""
    config = make_config(tmp_path, fenced.port, device=device, tls=identity.as_agent_tls())
    return next(c for c in broker_checks(config) if c.name == "broker").run()


def test_a_revoked_device_is_refused_in_plain_words_while_the_others_sync(
    tmp_path: Path, pki: StorePki, agent_factory: AgentFactory
) -> None:
    thief = stolen_copy(pki.device("kiosk-02"), tmp_path / "stolen")
    with FencedBroker(tmp_path / "fenced", pki.root) as fenced:
        assert connects(fenced, thief, "before") == "connected"
        out = store_pki(pki.root, "revoke", "kiosk-02")
        assert "revoked" in out and "1 revoked" in out, out
        fenced.restart()  # copies the new crl.pem, as an install on the store broker does

        agent = agent_factory(make_config(tmp_path, fenced.port, device="kiosk-02", tls=thief.as_agent_tls()))
        assert agent.agent is not None
        link = agent.agent.link

        def last_error() -> str:
            return str(agent.call(lambda: link.counters.last_error) or "")

        wait_until(lambda: REVOKED_WORDS in last_error(), 20, "the link to name the revocation", details=last_error)
        assert str(thief.cert) in last_error() and "scripts/store-pki.sh DIR device ID" in last_error()
        assert not agent.connected

        found = doctor_broker_check(tmp_path, fenced, "kiosk-02", thief)
        assert (found.verdict, found.detail.startswith(REVOKED_WORDS)) == ("fail", True), found
        assert "scripts/store-pki.sh DIR device ID" in found.fix

        central = CentralPlatform(tmp_path / "central.db", fenced.host, fenced.port, tls=pki.platform.as_tls())
        central.start()
        try:
            kiosk = agent_factory(make_config(tmp_path, fenced.port, tls=pki.device("kiosk-01").as_agent_tls()))
            kiosk.scan(GTIN)
            converge(kiosk, central, {GTIN: 1})
        finally:
            central.stop()


def test_a_replacement_device_with_the_same_id_gets_a_new_key_and_connects(tmp_path: Path, pki: StorePki) -> None:
    thief = stolen_copy(pki.device("kiosk-03"), tmp_path / "stolen")
    assert thief.key is not None
    device = pki.device("kiosk-03")
    assert device.cert is not None and device.key is not None
    store_pki(pki.root, "revoke", "kiosk-03")
    assert not device.key.exists() and not device.cert.exists()  # the thief has that key: it is never reused
    assert store_pki(pki.root, "revoke", "kiosk-03").startswith("no current certificate for kiosk-03: already revoked")
    store_pki(pki.root, "device", "kiosk-03")
    assert device.key.read_bytes() != thief.key.read_bytes()
    with FencedBroker(tmp_path / "fenced", pki.root) as fenced:
        assert connects(fenced, device, "replacement") == "connected"
        assert connects(fenced, thief, "thief").startswith("refused")
        assert doctor_broker_check(tmp_path, fenced, "kiosk-03", thief).detail.startswith(REVOKED_WORDS)
        assert connects(fenced, pki.device("kiosk-01"), "kiosk-01") == "connected"


def test_a_pki_dir_from_before_revocation_gets_its_crl(tmp_path: Path) -> None:
    old = make_store_pki(tmp_path / "old-pki", ("kiosk-01",))
    shutil.rmtree(old.root / "ca-db")
    (old.root / "crl.pem").unlink()  # as store-pki.sh left a DIR before it knew CRLs
    assert "kept" in store_pki(old.root, "device", "kiosk-01")
    assert store_pki(old.root, "crl").startswith(f"wrote {old.root}/crl.pem (CRL, 365 days, 0 revoked)")
    assert store_pki(old.root, "crl") == f"kept {old.root}/crl.pem\n"
    with FencedBroker(tmp_path / "fenced", old.root) as fenced:
        assert connects(fenced, old.device("kiosk-01"), "kiosk-01") == "connected"
