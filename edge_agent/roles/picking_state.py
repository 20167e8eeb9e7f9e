"""How a handheld keeps its pick orders in the device's meta table: the pure machine as JSON, with the platform's
version, deadline and claim (restored after a restart exactly as the last durable transaction left them)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from edge_agent.domain.workflows.picking import PickLine, PickOrder, PickState, PickTimers, Substitution


def pick_to_dict(order: PickOrder) -> dict[str, Any]:
    raw = asdict(order)
    raw["serials"] = sorted([g, s] for g, s in order.serials)
    return raw


def pick_from_dict(raw: dict[str, Any]) -> PickOrder:
    raw = dict(raw)
    lines = tuple(
        PickLine(**{**x, "substitution": None if x["substitution"] is None else Substitution(x["substitution"])})
        for x in raw.pop("lines")
    )
    return PickOrder(
        **{
            **raw,
            "state": PickState(raw["state"]),
            "timers": PickTimers(**raw["timers"]),
            "short_reasons": tuple(raw["short_reasons"]),
            "serials": frozenset((g, s) for g, s in raw["serials"]),
            "tote_ids": tuple(raw["tote_ids"]),
        },
        lines=lines,
    )


def pick_to_json(order: PickOrder) -> str:
    return json.dumps(pick_to_dict(order), separators=(",", ":"))


def pick_from_json(text: str) -> PickOrder:
    return pick_from_dict(json.loads(text))


@dataclass
class HeldOrder:
    """What this handheld knows of one order: the machine (None until the order message came), the platform's
    message version and deadline, the claim decision ("{device}:{associate}") once published, and the hash of the
    customer's pickup code when the platform gave one (the code itself is never here)."""

    order: PickOrder | None = None
    version: int = 0
    deadline: float | None = None
    claim: str | None = None
    code_hash: str | None = None
    verified_by: Literal["order_code", "id_document"] | None = None
    """Customer pickup: how the associate verified the customer, once they did (never the code itself)."""

    def to_json(self) -> str:
        order = None if self.order is None else pick_to_dict(self.order)
        held = {
            "order": order,
            "version": self.version,
            "deadline": self.deadline,
            "claim": self.claim,
            "code_hash": self.code_hash,
            "verified_by": self.verified_by,
        }
        return json.dumps(held, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> HeldOrder:
        raw = json.loads(text)
        order = None if raw["order"] is None else pick_from_dict(raw["order"])
        return cls(order, raw["version"], raw["deadline"], raw["claim"], raw.get("code_hash"), raw.get("verified_by"))
