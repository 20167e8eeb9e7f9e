"""Cart operations: immutable, idempotent, commutative.

Identity is ``(device, epoch, seq)`` written ``"{device}:{epoch}:{seq}"`` plus a UUID for systems that want one.
An op says what the issuing replica *observed*, never what it believes the total is, so replicas that see
ops in any order, any number of times, agree (the add-wins rule, sync note §3.2).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge_agent.domain.const import MAX_LINE_QTY, MAX_OBSERVED_IDS

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Device ids appear in topics and op ids: lowercase, no ':' '/' '+' '#', at most 64 characters."""

EPOCH_PATTERN = r"^[0-9a-f]{16}$"
CART_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
GTIN14_PATTERN = r"^[0-9]{14}$"
OP_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}:[0-9a-f]{16}:[1-9][0-9]{0,18}$"
ATTR_KEY_PATTERN = r"^[a-z][a-z0-9_.]{0,63}$"

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
Epoch = Annotated[str, StringConstraints(pattern=EPOCH_PATTERN)]
CartId = Annotated[str, StringConstraints(pattern=CART_ID_PATTERN)]
Gtin14 = Annotated[str, StringConstraints(pattern=GTIN14_PATTERN)]
OpIdStr = Annotated[str, StringConstraints(pattern=OP_ID_PATTERN)]
Serial = Annotated[str, StringConstraints(min_length=1, max_length=20)]
"""GS1 AI 21 is X..20."""
AttrKey = Annotated[str, StringConstraints(pattern=ATTR_KEY_PATTERN)]

_OP_ID_RE = re.compile(OP_ID_PATTERN)


def make_op_id(device: str, epoch: str, seq: int) -> str:
    return f"{device}:{epoch}:{seq}"


def split_op_id(op_id: str) -> tuple[str, str, int]:
    if not _OP_ID_RE.match(op_id):
        raise ValueError(f"not an op id: {op_id!r}")
    device, epoch, seq = op_id.split(":")
    return device, epoch, int(seq)


class OpKind(StrEnum):
    ADD = "entry.add"
    REMOVE = "entry.remove"
    SET_QTY = "entry.set_qty"
    CLEAR = "cart.clear"
    ATTR_SET = "attr.set"
    CHECKOUT = "checkout.request"


_NEEDS_SKU = {OpKind.ADD, OpKind.REMOVE, OpKind.SET_QTY}
_NEEDS_QTY = {OpKind.ADD, OpKind.SET_QTY}


class CartOp(BaseModel):
    """One user action on one cart, as stored in the outbox and sent on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op_id: OpIdStr
    uuid: UUID
    device: DeviceId
    epoch: Epoch
    seq: int = Field(ge=1, lt=2**63)
    cart_id: CartId
    kind: OpKind
    hlc: int = Field(ge=0, lt=2**63)
    sku: Gtin14 | None = None
    qty: int | None = Field(default=None, ge=1, le=MAX_LINE_QTY)
    observed: tuple[OpIdStr, ...] = Field(default=(), max_length=MAX_OBSERVED_IDS)
    key: AttrKey | None = None
    value: Annotated[str, StringConstraints(max_length=256)] | None = None
    actor: Annotated[str, StringConstraints(max_length=64)] | None = None
    serial: Serial | None = Field(default=None, description="GS1 AI 21: a serialised item counts once per serial")

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        if self.op_id != make_op_id(self.device, self.epoch, self.seq):
            raise ValueError("op_id must equal '{device}:{epoch}:{seq}'")
        if (self.sku is not None) != (self.kind in _NEEDS_SKU):
            raise ValueError(f"{self.kind.value} {'needs' if self.kind in _NEEDS_SKU else 'takes no'} sku")
        if (self.qty is not None) != (self.kind in _NEEDS_QTY):
            raise ValueError(f"{self.kind.value} {'needs' if self.kind in _NEEDS_QTY else 'takes no'} qty")
        if self.observed and self.kind not in (OpKind.REMOVE, OpKind.SET_QTY, OpKind.CLEAR, OpKind.CHECKOUT):
            raise ValueError(f"{self.kind.value} takes no observed ids")
        if self.serial is not None and (self.kind is not OpKind.ADD or self.qty != 1):
            raise ValueError("only entry.add of quantity 1 takes a serial")
        if (self.key is not None) != (self.kind is OpKind.ATTR_SET):
            raise ValueError("attr.set needs key (and only attr.set takes one)")
        return self
