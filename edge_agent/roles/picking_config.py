"""The ``[picking]`` section: the accept and pick timers and the short reasons an associate may give."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from edge_agent.domain.workflows.const import DEFAULT_ACCEPT_TIMER_S, DEFAULT_PICK_TIMER_S, DEFAULT_SHORT_REASONS

if TYPE_CHECKING:
    from edge_agent.domain.workflows.picking import PickTimers

ShortReason = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class PickingSection(BaseModel):
    """Device-side picking SLA timers (the platform keeps routing and hold windows)."""

    model_config = ConfigDict(extra="forbid")

    accept_timer_s: float = Field(
        default=DEFAULT_ACCEPT_TIMER_S, gt=0, le=86_400, description="ASSIGNED longer than this times the order out"
    )
    pick_timer_s: float = Field(
        default=DEFAULT_PICK_TIMER_S, gt=0, le=86_400, description="PICKING longer than this is an SLA breach"
    )
    short_reasons: tuple[ShortReason, ...] = Field(
        default=DEFAULT_SHORT_REASONS, min_length=1, max_length=32, description="codes an associate may give"
    )

    @field_validator("short_reasons")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("short_reasons must not repeat a reason")
        return value

    def timers(self) -> PickTimers:
        from edge_agent.domain.workflows.picking import PickTimers  # the picking machine only on a picking device

        return PickTimers(accept_s=self.accept_timer_s, pick_s=self.pick_timer_s)
