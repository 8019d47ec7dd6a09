"""Wiring of the customers service onto the shared chassis."""

from __future__ import annotations

from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.customers import http, read_model
from services.customers.handlers import CustomerService


def bootstrap(runtime: ServiceRuntime) -> CustomerService:
    return CustomerService(runtime.pool, runtime.store, runtime.clock, runtime.directory)


CUSTOMERS = ServiceDefinition(
    name="customers",
    title="Customers (table 1)",
    migrations=read_model.MIGRATIONS,
    routers=[http.router],
    bootstrap=bootstrap,
)
