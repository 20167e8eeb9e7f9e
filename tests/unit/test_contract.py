"""The MQTT contract: the hot-path encoder matches the models, and docs/asyncapi.yaml matches the code."""

from __future__ import annotations

import uuid
from pathlib import Path

import jsonschema
import yaml

from edge_agent.asyncapi import build_document, render_asyncapi
from edge_agent.contract.cart import OpsBatchEvent, encode_ops_batch
from edge_agent.domain.ops import CartOp, OpKind

REPO = Path(__file__).resolve().parents[2]
EPOCH = "00000000000000aa"


def test_the_spliced_ops_batch_is_a_valid_cloudevent_that_round_trips() -> None:
    ops = [
        CartOp(
            op_id=f"kiosk-01:{EPOCH}:{n}",
            uuid=uuid.uuid4(),
            device="kiosk-01",
            epoch=EPOCH,
            seq=n,
            cart_id="c1",
            kind=OpKind.ADD,
            hlc=n,
            sku="04006381333931",
            qty=1,
        )
        for n in (7, 8, 9)
    ]
    payload = encode_ops_batch(
        "urn:acme:store:s:device:kiosk-01",
        "kiosk-01",
        EPOCH,
        [7, 8, 9],
        [op.model_dump_json(exclude_none=True) for op in ops],
        9,
    )
    event = OpsBatchEvent.model_validate_json(payload)
    assert event.data.ops == ops
    assert event.id == f"kiosk-01:{EPOCH}:7-9"
    assert event.sequence == "00000000000000000009"


def test_the_committed_asyncapi_document_is_what_the_code_generates() -> None:
    committed = (REPO / "docs" / "asyncapi.yaml").read_text()
    assert committed == render_asyncapi(), "docs/asyncapi.yaml is stale: run `make asyncapi` and commit it"


def test_every_example_in_the_contract_validates_against_its_schema() -> None:
    doc = build_document()
    schemas = doc["components"]["schemas"]
    for name, message in doc["components"]["messages"].items():
        schema_name = message["payload"]["$ref"].rsplit("/", 1)[1]
        schema = {**schemas[schema_name], "components": {"schemas": schemas}}
        for example in message["examples"]:
            jsonschema.validate(example["payload"], schema), name
    assert yaml.safe_load(render_asyncapi())["asyncapi"] == "3.0.0"


def test_every_channel_and_operation_points_at_something_that_exists() -> None:
    doc = build_document()
    for op in doc["operations"].values():
        channel = op["channel"]["$ref"].rsplit("/", 1)[1]
        assert channel in doc["channels"]
    for channel in doc["channels"].values():
        for ref in channel["messages"].values():
            assert ref["$ref"].rsplit("/", 1)[1] in doc["components"]["messages"]
