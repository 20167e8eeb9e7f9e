"""Certificates for the TLS failure tests, made with the openssl CLI (Debian 12's OpenSSL 3.0).

Besides a good CA, broker and client certificate, it makes the ones a store gets wrong: a client certificate
from another CA, one whose validity window is over (`openssl ca -startdate/-enddate`, since `openssl x509 -req`
in 3.0 has no -not_before/-not_after), and a broker certificate from another CA. Keys are written 0600.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Pki", "make_pki"]

_CA_CONF = """[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[client]
extendedKeyUsage = clientAuth
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def _ca(d: Path, name: str, days: int) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-days", str(days + 1), "-subj", f"/CN=edge-agent test {name}", cwd=d,
    )  # fmt: skip


def _leaf(d: Path, name: str, ca: str, ext: str, cn: str, days: int) -> None:
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={cn}",
        cwd=d,
    )
    (d / f"{name}.ext").write_text(ext + "\n")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-out", f"{name}.pem", "-days", str(days), "-extfile", f"{name}.ext", cwd=d,
    )  # fmt: skip
    (d / f"{name}.key").chmod(0o600)


def _expired_leaf(d: Path, name: str, ca: str, cn: str) -> None:
    """A client certificate that was valid in January 2020 and not since."""
    work = d / f"{name}-ca"
    work.mkdir()
    (work / "index.txt").write_text("")
    (work / "serial").write_text("1000\n")
    (work / "ca.cnf").write_text(_CA_CONF)
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"../{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={cn}",
        cwd=work,
    )
    _openssl(
        "ca", "-batch", "-config", "ca.cnf", "-cert", f"../{ca}.pem", "-keyfile", f"../{ca}.key", "-in", f"{name}.csr",
        "-out", f"../{name}.pem", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
        "-extensions", "client", "-notext", cwd=work,
    )  # fmt: skip
    (d / f"{name}.key").chmod(0o600)


@dataclass(frozen=True)
class Pki:
    root: Path

    def pem(self, name: str) -> Path:
        return self.root / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    def broker_options(self, server: str = "server") -> list[str]:
        """MosquittoBroker listener_options: TLS with client certificates from the store CA required."""
        return [
            f"cafile {self.pem('ca')}",
            f"certfile {self.pem(server)}",
            f"keyfile {self.key(server)}",
            "require_certificate true",
        ]

    def agent_tls(self, client: str = "client", ca: str = "ca") -> dict[str, str]:
        """make_config(..., tls=...)."""
        return {"ca_file": str(self.pem(ca)), "cert_file": str(self.pem(client)), "key_file": str(self.key(client))}


def make_pki(root: Path, device: str = "kiosk-01", days: int = 2) -> Pki:
    """ca (the store CA) with server (127.0.0.1) and client; other-ca with foreign (a client) and
    server-other (a broker); expired (a store-CA client certificate whose window closed in 2020).
    Leaf certificates are valid for ``days`` (the doctor warns within 30 days of expiry)."""
    root.mkdir(parents=True)
    _ca(root, "ca", days)
    _ca(root, "other-ca", days)
    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    _leaf(root, "server", "ca", server_ext, "broker", days)
    _leaf(root, "server-other", "other-ca", server_ext, "broker", days)
    _leaf(root, "client", "ca", "extendedKeyUsage=clientAuth", device, days)
    _leaf(root, "foreign", "other-ca", "extendedKeyUsage=clientAuth", device, days)
    _expired_leaf(root, "expired", "ca", device)
    return Pki(root)
