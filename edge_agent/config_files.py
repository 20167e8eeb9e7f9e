"""What a config names on the device itself: the files it reads and where its database goes.

The schema (edge_agent.config) cannot know whether `/etc/edge-agent/identity.key` exists on this machine or
who may read it. These checks do, for the user that runs them: `edge-agent config check` and `edge-agent run`
call `deployment_problems` and refuse a config with problems, each naming the key, the file and what is
allowed, in the words of ConfigError.
"""

from __future__ import annotations

import os
import pwd
import ssl
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from edge_agent.config import STATE_DIR_ENV, AgentConfig, ConfigError, load_config
from edge_agent.identity import keys

__all__ = [
    "CheckedConfig",
    "ReferencedFile",
    "check_config_file",
    "deployment_problems",
    "file_problems",
    "referenced_files",
    "storage_problems",
]

EVERYONE_READ = stat.S_IROTH
EVERYONE_WRITE = stat.S_IWOTH


@dataclass(frozen=True, slots=True)
class ReferencedFile:
    key: str
    """The config key, as ConfigError names it (identity keys share one key, told apart by their path)."""
    path: Path
    secret: bool
    """A password or private key: nobody but the service user (and its group) may read or write it."""
    trusted: bool = False
    """A public key the device trusts: anybody may read it, nobody else may write it (their key would verify)."""


def referenced_files(config: AgentConfig) -> Iterator[ReferencedFile]:
    m = config.mqtt
    if m.password_file is not None:
        yield ReferencedFile("mqtt.password_file", m.password_file, secret=True)
    if m.tls is not None:
        yield ReferencedFile("mqtt.tls.ca_file", m.tls.ca_file, secret=False)
        if m.tls.cert_file is not None:
            yield ReferencedFile("mqtt.tls.cert_file", m.tls.cert_file, secret=False)
        if m.tls.key_file is not None:
            yield ReferencedFile("mqtt.tls.key_file", m.tls.key_file, secret=True)
    if config.identity is not None:
        for path in config.identity.public_key_files:  # public: anyone may read it, nobody may change it
            yield ReferencedFile(keys.PUBLIC_KEY_FILES, path, secret=False, trusted=True)
        for path in config.identity.key_files:
            yield ReferencedFile(keys.HMAC_KEY_FILES, path, secret=True)
    if config.claim is not None and config.claim.key_file is not None:
        yield ReferencedFile(keys.CLAIM_KEY_FILE, config.claim.key_file, secret=True)


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _access_problem(ref: ReferencedFile) -> str | None:
    """Opened for real (not os.access): what this user can do is what the daemon, running as it, can do."""
    try:
        mode = ref.path.stat().st_mode
        if not stat.S_ISREG(mode):  # before opening: a FIFO would block
            return "is not a regular file; allowed: a file"
        with ref.path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc}); allowed: an existing file that the user {_user()} can read"
    return None


def _mode_problem(ref: ReferencedFile) -> str | None:
    if not ref.secret and not ref.trusted:
        return None
    mode = ref.path.stat().st_mode
    bits = (
        [(EVERYONE_WRITE, "writable")]
        if not ref.secret
        else [(EVERYONE_READ, "readable"), (EVERYONE_WRITE, "writable")]
    )
    open_to = [what for bit, what in bits if mode & bit]
    if not open_to:
        return None
    allowed = (
        f"no access for others: chmod 600 {ref.path} (or chmod 640, group edge-agent)"
        if ref.secret
        else f"no write access for others: chmod 644 {ref.path}"
    )
    return f"is {' and '.join(open_to)} by everyone (mode {stat.S_IMODE(mode):04o}); allowed: {allowed}"


def _content_problem(ref: ReferencedFile) -> str | None:
    """Only what would otherwise stop the daemon at start, or make it retry a connection that cannot work."""
    identity_key = ref.key in (keys.PUBLIC_KEY_FILES, keys.HMAC_KEY_FILES, keys.CLAIM_KEY_FILE)
    try:
        if identity_key:
            keys.parse_key(ref.key, ref.path.read_text(encoding="ascii"))
        elif ref.key == "mqtt.password_file" and not ref.path.read_text(encoding="utf-8").strip():
            return "is empty; allowed: the password on one line"
    except (ValueError, UnicodeDecodeError):
        if identity_key:
            return f"not a key; allowed: {keys.key_allowed(ref.key)}"
        return "is not UTF-8 text; allowed: the password on one line"
    return None


def _tls_problems(config: AgentConfig) -> list[str]:
    """The files can be read: can OpenSSL use them, as the link will (ca, then the certificate with its key)?"""
    tls = config.mqtt.tls
    assert tls is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except (ssl.SSLError, OSError) as exc:
        return [f"mqtt.tls.ca_file: {tls.ca_file}: not a CA certificate ({exc}); allowed: PEM certificates"]
    if tls.cert_file is None or tls.key_file is None:
        return []
    try:
        # A passphrase would be asked for on a terminal; the daemon has none to give.
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        return [
            f"mqtt.tls.cert_file: {tls.cert_file}: cannot be used with mqtt.tls.key_file {tls.key_file} ({exc}); "
            "allowed: a PEM certificate and its own unencrypted PEM private key"
        ]
    return []


def file_problems(config: AgentConfig) -> list[str]:
    """Every referenced file: present, readable by this user, secrets closed to others, contents usable."""
    problems: list[str] = []
    for ref in referenced_files(config):
        access = _access_problem(ref)
        found = [access] if access else [_mode_problem(ref), _content_problem(ref)]
        problems += [f"{ref.key}: {ref.path}: {problem}" for problem in found if problem]
    if config.mqtt.tls is not None and not any(p.startswith("mqtt.tls.") for p in problems):
        problems += _tls_problems(config)
    return problems


def storage_problems(config: AgentConfig, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The database stays inside $EDGE_AGENT_STATE_DIR when it is set (systemd sets it and lets the agent write
    there only). Without it (a developer's checkout, the tests) an absolute path is taken as given; a relative
    one that leaves the directory with '..' is refused by the schema either way."""
    state = environ.get(STATE_DIR_ENV)
    path = config.storage.path
    if not state or not path.is_absolute():
        return []
    if Path(os.path.realpath(path)).is_relative_to(os.path.realpath(state)):
        return []
    return [
        f"storage.path: {path} is outside the state directory {state} (${STATE_DIR_ENV}); "
        f"allowed: a relative path such as agent.db, or an absolute path inside {state}"
    ]


def deployment_problems(config: AgentConfig, environ: Mapping[str, str] = os.environ) -> list[str]:
    return storage_problems(config, environ) + file_problems(config)


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """One config file as `edge-agent config check` and `edge-agent doctor` judge it (one code path for both)."""

    path: Path
    config: AgentConfig | None
    """None when the file itself cannot be read or does not validate; set (with problems) when only what it
    names on this device is wrong, so the doctor can still check the rest."""
    problems: list[str]

    def error(self) -> ConfigError | None:
        return ConfigError(self.path, self.problems) if self.problems else None


def check_config_file(
    path: Path, *, schema_only: bool = False, environ: Mapping[str, str] = os.environ
) -> CheckedConfig:
    """The schema, then (unless schema_only) the files it names and the state directory, as this user."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        return CheckedConfig(path, None, exc.problems)
    return CheckedConfig(path, config, [] if schema_only else deployment_problems(config, environ))
