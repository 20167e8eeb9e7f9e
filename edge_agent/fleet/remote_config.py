"""Remote configuration that proves itself or reverts: the config slots beside the database and the choice of
the config to boot. (The trial itself, on the running agent, is fleet/config_trial.py.)

``<state dir>/config/``, each file written to a temporary name, fsynced and renamed (a power cut leaves the old
file or the new one, never half of one):

- ``good.toml``: the last pushed config that proved itself; absent, the ``--config`` file is the good one.
- ``candidate.toml`` and ``trial.json``: a pushed config on trial, and how many boots it has had (0 or 1).
- ``outcome.json``: the answer to ``config/set`` still owed to the platform (a revert is answered by the good
  config's run, after the restart).
- ``rejected.toml``: the last candidate that was reverted, for store IT to read.

A candidate boots once. Booting it marks its trial started (boots = 1) before anything opens, so if the agent
dies during the trial (kill -9, a crash, the power) the next boot finds boots = 1 and boots the good config.
The ``--config`` file decides whether any of this is honoured (``[remote_config] enabled``): store IT can always
take a device back to its file by turning it off there.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from edge_agent import const
from edge_agent.config import AgentConfig, ConfigError, describe_validation_error, load_config
from edge_agent.config_files import deployment_problems

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

STOPPED_DURING_TRIAL = (
    "the agent stopped during the trial (killed, crashed or powered off) before the config proved itself"
)


class Trial(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    request_id: str
    correlation_hex: str | None = None
    boots: int = 0
    window_s: float


class Outcome(BaseModel):
    """The ``config/set`` answer owed to the platform (kept across the restart a revert needs)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    correlation_hex: str | None = None
    status: Literal["ok", "error"]
    reason: str | None = None
    detail: str | None = None
    result: dict[str, Any] | None = None

    @property
    def correlation(self) -> bytes | None:
        return None if self.correlation_hex is None else bytes.fromhex(self.correlation_hex)


@dataclass(frozen=True)
class ConfigSlots:
    dir: Path

    @classmethod
    def beside(cls, config: AgentConfig) -> ConfigSlots:
        return cls(config.database_path().parent / "config")

    @property
    def good(self) -> Path:
        return self.dir / "good.toml"

    @property
    def candidate(self) -> Path:
        return self.dir / "candidate.toml"

    @property
    def rejected(self) -> Path:
        return self.dir / "rejected.toml"

    @property
    def trial_file(self) -> Path:
        return self.dir / "trial.json"

    @property
    def outcome_file(self) -> Path:
        return self.dir / "outcome.json"

    def write(self, path: Path, data: bytes) -> None:
        """Temporary file, fsync, rename, fsync of the directory: durable and all-or-nothing."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        self._sync_dir()

    def move(self, source: Path, target: Path) -> None:
        source.replace(target)
        self._sync_dir()

    def remove(self, *paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
        self._sync_dir()

    def _sync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def trial(self) -> Trial | None:
        return _read_model(self.trial_file, Trial)

    def owed(self) -> Outcome | None:
        return _read_model(self.outcome_file, Outcome)

    def owe(self, outcome: Outcome) -> None:
        self.write(self.outcome_file, outcome.model_dump_json().encode())

    def paid(self) -> None:
        self.remove(self.outcome_file)

    def start_trial(self, document: bytes, trial: Trial) -> None:
        """The candidate first, then the trial that names it: a power cut between leaves no trial to run."""
        self.write(self.candidate, document)
        self.write(self.trial_file, trial.model_dump_json().encode())

    def commit(self) -> None:
        """The candidate proved itself: it is the good config now."""
        self.move(self.candidate, self.good)
        self.remove(self.trial_file)

    def revert(self, trial: Trial, reason: str) -> None:
        """The candidate goes aside (rejected.toml), and the answer is owed for the good config's run to send."""
        self.owe(
            Outcome(
                request_id=trial.request_id,
                correlation_hex=trial.correlation_hex,
                status="error",
                reason="reverted",
                detail=f"config {trial.version} reverted: {reason}"[:500],
            )
        )
        if self.candidate.exists():
            self.move(self.candidate, self.rejected)
        self.remove(self.trial_file)
        log.warning("remote config %s reverted: %s", trial.version, reason)


@dataclass(frozen=True)
class BootChoice:
    config: AgentConfig
    source: Path
    trial: Trial | None = None
    """Set when this boot is a candidate's trial."""


def choose_boot_config(bootstrap: AgentConfig, bootstrap_path: Path) -> BootChoice:
    """The config this boot runs: a candidate's first boot, else the last good pushed config, else the file."""
    if not bootstrap.remote_config.enabled:
        return BootChoice(bootstrap, bootstrap_path)
    slots = ConfigSlots.beside(bootstrap)
    trial = slots.trial()
    if trial is not None:
        if trial.boots > 0 or not slots.candidate.exists():
            slots.revert(trial, STOPPED_DURING_TRIAL)
        else:
            slots.write(slots.trial_file, trial.model_copy(update={"boots": 1}).model_dump_json().encode())
            try:
                candidate = load_config(slots.candidate)
                problems = deployment_problems(candidate)
                if problems:
                    raise ConfigError(slots.candidate, problems)
            except ConfigError as exc:
                slots.revert(trial, f"it does not load on this device: {'; '.join(exc.problems)}")
            else:
                log.warning("remote config %s on trial for %.0fs", trial.version, trial.window_s)
                return BootChoice(candidate, slots.candidate, trial)
    if slots.good.exists():
        try:
            return BootChoice(load_config(slots.good), slots.good)
        except ConfigError as exc:  # cannot happen unless the card corrupted it: the file still runs the device
            log.error("the last good pushed config does not load; running %s: %s", bootstrap_path, exc)
    return BootChoice(bootstrap, bootstrap_path)


def parse_document(document: str, version: str, running: AgentConfig) -> tuple[bytes, AgentConfig]:
    """A pushed document checked as `config check` checks a file (every problem names its key), stamped with its
    version, and refused when it would change who the device is or lock the platform out. Raises ConfigError."""
    where = Path(f"config/set {version}")
    data = document.encode("utf-8")
    if len(data) > const.CONFIG_DOCUMENT_MAX_BYTES:
        raise ConfigError(where, [f"(document): {len(data)} bytes; allowed: at most {const.CONFIG_DOCUMENT_MAX_BYTES}"])
    try:
        raw = tomllib.loads(document)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, [f"(document): not valid TOML: {exc}"]) from None
    stated = raw.get("config_version")
    if stated is not None and stated != version:
        raise ConfigError(where, [f"config_version: {stated!r} but the request's version is {version!r}"])
    if stated is None:  # top-level keys come before any table, so a first line is a top-level key
        data = f"config_version = {_toml_string(version)}\n".encode() + data
        raw["config_version"] = version
    try:
        candidate = AgentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(where, describe_validation_error(exc)) from None
    problems = [*_identity_changes(running, candidate), *deployment_problems(candidate)]
    if problems:
        raise ConfigError(where, problems)
    return data, candidate


def _identity_changes(running: AgentConfig, candidate: AgentConfig) -> list[str]:
    """What a pushed config may not change: who the device is, where its data lives, that it can be reached."""
    problems = [
        f"{key}: {now!r} on this device; a pushed config cannot change it (re-provision the device instead)"
        for key, now, new in (
            ("device.id", running.device.id, candidate.device.id),
            ("device.tenant", running.device.tenant, candidate.device.tenant),
            ("device.store", running.device.store, candidate.device.store),
            ("storage.path", str(running.database_path()), str(candidate.database_path())),
        )
        if now != new
    ]
    if not candidate.remote_config.enabled:
        problems.append("remote_config.enabled: false would lock the platform out; turn it off in the device's file")
    return problems


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read_model(path: Path, model: type[M]) -> M | None:
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:  # unreadable: treated as absent, and said
        log.error("%s unreadable, ignored: %s", path, exc)
        return None
