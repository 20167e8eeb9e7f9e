"""Each message type is one built envelope model: built at import, and the parametrised step it derives from is not.

``XEvent(CloudEvent[X])`` made pydantic build two full schemas per message type, ``CloudEvent[X]`` (which nothing
validates with) and ``XEvent``: heap on every device for nothing (docs/benchmarks.md, branch ``mem``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil
import edge_agent.contract
from edge_agent.contract.base import CloudEvent
for info in pkgutil.iter_modules(edge_agent.contract.__path__):
    importlib.import_module(f"edge_agent.contract.{info.name}")
seen, todo = [], [CloudEvent]
while todo:
    for sub in todo.pop().__subclasses__():
        seen.append(sub)
        todo.append(sub)
print(json.dumps([[c.__name__, c.__pydantic_generic_metadata__["origin"] is not None, c.__pydantic_complete__]
                  for c in seen]))
"""


def _envelopes() -> list[tuple[str, bool, bool]]:
    """(name, is a parametrised CloudEvent[X], built) for every CloudEvent subclass, in a fresh interpreter (a
    test elsewhere in this process may have validated with a parametrised model, which builds it)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    return [(name, parametrised, built) for name, parametrised, built in json.loads(result.stdout)]


def test_every_message_envelope_is_built_at_import() -> None:
    messages = [(name, built) for name, parametrised, built in _envelopes() if not parametrised]
    assert len(messages) >= 30  # the probe works: the contract's message types are there
    assert [name for name, built in messages if not built] == []


def test_the_parametrised_step_of_an_envelope_is_never_built() -> None:
    steps = [(name, built) for name, parametrised, built in _envelopes() if parametrised]
    assert any(name == "CloudEvent[OpsBatch]" for name, _ in steps)  # the probe works
    assert [name for name, built in steps if built] == []
