"""The fast op row builder gives exactly what the validated path gave: the same op, the same wire body."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.domain.basket import AddItem, OpIntent, Refused, plan
from edge_agent.domain.cart import effects_of
from edge_agent.domain.const import MAX_LINE_QTY
from edge_agent.domain.ops import OpKind
from edge_agent.store.op_rows import build_row, identity_fits, random_uuids, scan_row

DEVICE, EPOCH = "kiosk-01", "0123456789abcdef"

cart_ids = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")
skus = st.from_regex(r"\A[0-9]{14}\Z")
op_ids = st.builds(
    lambda d, s: f"{d}:{EPOCH}:{s}", st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,10}\Z"), st.integers(1, 2**40)
)
texts = st.text(max_size=80)
maybe = st.none() | texts
"""Free text (value, actor, serial) in any script, quotes, backslashes and controls included, at times too long."""


@st.composite
def intents(draw: st.DrawFn) -> OpIntent:
    kind = draw(st.sampled_from(list(OpKind)))
    needs_sku = kind in (OpKind.ADD, OpKind.REMOVE, OpKind.SET_QTY)
    qty = draw(st.integers(1, 999)) if kind in (OpKind.ADD, OpKind.SET_QTY) else None
    observed = tuple(draw(st.lists(op_ids, max_size=5))) if kind not in (OpKind.ADD, OpKind.ATTR_SET) else ()
    serial = draw(st.none() | st.text(min_size=1, max_size=24)) if kind is OpKind.ADD and qty == 1 else None
    return OpIntent(
        draw(cart_ids),
        kind,
        sku=draw(skus) if needs_sku else None,
        qty=qty,
        observed=observed,
        key=draw(st.from_regex(r"\A[a-z][a-z0-9_.]{0,20}\Z")) if kind is OpKind.ATTR_SET else None,
        value=draw(maybe) if kind is OpKind.ATTR_SET else None,
        actor=draw(maybe),
        serial=serial,
    )


def _validated(intent: OpIntent, seq: int, uuid: UUID, hlc: int) -> tuple[object, str] | type[Exception]:
    try:
        op = intent.materialise(device=DEVICE, epoch=EPOCH, seq=seq, uuid=uuid, hlc=hlc)
    except ValidationError:
        return ValidationError
    return op, op.model_dump_json(exclude_none=True)


@given(intents(), st.integers(1, 2**63 - 1), st.uuids(version=4), st.integers(0, 2**63 - 1))
def test_the_fast_row_is_the_validated_row_byte_for_byte(intent: OpIntent, seq: int, uuid: UUID, hlc: int) -> None:
    expected = _validated(intent, seq, uuid, hlc)
    if expected is ValidationError:  # too long a text: the fast path hands it to pydantic, which refuses it
        with pytest.raises(ValidationError):
            build_row(intent, device=DEVICE, epoch=EPOCH, seq=seq, uuid=uuid, hlc=hlc, identity_fits=True)
        return
    row = build_row(intent, device=DEVICE, epoch=EPOCH, seq=seq, uuid=uuid, hlc=hlc, identity_fits=True)
    assert isinstance(expected, tuple)
    op, body = expected
    assert row.body == body
    assert row.op == op
    assert row.op.model_dump_json(exclude_none=True) == body
    assert row.op.model_fields_set == op.model_fields_set  # type: ignore[attr-defined]


def test_what_the_contract_refuses_is_still_refused_on_the_fast_path() -> None:
    bad = [
        OpIntent("has space", OpKind.ADD, sku="00012345678905", qty=1),
        OpIntent("c", OpKind.ADD, sku="12345", qty=1),
        OpIntent("c", OpKind.ADD, sku="00012345678905", qty=1, serial="x" * 21),
        OpIntent("c", OpKind.ATTR_SET, key="Bad-Key", value="v"),
        OpIntent("c", OpKind.CLEAR, observed=("not an op id",)),
        OpIntent("c\n", OpKind.CLEAR),  # Python's $ matches before a final newline; the contract's does not
    ]
    for intent in bad:
        with pytest.raises(ValidationError):
            build_row(intent, device=DEVICE, epoch=EPOCH, seq=1, uuid=UUID(int=1), hlc=0, identity_fits=True)


def test_an_identity_outside_the_contract_goes_the_validated_way() -> None:
    assert identity_fits(DEVICE, EPOCH)
    assert not identity_fits("Kiosk:01", EPOCH) and not identity_fits(DEVICE, "xyz")
    intent = OpIntent("c", OpKind.ADD, sku="00012345678905", qty=1)
    with pytest.raises(ValidationError):
        build_row(intent, device="Kiosk:01", epoch=EPOCH, seq=1, uuid=UUID(int=1), hlc=0, identity_fits=False)


def test_the_uuids_of_a_group_commit_are_what_uuid4_gives() -> None:
    uuids = list(random_uuids(512))
    assert len(set(uuids)) == 512
    for u in uuids:
        assert u.version == 4 and u.variant == "specified in RFC 4122"
        assert UUID(str(u)) == u and hash(UUID(str(u))) == hash(u) and UUID(bytes=u.bytes, version=4) == u


@st.composite
def plain_scans(draw: st.DrawFn) -> AddItem:
    """Plain scans as readers, screens and roles make them: now and then outside the contract or the quantity's
    range (the planner refuses those), with free-text actors of any length."""
    cart = draw(cart_ids | st.sampled_from(["has space", "c\n", ""]))
    sku = draw(skus | st.sampled_from(["12345", "0001234567890x"]))
    qty = draw(st.integers(-2, MAX_LINE_QTY + 2))
    return AddItem(cart, sku, qty, actor=draw(maybe))


@given(plain_scans(), st.integers(1, 2**63 - 1), st.uuids(version=4), st.integers(0, 2**63 - 1))
def test_a_plain_scans_row_is_what_planning_and_validating_it_give(
    command: AddItem, seq: int, uuid: UUID, hlc: int
) -> None:
    scan = scan_row(command, device=DEVICE, epoch=EPOCH, seq=seq, uuid=uuid, hlc=hlc, identity_fits=True)
    try:
        expected = _validated(plan(command, []), seq, uuid, hlc)
    except Refused:
        assert scan is None, "a scan the planner refuses is left to it"
        return
    if expected is ValidationError:
        assert scan is None, "a scan the contract refuses is left to pydantic"
        return
    assert scan is not None, "every scan the planner and the contract accept takes the fast path"
    assert isinstance(expected, tuple)
    (row, entry), (op, body) = scan, expected
    assert row.body == body and row.op == op
    assert row.op.model_fields_set == op.model_fields_set  # type: ignore[attr-defined]
    assert (entry,) == effects_of(op).entries, "its cart entry is the op's effect"


def test_a_plain_scan_with_an_identity_outside_the_contract_is_planned_as_any_command() -> None:
    command = AddItem("c", "00012345678905")
    assert (
        scan_row(command, device="Kiosk:01", epoch=EPOCH, seq=1, uuid=UUID(int=1), hlc=0, identity_fits=False) is None
    )
