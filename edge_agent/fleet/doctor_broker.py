"""The doctor's broker checks: TCP to each endpoint, the TLS handshake and the broker's chain, days to expiry
of the broker's certificate and of this device's own, and an MQTT CONNECT as the device with the fence's probe
(edge_agent/fence_check.py): the broker takes this device's credentials and refuses it what only the platform
writes.

Failures are worded by edge_agent/sync/link_reasons.py, the words `edge-agent status` shows as
connection_detail, so the doctor and the agent name one cause the same way.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig, Endpoint, TlsSection
from edge_agent.fleet import doctor_const as const
from edge_agent.fleet.doctor import Check, Finding, fail, ok, warn
from edge_agent.sync.link_reasons import Attempt, AttemptTrace, certificate_not_after, connect_failure

DAY_S = 86_400.0


def broker_checks(config: AgentConfig) -> list[Check]:
    mqtt = config.mqtt
    timeout = min(mqtt.connect_timeout_s, const.BROKER_CONNECT_TIMEOUT_S)
    checks: list[Check] = [BrokerCheck(e, mqtt.tls, mqtt.protocol, timeout) for e in mqtt.endpoints]
    if mqtt.tls is not None and mqtt.tls.cert_file is not None:
        checks.append(ClientCertificateCheck(mqtt.tls.cert_file))
    checks.append(FenceCheck(config))
    return checks


def _fix_for(reason: str) -> str:
    """What store IT does about a reason in link_reasons' words."""
    if reason.startswith("broker unreachable"):
        return (
            "check that the broker runs and this device reaches it: the store network, a firewall, "
            "mqtt.endpoints (`nc -vz HOST PORT`)"
        )
    if reason.startswith("client certificate revoked"):
        return (
            "this certificate was revoked (a lost or stolen device): issue a new one on the admin machine "
            "(scripts/store-pki.sh DIR device ID) and install it and its new key as mqtt.tls.cert_file/key_file"
        )
    if reason.startswith("the broker's revocation list has expired"):
        return (
            "on the admin machine, scripts/store-pki.sh DIR crl; install DIR/crl.pem as "
            "/etc/mosquitto/edge-agent/crl.pem and restart Mosquitto; check the broker's clock"
        )
    if "expired" in reason or "not valid yet" in reason:
        return "renew the certificate (scripts/store-pki.sh), and check this device's clock"
    if reason.startswith("broker certificate not trusted"):
        return (
            "make mqtt.tls.ca_file the store CA that signed the broker's certificate "
            "(`openssl s_client -connect HOST:PORT -CAfile CA`)"
        )
    if reason.startswith("client certificate unknown"):
        return (
            "issue this device's certificate from the store CA the broker trusts (scripts/store-pki.sh DIR device ID)"
        )
    if "requires a client certificate" in reason:
        return "give the device its certificate and key: mqtt.tls.cert_file and mqtt.tls.key_file"
    if reason.startswith("not authorized") and "password" in reason:
        return "give mqtt.password_file this device's password as the broker's password_file has it (mosquitto_passwd)"
    if reason.startswith("not authorized"):
        return "the broker refuses this identity: its certificate's CN must be device.id, and the ACL must name it"
    if reason.startswith("no TLS on"):
        return "this port is a plaintext listener: use the broker's TLS port in mqtt.endpoints"
    return "compare the broker's listener (cafile, certfile, require_certificate) with [mqtt.tls]"


def _days_left(not_after: datetime) -> float:
    return (not_after.timestamp() - time.time()) / DAY_S


def _expiry(what: str, not_after: datetime, fix: str) -> Finding:
    days = _days_left(not_after)
    facts: dict[str, Any] = {"not_after": not_after.isoformat(), "days_to_expiry": round(days, 1)}
    when = f"{not_after:%Y-%m-%d %H:%M} UTC"
    if days <= 0:
        return fail(f"{what} expired on {when}", fix, **facts)
    if days < const.CERT_WARN_DAYS:
        return warn(f"{what} expires in {days:.0f} day(s), on {when}", f"{fix} before {when}", **facts)
    return ok(f"{what} valid until {when} ({days:.0f} days)", **facts)


def _name(rdns: Any) -> str:
    """The CN (or the whole name) of getpeercert()'s subject/issuer tuples."""
    parts = {k: v for rdn in rdns or () for k, v in rdn}
    return str(parts.get("commonName") or ", ".join(f"{k}={v}" for k, v in parts.items()))


@dataclass(frozen=True)
class BrokerCheck:
    endpoint: Endpoint
    tls: TlsSection | None
    protocol: str
    connect_timeout_s: float
    name: str = "broker"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def _attempt(self) -> Attempt:
        tls = self.tls
        cert_file = None if tls is None or tls.cert_file is None else str(tls.cert_file)
        not_after = None if cert_file is None else certificate_not_after(cert_file)
        return Attempt(
            self.endpoint.host,
            self.endpoint.port,
            self.protocol,
            tls is not None,
            ca_file=None if tls is None else str(tls.ca_file),
            cert_file=cert_file,
            connect_timeout_s=self.connect_timeout_s,
            cert_expired_at=not_after if not_after is not None and _days_left(not_after) <= 0 else None,
        )

    def _failed(self, exc: BaseException) -> Finding:
        reason = connect_failure(exc, AttemptTrace(), self._attempt())
        return fail(reason, _fix_for(reason))

    def run(self) -> Finding:
        host, port = self.endpoint.host, self.endpoint.port
        try:
            raw = socket.create_connection((host, port), timeout=self.connect_timeout_s)
        except OSError as exc:
            return self._failed(exc)
        with raw:
            if self.tls is None:
                return ok("TCP connect (plaintext: no [mqtt.tls])")
            try:
                context = self._context(self.tls)
            except (ssl.SSLError, OSError) as exc:
                return fail(f"the TLS files cannot be used: {exc}", "see the config check above")
            try:
                with context.wrap_socket(raw, server_hostname=host) as conn:
                    peer = conn.getpeercert()
                    version = conn.version()
                    if version == "TLSv1.3":
                        self._await_alert(conn)
            except (ssl.SSLError, OSError) as exc:
                return self._failed(exc)
        if not peer:
            return fail("the broker sent no certificate", _fix_for("broker certificate not trusted"))
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), UTC)
        chain = f"{version}, broker certificate {_name(peer.get('subject'))!r} issued by {_name(peer.get('issuer'))!r}"
        found = _expiry(f"{chain}, verified against {self.tls.ca_file};", not_after, "renew the broker's certificate")
        return found

    @staticmethod
    def _await_alert(conn: ssl.SSLSocket) -> None:
        """Raise the broker's verdict on this device's certificate (an alert, or a close), if it sends one."""
        conn.settimeout(const.TLS_ALERT_WAIT_S)
        try:
            if conn.recv(1) == b"":
                raise ConnectionResetError("EOF occurred: the broker closed the connection after the handshake")
        except TimeoutError:
            return  # silence: the broker accepted the certificate and waits for CONNECT

    @staticmethod
    def _context(tls: TlsSection) -> ssl.SSLContext:
        """The context paho builds for the link (CERT_REQUIRED, never a downgrade)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(tls.ca_file))
        context.check_hostname = tls.server_hostname_check
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=lambda: b"")
        return context


@dataclass(frozen=True)
class ClientCertificateCheck:
    """Days until this device's own certificate expires: the broker refuses it from that moment on."""

    cert_file: Path
    name: str = "client_certificate"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.cert_file)

    def run(self) -> Finding:
        not_after = certificate_not_after(self.cert_file)
        if not_after is None:
            return fail("not a readable PEM certificate", "see the config check above (mqtt.tls.cert_file)")
        return _expiry(
            "this device's certificate",
            not_after,
            "re-issue it from the store CA (scripts/store-pki.sh DIR device ID), and check this device's clock",
        )


@dataclass(frozen=True)
class FenceCheck:
    """CONNECT as the device (its TLS identity, username and password; a client id of its own, so a running
    agent's session is untouched) and `status --check-fence`'s probe: a harmless empty publish on its acks topic."""

    config: AgentConfig
    name: str = "fence"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return ", ".join(f"{e.host}:{e.port}" for e in self.config.mqtt.endpoints)

    def run(self) -> Finding:
        from edge_agent.contract.topics import Topics
        from edge_agent.fence_check import check_fence
        from edge_agent.wiring import KeyFileError, link_settings, read_password

        device = self.config.device
        try:
            password = read_password(self.config)
        except KeyFileError as exc:
            return fail(f"the broker password cannot be read: {exc}", "see the config check above")
        settings = link_settings(self.config, password)
        connect_s = min(settings.connect_timeout_s, const.BROKER_CONNECT_TIMEOUT_S)
        settings = dataclasses.replace(settings, connect_timeout_s=connect_s)
        topic = Topics(device.tenant, device.store, device.id).acks
        verdict = check_fence(settings, topic, probe_wait_s=const.FENCE_PROBE_WAIT_S)
        facts = {"outcome": verdict.outcome, "endpoint": verdict.endpoint, "client_id": verdict.client_id}
        if verdict.outcome == "refused":
            return ok(f"CONNECT accepted at {verdict.endpoint} as {verdict.client_id}; {verdict.detail}", **facts)
        if verdict.outcome == "accepted":
            return fail(
                verdict.detail,
                "install deploy/mosquitto/edge-agent.conf and edge-agent.acl on the store broker and give each "
                "device its certificate (README 'Fence the store broker'); `edge-agent status --check-fence` "
                "then exits 0",
                **facts,
            )
        return fail(f"no MQTT session: {verdict.detail}", _fix_for(verdict.detail), **facts)
