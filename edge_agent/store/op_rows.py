"""New ops as outbox rows, built without re-validating what the domain and the store already guarantee.

Validating a CartOp and dumping it with pydantic is most of the CPU of recording a scan (issue 14). The store
gives each op its device, epoch (both checked once, at open), seq and HLC (both in range by construction), and
the planners give the kind the fields it needs; what still comes from outside is the strings of a command (cart
id, sku, key, value, actor, serial) and the observed ids. Those are checked here with the contract's own
patterns; an intent that fails any check takes the validated path, so it is refused exactly as before.

The body is the JSON ``CartOp.model_dump_json(exclude_none=True)`` gives, byte for byte (the wire contract):
tests/unit/test_op_rows.py checks it for random ops.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID, SafeUUID

from edge_agent.domain.basket import AddItem, OpIntent
from edge_agent.domain.cart import Effects, Entry, effects_of
from edge_agent.domain.const import MAX_LINE_QTY, MAX_OBSERVED_IDS
from edge_agent.domain.ops import (
    ATTR_KEY_PATTERN,
    CART_ID_PATTERN,
    DEVICE_ID_PATTERN,
    EPOCH_PATTERN,
    GTIN14_PATTERN,
    OP_ID_PATTERN,
    CartOp,
    OpKind,
    make_op_id,
)
from edge_agent.store import carts

__all__ = ["OpBatch", "OpRow", "build_row", "identity_fits", "random_uuids", "scan_row"]

_ATTR_KEY = re.compile(ATTR_KEY_PATTERN)
_CART_ID = re.compile(CART_ID_PATTERN)
_GTIN14 = re.compile(GTIN14_PATTERN)
_OP_ID = re.compile(OP_ID_PATTERN)
_DEVICE = re.compile(DEVICE_ID_PATTERN)
_EPOCH = re.compile(EPOCH_PATTERN)

VALUE_MAX_CHARS = 256
ACTOR_MAX_CHARS = 64
SERIAL_MAX_CHARS = 20
"""The contract's bounds on CartOp.value, .actor and .serial (GS1 AI 21 is X..20), in characters as pydantic counts."""

_FIELDS_OF_KIND: dict[OpKind, tuple[bool, bool, bool, bool]] = {
    # kind: (has sku, has qty, may observe, has key), as CartOp._fields_match_kind requires
    OpKind.ADD: (True, True, False, False),
    OpKind.REMOVE: (True, False, True, False),
    OpKind.SET_QTY: (True, True, True, False),
    OpKind.CLEAR: (False, False, True, False),
    OpKind.ATTR_SET: (False, False, False, True),
    OpKind.CHECKOUT: (False, False, True, False),
}


_KIND_TEXT = {kind: kind.value for kind in OpKind}
"""An enum's ``.value`` goes through a descriptor; this is a dict lookup (twice per op recorded)."""
_ADD_TEXT = OpKind.ADD.value


@dataclass(frozen=True, slots=True)
class OpRow:
    """An op ready for the outbox: the CartOp callers get back and its wire body."""

    op: CartOp
    body: str


def identity_fits(device: str, epoch: str) -> bool:
    """Checked once per store: the device id and epoch every op of this database carries."""
    return bool(_DEVICE.fullmatch(device) and _EPOCH.fullmatch(epoch))


_UUID_BYTES = 16
_UUID4_KEEP = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
"""RFC 4122 version 4: the variant bits (10) and the version nibble (4), as uuid.UUID(version=4) sets them."""


def random_uuids(n: int) -> Iterator[UUID]:
    """What ``uuid.uuid4()`` gives, ``n`` times, from one urandom call for a whole group commit instead of one
    syscall and one validating constructor per op (1.3 -> 0.8 us per op)."""
    raw = os.urandom(_UUID_BYTES * n)
    for i in range(0, _UUID_BYTES * n, _UUID_BYTES):
        u = object.__new__(UUID)
        object.__setattr__(u, "int", int.from_bytes(raw[i : i + _UUID_BYTES], "big") & _UUID4_KEEP | _UUID4_SET)
        object.__setattr__(u, "is_safe", SafeUUID.unknown)
        yield u


def _is_str(value: object) -> bool:
    return type(value) is str


MATCHED_KEPT = 4096
"""Cart ids and SKUs that matched their pattern, remembered (a basket's ops repeat them): a set lookup instead of a
regex per op. Cleared when full, so a long run of distinct ones only costs the regex again."""
_CART_IDS_MATCHED: set[str] = set()
_GTINS_MATCHED: set[str] = set()


def _matches(pattern: re.Pattern[str], matched: set[str], text: object) -> bool:
    """``pattern.fullmatch(text)`` for an exact str, remembered in ``matched``."""
    if type(text) is not str:
        return False
    if text in matched:
        return True
    if not pattern.fullmatch(text):
        return False
    if len(matched) >= MATCHED_KEPT:
        matched.clear()
    matched.add(text)
    return True


def _fits(intent: OpIntent) -> bool:
    """True when the validated path would accept this intent unchanged (exact types, contract patterns)."""
    shape = _FIELDS_OF_KIND.get(intent.kind)
    if shape is None or not _matches(_CART_ID, _CART_IDS_MATCHED, intent.cart_id):
        return False
    has_sku, has_qty, may_observe, has_key = shape
    sku, qty, observed = intent.sku, intent.qty, intent.observed
    if has_sku != (sku is not None) or (sku is not None and not _matches(_GTIN14, _GTINS_MATCHED, sku)):
        return False
    if has_qty != (qty is not None) or (qty is not None and not (type(qty) is int and 1 <= qty <= MAX_LINE_QTY)):
        return False
    if type(observed) is not tuple or (observed and not may_observe) or len(observed) > MAX_OBSERVED_IDS:
        return False
    if observed and not all(_is_str(o) and _OP_ID.fullmatch(o) for o in observed):
        return False
    key = intent.key
    if has_key != (key is not None) or (key is not None and not (_is_str(key) and _ATTR_KEY.fullmatch(key))):
        return False
    for text, limit in ((intent.value, VALUE_MAX_CHARS), (intent.actor, ACTOR_MAX_CHARS)):
        if text is not None and not (_is_str(text) and len(text) <= limit):
            return False
    serial = intent.serial
    if serial is not None:
        ok = _is_str(serial) and 1 <= len(serial) <= SERIAL_MAX_CHARS
        if not ok or intent.kind is not OpKind.ADD or qty != 1:
            return False
    return True


def _text(value: str) -> str:
    """A JSON string as pydantic writes it: non-ASCII kept, quotes, backslashes and controls escaped."""
    return json.dumps(value, ensure_ascii=False)


def build_row(
    intent: OpIntent, *, device: str, epoch: str, seq: int, uuid: UUID, hlc: int, identity_fits: bool
) -> OpRow:
    """The op and its body. ``identity_fits``: what the function of that name said of ``device`` and ``epoch``.

    An intent the fast checks do not vouch for is materialised through pydantic, raising what it raises.
    """
    if not (identity_fits and _fits(intent)):
        op = intent.materialise(device=device, epoch=epoch, seq=seq, uuid=uuid, hlc=hlc)
        return OpRow(op, op.model_dump_json(exclude_none=True))
    return fast_row(make_op_id(device, epoch, seq), uuid, device, epoch, seq, hlc, *intent)


def fast_row(
    op_id: str,
    uuid: UUID,
    device: str,
    epoch: str,
    seq: int,
    hlc: int,
    cart_id: str,
    kind: OpKind,
    sku: str | None,
    qty: int | None,
    observed: tuple[str, ...],
    key: str | None,
    value: str | None,
    actor: str | None,
    serial: str | None,
) -> OpRow:
    """The op and its body from fields the fast checks vouched for (an intent's fields, in OpIntent's order, after
    the identity): the body is ``CartOp.model_dump_json(exclude_none=True)``, byte for byte."""
    fields = {
        "op_id": op_id,
        "uuid": uuid,
        "device": device,
        "epoch": epoch,
        "seq": seq,
        "cart_id": cart_id,
        "kind": kind,
        "hlc": hlc,
        "sku": sku,
        "qty": qty,
        "observed": observed,
        "key": key,
        "value": value,
        "actor": actor,
        "serial": serial,
    }
    body = (
        f'{{"op_id":"{op_id}","uuid":"{uuid}","device":"{device}","epoch":"{epoch}","seq":{seq},'
        f'"cart_id":"{cart_id}","kind":"{_KIND_TEXT[kind]}","hlc":{hlc}'
        + ("" if sku is None else f',"sku":"{sku}"')
        + ("" if qty is None else f',"qty":{qty}')
        + (',"observed":[' + ",".join(f'"{o}"' for o in observed) + "]" if observed else ',"observed":[]')
        + ("" if key is None else f',"key":"{key}"')
        + ("" if value is None else ',"value":' + _text(value))
        + ("" if actor is None else ',"actor":' + _text(actor))
        + ("" if serial is None else ',"serial":' + _text(serial))
        + "}"
    )
    return OpRow(_trusted_op(fields), body)


def scan_row(
    command: AddItem, *, device: str, epoch: str, seq: int, uuid: UUID, hlc: int, identity_fits: bool
) -> tuple[OpRow, Entry] | None:
    """A plain scan (an AddItem without a serial) as its row and its cart entry, without planning it: ``plan_add``
    of such a command is its own fields, once its quantity is in range. None when the fast checks do not vouch for
    it; the caller then plans it as any command (refused or materialised through pydantic, as before)."""
    cart_id, sku, qty, actor = command.cart_id, command.sku, command.qty, command.actor
    if not (
        identity_fits
        and _matches(_CART_ID, _CART_IDS_MATCHED, cart_id)
        and _matches(_GTIN14, _GTINS_MATCHED, sku)
        and type(qty) is int
        and 1 <= qty <= MAX_LINE_QTY
        and (actor is None or (type(actor) is str and len(actor) <= ACTOR_MAX_CHARS))
    ):
        return None
    op_id = make_op_id(device, epoch, seq)
    row = fast_row(op_id, uuid, device, epoch, seq, hlc, cart_id, OpKind.ADD, sku, qty, (), None, None, actor, None)
    return row, Entry(op_id, cart_id, sku, qty, hlc, device)


_FIELD_NAMES = frozenset(CartOp.model_fields)
_PLAIN_MODEL = (
    not CartOp.__pydantic_post_init__
    and not CartOp.__private_attributes__
    and CartOp.model_config.get("extra") != "allow"
    and all(f.alias is None and f.validation_alias is None for f in CartOp.model_fields.values())
)
"""No aliases, extras, private attributes or post-init: all model_construct would do is set four attributes."""


def _trusted_op(fields: dict[str, object]) -> CartOp:
    """``CartOp.model_construct(**fields)`` for every field given, without its per-field loop (a third of the
    CPU of recording a scan); tests/unit/test_op_rows.py checks the result equals the validated op."""
    if not _PLAIN_MODEL:
        return CartOp.model_construct(None, **fields)
    op = CartOp.__new__(CartOp)
    object.__setattr__(op, "__dict__", fields)
    object.__setattr__(op, "__pydantic_fields_set__", set(_FIELD_NAMES))
    object.__setattr__(op, "__pydantic_extra__", None)
    object.__setattr__(op, "__pydantic_private__", None)
    return op


@dataclass(slots=True)
class OpBatch:
    """The rows of one group commit, written with one executemany per table when the group ends or before a
    command reads its cart (so it observes every op planned before it in the same group)."""

    carts: dict[str, float] = field(default_factory=dict)
    effects: list[Effects] = field(default_factory=list)
    outbox: list[tuple[int, str, str, str, int, float]] = field(default_factory=list)
    hold: bool = False
    """A group of plain scans: each entry is held (store/held.py), not written to cart_entries."""
    held: list[tuple[int, Entry]] = field(default_factory=list)
    """(seq, entry) of the held entries, for the store to hold once the group committed (flushes keep them)."""
    adds: int = 0
    """entry.add ops written with their entries (not held): the group moves the filed mark over them."""
    entries: list[Entry] = field(default_factory=list)
    """Plain scans' entries written with their rows (a group that does not hold)."""

    def add_scan(self, seq: int, row: OpRow, entry: Entry, created_at: float) -> None:
        """A plain scan from ``scan_row``: held, or written with its row."""
        if self.hold:
            self.held.append((seq, entry))
        else:
            self.adds += 1
            self.entries.append(entry)
        self.outbox.append((seq, entry.cart_id, _ADD_TEXT, row.body, entry.hlc, created_at))

    def add(self, seq: int, row: OpRow, created_at: float) -> None:
        op = row.op
        kind = _KIND_TEXT[op.kind]
        if self.hold and kind == _ADD_TEXT and op.sku is not None and op.qty is not None and not op.observed:
            # effects_of's entry of an add, built directly (the hot path: a scan)
            self.held.append((seq, Entry(op.op_id, op.cart_id, op.sku, op.qty, op.hlc, op.device, op.serial)))
        else:
            self.adds += kind == _ADD_TEXT
            self.effects.append(effects_of(op))
        self.outbox.append((seq, op.cart_id, kind, row.body, op.hlc, created_at))

    def flush(self, conn: sqlite3.Connection) -> None:
        if self.carts:
            conn.executemany("INSERT OR IGNORE INTO carts (cart_id, opened_at) VALUES (?, ?)", self.carts.items())
        if self.effects:
            carts.apply_effects(conn, self.effects)
        if self.entries:
            carts.insert_entries(conn, self.entries)
        if self.outbox:
            conn.executemany(
                "INSERT INTO outbox (seq, cart_id, kind, body, hlc, created_at) VALUES (?, ?, ?, ?, ?, ?)", self.outbox
            )
        self.carts.clear()
        self.effects.clear()
        self.entries.clear()
        self.outbox.clear()
