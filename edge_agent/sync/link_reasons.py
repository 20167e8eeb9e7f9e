"""Why a connection attempt failed, in the words store IT needs: what the broker said, about which file.

paho reports a TLS alert that arrives after the handshake (TLS 1.3 verifies the client certificate then) as
`Unspecified error`; the alert itself is only in its log line `failed to receive on socket: ...`. The link
hands that line, the CONNACK refusal and the exception to `connect_failure`, which names the cause.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["AttemptTrace", "certificate_not_after", "connect_failure", "expired_note"]

# MQTT 3.1.1 CONNACK return codes by the name paho gives their MQTT 5 equivalents.
_V311_RETURN_CODES = {
    "Unsupported protocol version": 1,
    "Client identifier not valid": 2,
    "Server unavailable": 3,
    "Bad user name or password": 4,
    "Not authorized": 5,
}
_X509_V_ERR_CERT_NOT_YET_VALID = 9
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_X509_V_ERR_HOSTNAME_MISMATCH = 62


@dataclass
class AttemptTrace:
    """What one attempt left behind, filled in on paho's thread and read on the loop after it failed."""

    socket_error: str = ""
    """paho's last MQTT_LOG_ERR line before CONNACK (the TLS alert, if one came)."""
    refusal: tuple[int, str] | None = None
    """The CONNACK reason code (MQTT 5 numbering, as paho gives it for 3.1.1 too) and its name."""


@dataclass(frozen=True)
class Attempt:
    host: str
    port: int
    protocol: str
    tls: bool
    ca_file: str | None = None
    cert_file: str | None = None
    connect_timeout_s: float = 10.0
    cert_expired_at: datetime | None = None
    username: str | None = None


def connect_failure(exc: BaseException, trace: AttemptTrace, attempt: Attempt) -> str:
    reason = _explain(exc, trace, attempt)
    expired_at = attempt.cert_expired_at
    if expired_at is None or reason.startswith("client certificate expired"):
        return reason
    if reason.startswith("client certificate unknown"):  # the likeliest cause of that refusal is the date
        alert = _alert(f"{trace.socket_error} {exc}".lower())
        how = f"TLS alert {alert}" if alert else "it closed the TLS connection before CONNACK"
        return (
            f"client certificate expired: {attempt.cert_file} was valid until {expired_at:%Y-%m-%d %H:%M} UTC "
            f"(its notAfter) and the broker refused it ({how}); renew it"
        )
    return f"{reason}; also, {expired_note(attempt.cert_file or '', expired_at)}"


def _alert(text: str) -> str:
    """The TLS alert's name in an OpenSSL message (`... tlsv1 alert unknown ca (_ssl.c:2580)`), or ""."""
    _, found, rest = text.partition(" alert ")
    return rest.split(" (", 1)[0].strip() if found else ""


def expired_note(cert_file: str, not_after: datetime) -> str:
    return f"the client certificate {cert_file} expired on {not_after:%Y-%m-%d %H:%M} UTC (its notAfter); renew it"


def _explain(exc: BaseException, trace: AttemptTrace, a: Attempt) -> str:
    if trace.refusal is not None:
        return _refused(*trace.refusal, a)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _broker_untrusted(exc, a)
    text = f"{trace.socket_error} {exc}".lower()
    cert = a.cert_file
    if "alert unknown ca" in text or "alert bad certificate" in text or "alert certificate unknown" in text:
        alert = next(
            name for name in ("unknown ca", "bad certificate", "certificate unknown") if f"alert {name}" in text
        )
        return (
            f"client certificate unknown to the broker: it does not accept {cert}, which is not signed by a CA "
            f"it trusts (TLS alert {alert}); issue this device's certificate from the store CA"
        )
    if "alert certificate expired" in text and cert and a.cert_expired_at is None:
        return (
            f"the broker's revocation list has expired, most likely: the broker refuses {cert} (TLS alert "
            "certificate expired), which is still valid by this device's clock, as Mosquitto refuses every "
            "client once its crlfile is past its nextUpdate; re-issue it (scripts/store-pki.sh DIR crl) and "
            "restart the broker, or check the broker's clock and this device's"
        )
    if "alert certificate expired" in text:
        when = f" on {a.cert_expired_at:%Y-%m-%d %H:%M} UTC" if a.cert_expired_at else ""
        return (
            f"client certificate expired: the broker refuses {cert}, which expired{when} "
            "(TLS alert certificate expired); renew it, and check this device's clock"
        )
    if "alert certificate revoked" in text:
        return (
            f"client certificate revoked by the store CA: the broker refuses {cert}, which is on its revocation "
            "list (TLS alert certificate revoked; scripts/store-pki.sh DIR revoke ID puts a lost or stolen device "
            "there); issue a new one (scripts/store-pki.sh DIR device ID) and install it with its new key"
        )
    if "certificate required" in text:
        return (
            "the broker requires a client certificate (TLS alert certificate required); "
            "set mqtt.tls.cert_file and mqtt.tls.key_file"
        )
    if a.tls and ("eof occurred" in text or "unexpected eof" in text or "connection reset" in text):
        if cert:
            return (
                "client certificate unknown to the broker, most likely: it closed the TLS connection before "
                f"answering CONNECT, as it does when it refuses a client certificate; check that {cert} is signed "
                "by the store CA and still valid"
            )
        return (
            "the broker closed the TLS connection before answering CONNECT: it most likely requires a client "
            "certificate; set mqtt.tls.cert_file and mqtt.tls.key_file"
        )
    if a.tls and "wrong version number" in text:
        return f"no TLS on {a.host}:{a.port}: the broker answers in plaintext there (TLS: wrong version number)"
    if not a.tls and ("connection reset" in text or "eof occurred" in text):
        return (
            f"the broker at {a.host}:{a.port} closed the connection before CONNACK: if that port is a TLS "
            "listener, configure [mqtt.tls] (the agent never guesses TLS)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed with {a.host}:{a.port}: {exc.reason or exc}"
    if trace.socket_error:  # better than paho's `Unspecified error`
        cause = trace.socket_error.removeprefix("failed to receive on socket: ")
        return f"the connection to {a.host}:{a.port} failed before CONNACK: {cause}"
    if isinstance(exc, socket.gaierror):
        return f"broker unreachable: cannot resolve {a.host} ({exc.strerror or exc})"
    if isinstance(exc, TimeoutError):
        return (
            f"broker unreachable: {a.host}:{a.port} did not answer within {a.connect_timeout_s:g}s (TCP, TLS, CONNACK)"
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"broker unreachable: {a.host}:{a.port}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def _refused(value: int, name: str, a: Attempt) -> str:
    code = f"CONNACK 0x{value:02X} {name}"
    if a.protocol != "5" and name in _V311_RETURN_CODES:
        code = f"CONNACK return code {_V311_RETURN_CODES[name]}, {name}"
    if name == "Not authorized" and a.username is not None:  # Mosquitto 2.0 answers a wrong password so too
        return (
            f"not authorized: the broker refuses user {a.username!r} ({code}): a wrong password (check "
            "mqtt.username and mqtt.password_file) or an identity the broker's ACL does not admit"
        )
    if name == "Not authorized":
        return (
            f"not authorized: the broker refuses this device ({code}); its certificate, user name or client id "
            "is not one the broker's ACL admits"
        )
    if name == "Bad user name or password":
        return f"not authorized: bad user name or password ({code}); check mqtt.username and mqtt.password_file"
    if name == "Client identifier not valid":
        return f"the broker refuses the client id ({code}); check mqtt.client_id"
    return f"the broker refused the connection ({code})"


def _broker_untrusted(exc: ssl.SSLCertVerificationError, a: Attempt) -> str:
    message = exc.verify_message or str(exc.reason)
    if exc.verify_code == _X509_V_ERR_HOSTNAME_MISMATCH:
        return (
            f"broker certificate not trusted: it does not name {a.host} ({message}); address the broker by a name "
            "its certificate holds, or set mqtt.tls.server_hostname_check = false for a broker addressed by IP"
        )
    if exc.verify_code == _X509_V_ERR_CERT_HAS_EXPIRED:
        return f"broker certificate not trusted: it has expired ({message}); renew the broker's certificate"
    if exc.verify_code == _X509_V_ERR_CERT_NOT_YET_VALID:
        return f"broker certificate not trusted: it is not valid yet ({message}); check this device's clock"
    return (
        f"broker certificate not trusted: {message}; mqtt.tls.ca_file {a.ca_file} is not the CA that signed "
        f"the certificate of {a.host}:{a.port}"
    )


# --- the client certificate's notAfter, without a crypto library ----------------------------------------------
def certificate_not_after(path: str | Path) -> datetime | None:
    """notAfter of the first certificate in a PEM file; None when it cannot be read or parsed (the TLS layer
    then reports the file itself)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
        begin = text.index("-----BEGIN CERTIFICATE-----")
        end = text.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
        der = ssl.PEM_cert_to_DER_cert(text[begin:end])
        return _der_not_after(der)
    except (OSError, ValueError, IndexError):
        return None


def _der_item(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER item at `at`."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[at : at + n], "big")
        at += n
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _der_not_after(der: bytes) -> datetime:
    _, cert, _ = _der_item(der, 0)  # Certificate ::= SEQUENCE { tbsCertificate, ... }
    _, at, _ = _der_item(der, cert)  # TBSCertificate ::= SEQUENCE { [0] version?, serial, sig, issuer, validity
    if der[at] == 0xA0:
        at = _der_item(der, at)[2]
    for _ in range(3):  # serialNumber, signature, issuer
        at = _der_item(der, at)[2]
    _, validity, _ = _der_item(der, at)
    not_before_end = _der_item(der, validity)[2]
    tag, start, end = _der_item(der, not_before_end)
    value = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 are 19xx
        value = ("19" if int(value[:2]) >= 50 else "20") + value
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError(f"not a time (tag {tag:#x})")
    return datetime.strptime(value, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
