"""docs/asyncapi.yaml, generated from the contract (edge_agent/contract/): the document, its channels and operations
(``document``), and every message with a valid example (``messages``, ``workflow_messages``). Not part of the
runtime: the agent never imports it."""

from edge_agent.asyncapi.document import build_document, render_asyncapi

__all__ = ["build_document", "render_asyncapi"]
