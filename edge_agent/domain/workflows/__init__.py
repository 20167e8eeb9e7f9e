"""Pure state machines of the store workflows (retail note §1): associate tote, click-and-collect picking,
fitting-room mirror with assist requests, and shelf stock. No I/O and no clock: ``now`` is an argument,
commands return an :class:`~edge_agent.domain.workflows.common.Outcome`, refusals are values."""

from edge_agent.domain.workflows.common import Outcome, Refused, Source, WorkflowEvent

__all__ = ["Outcome", "Refused", "Source", "WorkflowEvent"]
