"""Config sections whose models are imported only when a device's file has the section.

``[readers.ble]`` and ``[readers.scanner]`` are validated by models that live with their readers (with the BLE
frame parsers, the scanner's code tables). A device without the section never needs them, and importing them
for every ``AgentConfig`` cost a camera-only kiosk ~0.3 MB of heap (docs/benchmarks.md, branch ``rss`` second
pass). The field is validated by the same model, so an error names the same key, says the same thing and is
dumped the same way: pydantic carries a nested ``ValidationError``'s locations into the outer one.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator


def lazy_section(module: str, name: str) -> Any:
    """An annotation for ``AgentConfig``: any value, validated by ``module.name`` (imported on first use)."""

    def validate(value: object) -> BaseModel:
        model: type[BaseModel] = getattr(importlib.import_module(module), name)
        return model.model_validate(value)

    return Annotated[Any, BeforeValidator(validate)]
