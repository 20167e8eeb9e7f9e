"""The platform's catalog per store: items stamped with the version that changed them, published on the store's
catalog topic, and the items a device missed sent again when it asks (its sync request names its version)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from edge_agent.contract.catalog import CatalogItem, CatalogUpdate, CatalogUpdateEvent
from edge_agent.contract.topics import Topics
from simulators.central.const import CATALOG_PAGE_ITEMS, SOURCE
from simulators.platform.events import platform_event

Publish = Callable[[str, bytes, bool], None]
"""(topic, payload, retain): the platform's one MQTT client."""


class CatalogDesk:
    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], dict[str, CatalogItem]] = {}
        self._versions: dict[tuple[str, str], int] = {}

    def publish(self, tenant: str, store: str, items: list[dict[str, Any]]) -> int:
        """New or changed items (fields of CatalogItem without ``version``): stamped, kept, published."""
        with self._lock:
            key = (tenant, store)
            version = self._versions.get(key, 0) + 1
            self._versions[key] = version
            stamped = [CatalogItem.model_validate({**item, "version": version}) for item in items]
            self._items.setdefault(key, {}).update({i.gtin14: i for i in stamped})
        self._send(tenant, store, CatalogUpdate(version=version, items=stamped))
        return version

    def change_item(self, tenant: str, store: str, gtin14: str, **changes: Any) -> int:
        """A price or stock change (pass ``price_minor``/``stock`` with their ``*_as_of``)."""
        with self._lock:
            current = self._items[(tenant, store)][gtin14]
        return self.publish(tenant, store, [{**current.model_dump(exclude={"version"}), **changes}])

    def item(self, tenant: str, store: str, gtin14: str) -> CatalogItem | None:
        with self._lock:
            return self._items.get((tenant, store), {}).get(gtin14)

    def send_since(self, tenant: str, store: str, since: int | None) -> None:
        """What changed after version ``since`` (everything when None), in pages, to a device catching up."""
        with self._lock:
            items = [i for i in self._items.get((tenant, store), {}).values() if since is None or i.version > since]
            version = self._versions.get((tenant, store), 0)
        for start in range(0, len(items), CATALOG_PAGE_ITEMS):
            self._send(tenant, store, CatalogUpdate(version=version, items=items[start : start + CATALOG_PAGE_ITEMS]))

    def _send(self, tenant: str, store: str, update: CatalogUpdate) -> None:
        event = platform_event(CatalogUpdateEvent, tenant, SOURCE, f"catalog:{store}:{update.version}", update)
        self._publish(Topics(tenant, store, "-").catalog, event.model_dump_json(exclude_none=True).encode(), False)
