"""Wiring of the customers service onto the shared chassis."""

from __future__ import annotations

from dataclasses import dataclass

from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.customers import http, http_reports, read_model
from services.customers.deadlines import Deadlines
from services.customers.handlers import CustomerService, customer_stream
from services.customers.importer import CustomerImporter
from services.customers.reports import ReportService, report_stream, target_stream
from services.customers.targets import PERIOD_PATTERN


@dataclass(frozen=True)
class CustomersApp:
    """The service's parts, as the HTTP adapter and the timers reach them."""

    customers: CustomerService
    reports: ReportService
    deadlines: Deadlines
    importer: CustomerImporter


def bootstrap(runtime: ServiceRuntime) -> CustomersApp:
    customers = CustomerService(
        runtime.pool, runtime.store, runtime.clock, runtime.directory, runtime.policy
    )
    return CustomersApp(
        customers, ReportService(customers), Deadlines(customers), CustomerImporter(customers)
    )


def audit_stream(record_id: str) -> str:
    """The stream of a progress report (``pr-...``), a period's targets or a customer."""
    if record_id.startswith("pr-"):
        return report_stream(record_id)
    if PERIOD_PATTERN.fullmatch(record_id):
        return target_stream(record_id)
    return customer_stream(record_id)


async def on_start(app: CustomersApp) -> None:
    await app.deadlines.on_start()


CUSTOMERS = ServiceDefinition(
    name="customers",
    title="Customers (table 1)",
    migrations=read_model.MIGRATIONS,
    routers=[http.router, http_reports.router],
    bootstrap=bootstrap,
    timers=lambda app: app.deadlines.handlers(),
    on_start=on_start,
    audit_stream=audit_stream,
)
