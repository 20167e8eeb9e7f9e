"""The workflow event every device publishes: its CloudEvents envelope and the context analytics needs.

Apart from the role commands and views (contract/workflow.py) because every role sends these and only a few
roles take shelf, tote, mirror or assist messages: a kiosk should not build ~30 pydantic models (their core
schemas, ~1 MB of heap; docs/benchmarks.md, issue 14) it never validates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from pydantic import Field, JsonValue, StringConstraints

from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.domain.ops import DeviceId

T_WORKFLOW_PREFIX: Final = "com.edgeagent.workflow."
"""A workflow event's CloudEvents type is this prefix, its ``domain.verb`` name and ``.v1``."""


class WorkflowEventData(Strict):
    """What a store workflow reports (retail note §1, §6), with the context analytics needs to attribute it."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[a-z_]+)+$")]
    actor: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="an associate id, 'shopper', 'system' or 'platform' (never a shopper's name)"
    )
    occurred_at: datetime
    store: str
    device: DeviceId
    session_id: str | None = None
    attribution_key: str | None = Field(default=None, description="opaque per-session key, no PII (retail note §6)")
    profile: str | None = Field(
        default=None, description="the shopper's pseudonym, only with their 'analytics' consent"
    )
    ga4: str = Field(description="the GA4 event name this maps to (docs/event-mapping.md)")
    segment: str = Field(description="the Segment Ecommerce v2 event name this maps to")
    data: dict[str, JsonValue] = Field(default={}, max_length=50)


class WorkflowCloudEvent(CloudEvent[WorkflowEventData]):
    type: Annotated[str, StringConstraints(pattern=r"^com\.edgeagent\.workflow\.[a-z_.]+\.v1$")]
