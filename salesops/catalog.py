"""The services that exist, where their definitions live and which local port each takes."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from salesops.runtime import ServiceDefinition


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    definition_path: str  # "module:attribute", imported only when the service runs
    local_port: int
    #: A page for people, besides the API docs (path on the service).
    page: str | None = None

    def definition(self) -> ServiceDefinition:
        module_name, attribute = self.definition_path.split(":")
        definition: ServiceDefinition = getattr(importlib.import_module(module_name), attribute)
        return definition


# A service joins `salesops up`, `salesops serve` and compose by being listed here.
CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in (
        CatalogEntry("customers", "services.customers.service:CUSTOMERS", 8101),
        CatalogEntry("tasks", "services.tasks.service:TASKS", 8102),
        CatalogEntry("collaboration", "services.collaboration.service:COLLABORATION", 8103),
        CatalogEntry("notifier", "services.notifier.service:NOTIFIER", 8104),
        CatalogEntry("metrics", "services.metrics.service:METRICS", 8105, page="/dashboard/"),
    )
}
