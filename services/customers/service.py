"""Wiring of the customers service onto the shared chassis."""

from __future__ import annotations

from dataclasses import dataclass

from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.customers import http, http_reports, read_model
from services.customers.deadlines import Deadlines
from services.customers.handlers import CustomerService
from services.customers.importer import CustomerImporter
from services.customers.reports import ReportService


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
)
