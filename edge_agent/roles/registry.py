"""Device role name (``device.role`` in config) -> where its role class lives. A new role is one module and one
line here. Imported only when the device's config names it, so a kiosk never loads the handheld's code."""

from __future__ import annotations

import importlib
from typing import Final

from edge_agent.roles.base import Role

ROLES: Final[dict[str, str]] = {
    "kiosk": "edge_agent.roles.kiosk:KioskRole",
    "shelf": "edge_agent.roles.shelf:ShelfRole",
    "associate-handheld": "edge_agent.roles.handheld:HandheldRole",
    "fitting-room-mirror": "edge_agent.roles.mirror:MirrorRole",
}


def role_class(name: str) -> type[Role]:
    module, _, cls = ROLES[name].partition(":")
    found: type[Role] = getattr(importlib.import_module(module), cls)
    return found
