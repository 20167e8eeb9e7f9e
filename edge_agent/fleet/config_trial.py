"""``config/set`` on the running agent: a pushed config is checked with the same models as `config check`, kept
as the candidate beside the last good one, booted (the agent stops cleanly and starts again in the same process,
so no op is lost or sent twice: every op is in the database before it is sent), and committed only when it is
healthy within its window: connected, the platform's acks flowing, every configured reader ok. Otherwise it is
reverted and the good config's run answers ``reverted`` with what was wrong. (Slots and boot: remote_config.py.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field, StringConstraints

from edge_agent import const
from edge_agent.config import AgentConfig, ConfigError
from edge_agent.contract.base import Strict
from edge_agent.contract.requests import DeviceRequest
from edge_agent.fleet.remote_config import ConfigSlots, Outcome, Trial, parse_document
from edge_agent.fleet.requests import RequestDesk, RequestFailed, params_of

log = logging.getLogger(__name__)

NAME = "config/set"


class ConfigSetParams(Strict):
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:+-]{1,64}$")]
    document: str = Field(max_length=const.CONFIG_DOCUMENT_MAX_BYTES, description="the whole config, as TOML")


Health = Callable[[], str | None]
"""None when the running agent is healthy; otherwise what is not (said in the revert's answer)."""


@dataclass
class RemoteConfig:
    config: AgentConfig
    slots: ConfigSlots
    desk: RequestDesk
    healthy: Health
    reconfigure: Callable[[], None]
    """Stop the agent cleanly so that it boots again with whatever the slots now say."""
    trial: Trial | None = None
    monotonic: Callable[[], float] = time.monotonic
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def register(self) -> None:
        self.desk.register_deferred(NAME, self.set)

    def set(self, request: DeviceRequest, correlation: bytes | None) -> None:
        """Refuses at once (invalid_params, invalid_config naming each key, trial_running) or starts the trial;
        the answer comes when it ends."""
        if self.trial is not None:
            raise RequestFailed("trial_running", f"config {self.trial.version} is on trial; ask again once answered")
        params = params_of(request, ConfigSetParams)
        try:
            document, candidate = parse_document(params.document, params.version, self.config)
        except ConfigError as exc:
            raise RequestFailed("invalid_config", "; ".join(exc.problems)) from None
        trial = Trial(
            version=params.version,
            request_id=request.id,
            correlation_hex=None if correlation is None else correlation.hex(),
            window_s=candidate.remote_config.trial_window_s,
        )
        self.slots.start_trial(document, trial)
        log.warning("remote config %s received: restarting to try it", params.version)
        self.reconfigure()

    def link_up(self) -> None:
        """After each connect: an answer owed from an earlier run (a revert, a commit the link dropped) goes out."""
        owed = self.slots.owed()
        if owed is None:
            return
        error = None if owed.status == "ok" else (owed.reason or "reverted", owed.detail or "")
        if self.desk.answer(NAME, owed.request_id, owed.correlation, result=owed.result, error=error) is not None:
            self.slots.paid()

    async def run(self) -> None:
        """On trial: judge the agent every CONFIG_TRIAL_POLL_S until it is healthy (commit) or the window is over
        (revert and boot the good config). Then idle: a service that returns would stop the agent."""
        trial = self.trial
        if trial is not None:
            deadline = self.monotonic() + trial.window_s
            why = self.healthy()
            while why is not None and self.monotonic() < deadline:
                await asyncio.sleep(const.CONFIG_TRIAL_POLL_S)
                why = self.healthy()
            if why is None:
                self._commit(trial)
            else:
                self.slots.revert(trial, why)
                self.reconfigure()
        await self._done.wait()

    def _commit(self, trial: Trial) -> None:
        self.slots.commit()
        self.trial = None
        log.warning("remote config %s committed", trial.version)
        self.slots.owe(
            Outcome(
                request_id=trial.request_id,
                correlation_hex=trial.correlation_hex,
                status="ok",
                result={"state": "committed", "version": trial.version},
            )
        )
        self.link_up()


def trial_health(
    connected: Callable[[], bool],
    last_link_error: Callable[[], str],
    acks_seen: Callable[[], int],
    readers: list[str],
    reader_health: dict[str, str],
    reader_details: dict[str, str],
) -> Health:
    """What "healthy" means for a config on trial, in the words the revert's answer uses."""

    def judge() -> str | None:
        if not connected():
            return f"not connected to the broker ({last_link_error() or 'no connection yet'})"
        if acks_seen() == 0:
            return "connected, but no acknowledgement from the platform yet"
        for reader in readers:
            state = reader_health.get(reader)
            if state != "ok":
                detail = reader_details.get(reader, "")
                return f"reader {reader} is {state or 'silent'}{': ' + detail if detail else ''}"
        return None

    return judge
