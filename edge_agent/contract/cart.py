"""Cart sync: op batches up, applied watermarks and cart snapshots down, and the sync request after each connect.

Every field a consumer needs is in the payload; MQTT 5 user properties only mirror ``type`` and ``id``, so a
3.1.1 broker carries the same contract. docs/asyncapi.yaml is generated from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from edge_agent.contract.base import CloudEvent, Strict, utcnow
from edge_agent.contract.const import MAX_WIRE_TEXT
from edge_agent.domain.const import MAX_LINE_QTY, MAX_WIRE_INT
from edge_agent.domain.ops import CartId, CartOp, DeviceId, Epoch, Gtin14, OpIdStr, Serial

T_OPS: Final = "com.edgeagent.cart.ops.v1"
T_APPLIED: Final = "com.edgeagent.cart.applied.v1"
T_SNAPSHOT: Final = "com.edgeagent.cart.snapshot.v1"
T_SYNC_REQUEST: Final = "com.edgeagent.cart.sync_request.v1"
MAX_OPS_PER_BATCH = 1000
MAX_WATERMARK_GAPS = 1000


class OpsBatch(Strict):
    """Up: a batch of ops from one device epoch. A resend may cut batches differently: dedupe per op."""

    device: DeviceId
    epoch: Epoch
    ops: list[CartOp] = Field(min_length=1, max_length=MAX_OPS_PER_BATCH)
    hlc_max: int = Field(ge=0, le=MAX_WIRE_INT)


class EpochWatermark(Strict):
    epoch: Epoch
    applied_upto: int = Field(ge=0, le=MAX_WIRE_INT, description="every seq <= this is applied")
    applied_above: list[Annotated[int, Field(ge=1, le=MAX_WIRE_INT)]] = Field(
        default=[], max_length=MAX_WATERMARK_GAPS, description="seqs > applied_upto also applied"
    )


class RejectedOp(Strict):
    op_id: OpIdStr
    reason: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)]


class AppliedWatermark(Strict):
    """Down, retained: what the platform has applied, durably. Only this frees the device's outbox."""

    device: DeviceId
    watermarks: list[EpochWatermark] = Field(max_length=64)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)
    answers: str | None = Field(
        default=None,
        max_length=256,
        description="the CloudEvent id of the sync request this watermark answers; the device then sends again "
        "at once whatever it sent before that request and the watermark does not cover",
    )


class SnapshotEntryModel(Strict):
    entry_id: OpIdStr
    sku: Gtin14
    qty: int = Field(ge=1, le=MAX_LINE_QTY)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)
    origin_device: DeviceId
    serial: Serial | None = None


class SnapshotAttr(Strict):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    value: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)
    device: DeviceId
    op_id: OpIdStr


class SealModel(Strict):
    """Written by the platform only: the cart became this order, with exactly these entries."""

    order_id: OpIdStr = Field(description="the op id of the checkout request that won")
    entry_ids: list[OpIdStr] = Field(max_length=10_000)
    hlc: int = Field(ge=0, le=MAX_WIRE_INT)


class CartSnapshot(Strict):
    """Down, retained: the platform's state of one cart; merging it is a union, so order never matters."""

    cart_id: CartId
    version: int = Field(ge=1, le=MAX_WIRE_INT, description="monotonic per cart at the platform")
    entries: list[SnapshotEntryModel] = Field(max_length=10_000)
    tombstones: list[OpIdStr] = Field(max_length=100_000)
    attrs: list[SnapshotAttr] = Field(default=[], max_length=256)
    sealed: SealModel | None = None
    added_after_checkout: list[OpIdStr] = Field(
        default=[], max_length=10_000, description="live entries not in the seal: kept for a successor, flagged"
    )
    hlc_max: int = Field(ge=0, le=MAX_WIRE_INT)


class SyncRequest(Strict):
    """Up: after each connect the device asks for snapshots and watermarks instead of trusting retained delivery."""

    device: DeviceId
    cart_ids: list[CartId] = Field(max_length=1000)
    catalog_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_WIRE_INT,
        description="the newest catalog version this device holds; send what changed since",
    )


class OpsBatchEvent(CloudEvent[OpsBatch]):
    type: Literal["com.edgeagent.cart.ops.v1"] = T_OPS


class AppliedEvent(CloudEvent[AppliedWatermark]):
    type: Literal["com.edgeagent.cart.applied.v1"] = T_APPLIED


class SnapshotEvent(CloudEvent[CartSnapshot]):
    type: Literal["com.edgeagent.cart.snapshot.v1"] = T_SNAPSHOT


class SyncRequestEvent(CloudEvent[SyncRequest]):
    type: Literal["com.edgeagent.cart.sync_request.v1"] = T_SYNC_REQUEST


def encode_ops_batch(
    source: str,
    device: str,
    epoch: str,
    seqs: list[int],
    bodies: list[str],
    hlc_max: int,
    now: datetime | None = None,
) -> bytes:
    """The hot path: the ops are already JSON in the outbox, so splice them instead of re-validating.

    tests/unit/test_messages.py checks the result against OpsBatchEvent.
    """
    when = (now or utcnow()).isoformat()
    head = (
        f'{{"specversion":"1.0","type":"{T_OPS}","source":"{source}","id":"{device}:{epoch}:{seqs[0]}-{seqs[-1]}",'
        f'"time":"{when}","datacontenttype":"application/json","sequence":"{seqs[-1]:020d}","partitionkey":"{device}",'
        f'"data":{{"device":"{device}","epoch":"{epoch}","hlc_max":{hlc_max},"ops":['
    )
    return (head + ",".join(bodies) + "]}}").encode()
