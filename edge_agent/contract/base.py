"""The contract's foundations: the one strict base model and the CloudEvents 1.0 structured-mode envelope.

Every field a consumer needs is in the payload; MQTT 5 user properties only mirror ``type`` and ``id``, so a
3.1.1 broker carries the same contract. docs/asyncapi.yaml is generated from these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints

from edge_agent.contract.const import MAX_WIRE_TEXT

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "com.edgeagent"

ReasonCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
"""A stable machine-readable reason (a reader's, the domain's, the session's); the screen maps it to words."""


class Strict(BaseModel):
    """The one strict base of the contract: unknown fields are refused, and a parsed message cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


D = TypeVar("D", bound=BaseModel)


class CloudEvent(BaseModel, Generic[D]):
    """CloudEvents 1.0, structured mode. Identical ``source`` + ``id`` may be assumed duplicates."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Each message is one envelope model, built here at import as every contract model is (never on the
        loop at its first message). ``defer_build`` above leaves only the step between unbuilt: the
        parametrised ``CloudEvent[X]`` that ``XEvent(CloudEvent[X])`` derives from, which nothing validates with,
        was a second full schema per message type (~20 KB each; docs/benchmarks.md, branch ``mem``)."""
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_generic_metadata__["origin"] is None:
            cls.model_rebuild()

    specversion: Literal["1.0"] = SPEC_VERSION
    type: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)]
    source: Annotated[str, StringConstraints(max_length=256)]
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    sequence: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    partitionkey: Annotated[str, StringConstraints(max_length=MAX_WIRE_TEXT)] | None = None
    data: D


def utcnow() -> datetime:
    return datetime.now(UTC)


def source_urn(tenant: str, store: str, device: str) -> str:
    return f"urn:{tenant}:store:{store}:device:{device}"
