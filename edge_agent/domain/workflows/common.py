"""What every store-workflow machine shares: a refusal value, the event it emits and the outcome of a command.

The machines are pure: a command is a method on a frozen value that returns an :class:`Outcome` holding the
next value, the events to publish and, when the command is refused, why. A refused command changes nothing
and emits nothing: its outcome holds the very value it was called on. No clock is read here; ``now`` is
always an argument, and so is every id (the agent makes them), which keeps replays and tests deterministic.

:class:`Refused` here is a value, not :class:`edge_agent.domain.basket.Refused` (an exception that carries
only a reason and a message): machines return refusals, and :meth:`Refused.error` turns one into the basket
exception for a caller that wants to raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Generic, TypeVar

from edge_agent.domain import basket
from edge_agent.identifiers.gtin import GTIN14_LENGTH, gtin_check_digit

SHOPPER = "shopper"
"""The actor of an event a shopper caused (the pseudonym, when consented, travels in the data, not here)."""
SYSTEM = "system"
"""The actor of an event a timer or the device caused."""
PLATFORM = "platform"
"""The actor of an event the platform (OMS, payment, notifications) reported: the authority, not the device."""


class Source(StrEnum):
    """Who sent a command; facts only the platform may state (paid, ready for pickup, decisions) check it."""

    ASSOCIATE = "associate"
    SHOPPER = "shopper"
    PLATFORM = "platform"
    SYSTEM = "system"


PROFILE_SCOPE: Final = "profile"
"""The consent scope without which a shopper's pseudonym never reaches the platform from a workflow."""

WRONG_STATE = "wrong_state"
"""The generic refusal: the command does not apply in the machine's current state (the detail says which)."""
NOT_PLATFORM = "not_platform"
"""A fact only the platform may report came from somewhere else."""


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a command was not carried out: ``reason`` is a stable code for metrics and UIs, ``detail`` is for people."""

    reason: str
    detail: str

    def __post_init__(self) -> None:
        if not self.reason or not self.detail:
            raise ValueError("a refusal needs a reason and a detail")

    def error(self) -> basket.Refused:
        return basket.Refused(self.reason, self.detail)


@dataclass(frozen=True, slots=True)
class WorkflowEvent:
    """One fact a machine emits; the agent wraps it in the CloudEvents envelope (store, device, session, consent).

    ``name`` is the retail note's ``domain.verb`` name; ``subject`` the tote, order, room session or request id;
    ``actor`` an associate id, ``shopper``, ``system`` or ``platform``; ``at`` the ``now`` of the command (or the
    moment a timer fell due).
    """

    name: str
    subject: str
    actor: str
    at: float
    data: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))


S = TypeVar("S")


@dataclass(frozen=True)  # no slots: a slotted frozen Generic dataclass breaks Outcome[T](...) on 3.11
class Outcome(Generic[S]):
    """The result of a command: the machine's value afterwards, the events to publish, and the refusal if any."""

    state: S
    events: tuple[WorkflowEvent, ...] = ()
    refused: Refused | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None


def applied(state: S, *events: WorkflowEvent) -> Outcome[S]:
    return Outcome(state, events)


def refuse(state: S, reason: str, detail: str) -> Outcome[S]:
    """The unchanged ``state`` with the refusal; no events."""
    return Outcome(state, (), Refused(reason, detail))


def is_gtin14(code: str) -> bool:
    """A canonical GTIN-14: fourteen ASCII digits with a valid check digit (readers normalise before this)."""
    if len(code) != GTIN14_LENGTH or not (code.isascii() and code.isdigit()):
        return False
    return gtin_check_digit(code[:-1]) == int(code[-1])
