"""Agent configuration: one TOML file per device, validated by pydantic.

A broken config names the file, the key and what is allowed, and the agent does not start.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from edge_agent import const
from edge_agent.config_lazy import lazy_section
from edge_agent.contract.offers import OFFERS_PER_MESSAGE_MAX
from edge_agent.domain.ops import DEVICE_ID_PATTERN
from edge_agent.domain.workflows import const as wf_const
from edge_agent.roles.claim_config import ClaimSection
from edge_agent.roles.picking_config import PickingSection
from edge_agent.screen import const as screen_const

if TYPE_CHECKING:
    from edge_agent.readers.ble.config import BleConfig
    from edge_agent.readers.scanner.config import ScannerConfig
else:  # their models are imported when a file has the section (config_lazy.py)
    BleConfig = lazy_section("edge_agent.readers.ble.config", "BleConfig")
    ScannerConfig = lazy_section("edge_agent.readers.scanner.config", "ScannerConfig")

STATE_DIR_ENV = "EDGE_AGENT_STATE_DIR"
RESERVED_DEVICE_ID = "platform"
"""The central platform's client certificate CN on a fenced store broker (scripts/store-pki.sh): never a device."""
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
RcnRegionName = Literal["dk", "ee", "fi", "de", "gb", "lv", "lt", "no", "se"]
"""biip's RcnRegion values: the countries whose variable-measure layouts GS1 publishes."""
BarcodeFormatName = Literal["ean13", "ean8", "upca", "upce", "code128", "qr", "datamatrix"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceSection(_Section):
    id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
    tenant: Name
    store: Name
    role: Literal["kiosk", "associate-handheld", "fitting-room-mirror", "shelf"]

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == RESERVED_DEVICE_ID:
            raise ValueError(
                f"{value!r} is reserved for the platform's identity on the store broker; allowed: any other id"
            )
        return value


class StorageSection(_Section):
    path: Path = Field(default=Path("agent.db"), description="relative paths are under $EDGE_AGENT_STATE_DIR")
    max_bytes: int | None = Field(
        default=None,
        ge=const.STORAGE_MAX_BYTES_MIN,
        description="the storage budget: bytes the database may hold (live pages); near it confirmed baskets are "
        "purged early, at it new scans are refused with a reason on the screen; unconfirmed ops are never evicted",
    )

    @field_validator("path")
    @classmethod
    def _inside_the_state_dir(cls, value: Path) -> Path:
        if not value.is_absolute() and os.path.normpath(value).split(os.sep)[0] == "..":
            raise ValueError(
                f"'..' leads out of the state directory (${STATE_DIR_ENV}); allowed: a path inside it, such as agent.db"
            )
        return value


class Endpoint(_Section):
    host: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    port: int = Field(default=1883, ge=1, le=65535)


class TlsSection(_Section):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_hostname_check: bool = True

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate authentication)")
        return self


class MqttSection(_Section):
    endpoints: list[Endpoint] = Field(min_length=1, description="tried in turn")
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = Field(default=None, description="defaults to edge-agent-<device id>")
    username: str | None = None
    password_file: Path | None = None
    tls: TlsSection | None = None
    keepalive_s: int = Field(default=const.DEFAULT_KEEPALIVE_S, ge=1, le=3600)
    window: int = Field(default=const.DEFAULT_WINDOW, ge=1, le=1000)
    batch_max_ops: int = Field(default=const.DEFAULT_BATCH_MAX_OPS, ge=1, le=1000)
    ack_timeout_s: float = Field(default=const.DEFAULT_ACK_TIMEOUT_S, gt=0)
    congestion_timeout_s: float = Field(default=const.DEFAULT_CONGESTION_TIMEOUT_S, gt=0)
    connect_timeout_s: float = Field(default=const.CONNECT_TIMEOUT_S, gt=0, le=300)
    backoff_base_s: float = Field(default=const.DEFAULT_BACKOFF_BASE_S, gt=0)
    backoff_cap_s: float = Field(default=const.DEFAULT_BACKOFF_CAP_S, gt=0)
    max_clock_ahead_s: float = Field(
        default=const.DEFAULT_MAX_CLOCK_AHEAD_S,
        gt=0,
        le=86_400,
        description="a platform clock further ahead of this device's wall clock is not adopted (counted clock_ahead)",
    )


class BarcodeSection(_Section):
    enabled: bool = True
    source: int | str = Field(description="camera index, /dev/video* path or a video file")
    decoder: Literal["zxing", "pyzbar"] = "zxing"
    formats: list[BarcodeFormatName] = Field(default=["ean13", "upca", "ean8"], min_length=1)
    debounce_s: float = Field(default=const.DEFAULT_DEBOUNCE_S, ge=0)
    confirm_frames: int = Field(default=2, ge=1, le=10, description="a code must be in this many of ...")
    confirm_window: int = Field(default=3, ge=1, le=30, description="... the last this many decoded frames")
    pace: bool = Field(default=True, description="play video files in real time")
    every_nth_frame: int = Field(default=1, ge=1, le=30)
    rest: bool = Field(default=True, description="decode only frames where the view changed (readers/barcode/rest.py)")


class NfcSection(_Section):
    enabled: bool = True
    path: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="nfcpy device path: usb, usb:054c:06c3, tty:USB0:pn532, udp:HOST:PORT"
    )
    tag_types: list[Literal["type2", "type3", "type4"]] = Field(default=["type2", "type4"], min_length=1)
    repeat_s: float = Field(default=const.DEFAULT_NFC_REPEAT_S, ge=0, le=60)


class ReadersSection(_Section):
    barcode: BarcodeSection | None = None
    nfc: NfcSection | None = None
    ble: BleConfig | None = None
    scanner: ScannerConfig | None = None


class IdentifiersSection(_Section):
    rcn_region: RcnRegionName | None = Field(
        default=None, description="GS1 member organisation whose variable-measure layout the store's scales print"
    )


class IdentitySection(_Section):
    """Exactly one of the two key kinds: a device holding both would keep the symmetric key a thief could sign with."""

    public_key_files: list[Path] = Field(
        default_factory=list, description="the platform's Ed25519 public keys (EA2 credentials); current key first"
    )
    key_files: list[Path] = Field(
        default_factory=list, description="legacy: hex HMAC keys (EA1 credentials); they also sign, see README"
    )
    merge_policy: Literal["sum", "max", "replace", "keep_online", "separate"] = "sum"

    @model_validator(mode="after")
    def _one_kind_of_key(self) -> IdentitySection:
        if bool(self.public_key_files) == bool(self.key_files):
            raise ValueError(
                "set exactly one of public_key_files and key_files; allowed: public_key_files = [...] "
                "(Ed25519 public keys, recommended) or key_files = [...] (legacy HMAC keys)"
            )
        return self


class AssistSection(_Section):
    """Fitting-room assist requests: how long before an unacknowledged request escalates, and how far."""

    ack_s: float = Field(default=wf_const.DEFAULT_ASSIST_ACK_S, gt=0, le=3600)
    delivery_s: float = Field(default=wf_const.DEFAULT_ASSIST_DELIVERY_S, gt=0, le=7200)
    max_level: int = Field(default=wf_const.DEFAULT_ASSIST_MAX_LEVEL, ge=1, le=10)


class SessionSection(_Section):
    idle_timeout_s: float = Field(default=const.DEFAULT_SESSION_IDLE_S, gt=0)
    anonymous_retention_s: float = Field(default=const.DEFAULT_ANONYMOUS_RETENTION_S, ge=0)


class OffersSection(_Section):
    """Offers the platform publishes for a session whose shopper granted ``personalisation`` (contract/offers.py)."""

    max_per_session: int = Field(
        default=const.DEFAULT_OFFERS_PER_SESSION,
        ge=0,
        le=OFFERS_PER_MESSAGE_MAX,
        description="frequency cap: distinct offers one session may show; 0 shows none",
    )


class BasketSection(_Section):
    cart_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = Field(
        default=None, description="the kiosk's current basket; a fresh one per session when unset"
    )


ScreenLocale = Literal["en", "de", "pl", "et", "ru"]
"""RFC 5646 tags of the catalogues shipped in edge_agent/screen/static/messages/<tag>/ (common + one per page):
English, and German, Polish, Estonian and Russian, the languages of the stores this product serves. The device's
default; a shopper may switch their session's screen to any of them (tests/unit/test_screen_catalogues.py keeps
this list and the shipped catalogues equal)."""


class ScreenSection(_Section):
    """The device's own screen page (edge_agent/screen/); no section, no server."""

    listen: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:-]{1,253}:[0-9]{1,5}$")] = Field(
        default=screen_const.DEFAULT_SCREEN_LISTEN, description="host:port; loopback unless the screen is elsewhere"
    )
    locale: ScreenLocale = Field(default="en", description="the screen's language: en, de, pl, et or ru")
    attract_after_s: float = Field(default=screen_const.DEFAULT_ATTRACT_AFTER_S, gt=0, le=86_400)

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, value: str) -> str:
        port = int(value.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} out of range; allowed: host:port with port 1..65535")
        return value

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")
"""Where the metrics listener may bind: Prometheus text is unauthenticated, so only the device itself (or an
exporter proxy on it) may scrape it (fleet note §0.4)."""


class HealthSection(_Section):
    """The health message on ``dv/{device}/health`` (edge_agent/fleet/health.py)."""

    enabled: bool = True
    interval_s: float = Field(
        default=const.DEFAULT_HEALTH_INTERVAL_S,
        ge=const.HEALTH_INTERVAL_MIN_S,
        le=const.HEALTH_INTERVAL_MAX_S,
        description="seconds between health messages; one is also sent at once after every (re)connect",
    )


class RemoteConfigSection(_Section):
    """``config/set`` from the platform (edge_agent/fleet/remote_config.py). Off unless turned on: turn it on once
    the broker is fenced (README), or any client on the store network could re-point the device."""

    enabled: bool = False
    trial_window_s: float = Field(
        default=const.DEFAULT_CONFIG_TRIAL_WINDOW_S,
        ge=const.CONFIG_TRIAL_WINDOW_MIN_S,
        le=const.CONFIG_TRIAL_WINDOW_MAX_S,
        description="seconds a pushed config has to prove itself healthy before it is reverted",
    )


class MetricsSection(_Section):
    """Prometheus metrics (edge_agent/fleet/metrics.py): off unless ``listen`` or ``textfile`` is set."""

    listen: Annotated[str, StringConstraints(pattern=r"^(\[::1\]|[A-Za-z0-9.:]{1,253}):[0-9]{1,5}$")] | None = Field(
        default=None, description='loopback host:port for GET /metrics, such as "127.0.0.1:9108"'
    )
    textfile: Path | None = Field(
        default=None, description="a node_exporter textfile (*.prom), rewritten atomically every health interval"
    )

    @field_validator("listen")
    @classmethod
    def _loopback(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"{host!r} is not a loopback address; allowed: 127.0.0.1, ::1 or localhost, then :port "
                "(the metrics are unauthenticated: scrape them on the device)"
            )
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"port {port} out of range; allowed: host:port with port 1..65535")
        return value

    @field_validator("textfile")
    @classmethod
    def _prom_file(cls, value: Path | None) -> Path | None:
        if value is not None and (not value.is_absolute() or value.suffix != ".prom"):
            raise ValueError(
                "node_exporter's textfile collector reads only *.prom files in its directory; allowed: an "
                "absolute path ending in .prom, such as /var/lib/node_exporter/textfile/edge_agent.prom"
            )
        return value

    @property
    def host(self) -> str:
        assert self.listen is not None
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        assert self.listen is not None
        return int(self.listen.rpartition(":")[2])


class AgentConfig(_Section):
    config_version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:+-]{1,64}$")] | None = Field(
        default=None,
        description="shown on the health message; when unset, the first 12 hex digits of the file's sha256",
    )
    device: DeviceSection
    storage: StorageSection = StorageSection()
    mqtt: MqttSection
    readers: ReadersSection = ReadersSection()
    basket: BasketSection = BasketSection()
    identifiers: IdentifiersSection = IdentifiersSection()
    identity: IdentitySection | None = None
    session: SessionSection = SessionSection()
    offers: OffersSection = OffersSection()
    assist: AssistSection = AssistSection()
    picking: PickingSection = PickingSection()
    screen: ScreenSection | None = None
    claim: ClaimSection | None = None
    health: HealthSection = HealthSection()
    metrics: MetricsSection = MetricsSection()
    remote_config: RemoteConfigSection = RemoteConfigSection()
    _file_digest: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _claim_key_with_public_keys(self) -> AgentConfig:
        identity, claim = self.identity, self.claim
        if claim is not None and claim.key_file is None and identity is not None and identity.public_key_files:
            raise ValueError(
                "claim.key_file is required with identity.public_key_files (no platform key on the device to derive "
                "a claim key from); allowed: the path of this device's claim key file, provisioned by the platform"
            )
        return self

    @property
    def version(self) -> str:
        """What the health message calls this config: its own ``config_version``, else a digest of the file it was
        read from (of its JSON form when it was built in code, as in the tests)."""
        if self.config_version is not None:
            return self.config_version
        if self._file_digest is not None:
            return self._file_digest
        return _digest(self.model_dump_json().encode())

    def database_path(self) -> Path:
        if self.storage.path.is_absolute():
            return self.storage.path
        return Path(os.environ.get(STATE_DIR_ENV, "var")) / self.storage.path

    def screen_key_path(self) -> Path:
        """The device's screen key, next to its database: only a screen on this device can confirm a merge."""
        db = self.database_path()
        return db.with_name(db.name + ".screen-key")


class ConfigError(ValueError):
    """Every problem in one message: file, key, what is wrong and what is allowed."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


def _allowed(err: ErrorDetails) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"allowed: {ctx['expected']}"
    bounds = [
        f"{k.replace('_', ' ')} {ctx[k]}" for k in ("ge", "gt", "le", "lt", "min_length", "max_length") if k in ctx
    ]
    if "pattern" in ctx:
        bounds.append(f"must match {ctx['pattern']}")
    return f"allowed: {', '.join(bounds)}" if bounds else ""


def describe_validation_error(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        detail = err["msg"]
        if err["type"] == "extra_forbidden":
            detail = "unknown key (a typo?)"
        elif err["type"] != "missing":
            detail += f" (got {err['input']!r})"
        allowed = _allowed(err)
        problems.append(f"{key}: {detail}" + (f"; {allowed}" if allowed else ""))
    return problems


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[: const.CONFIG_DIGEST_HEX]


def load_config(path: Path | str) -> AgentConfig:
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot be read: {exc}"]) from None
    try:
        config = AgentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, describe_validation_error(exc)) from None
    config._file_digest = _digest(data)
    return config
