"""Wiring of the tasks service onto the shared chassis."""

from __future__ import annotations

from dataclasses import dataclass

from salesops.consumers import ReceivedEvent
from salesops.db import DbConnection
from salesops.objectstore import object_store_from_settings
from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.tasks import http, read_model
from services.tasks.deadlines import TaskDeadlines
from services.tasks.handlers import TaskService

CUSTOMER_FACTS = ["CustomerRegistered", "CustomerReassigned", "CustomerDetailsUpdated"]


@dataclass(frozen=True)
class TasksApp:
    tasks: TaskService
    deadlines: TaskDeadlines


async def learn_customer(conn: DbConnection, received: ReceivedEvent) -> None:
    """Keep the names and owners of customers, as the customers service publishes them."""
    statement = read_model.customer_statement(received.event())
    if statement is not None:
        sql, args = statement
        await conn.execute(sql, *args)


def bootstrap(runtime: ServiceRuntime) -> TasksApp:
    settings = runtime.settings
    objects = object_store_from_settings(
        settings.object_store_url,
        default_root=settings.data_dir / "evidence",
        access_key=settings.object_store_access_key,
        secret_key=settings.object_store_secret_key,
    )
    tasks = TaskService(
        runtime.pool, runtime.store, runtime.clock, runtime.directory, runtime.policy, objects
    )
    runtime.consumers.subscribe(
        "customer_facts",
        source_service="customers",
        handler=learn_customer,
        event_types=CUSTOMER_FACTS,
    )
    return TasksApp(tasks, TaskDeadlines(tasks))


async def on_start(app: TasksApp) -> None:
    await app.deadlines.on_start()


TASKS = ServiceDefinition(
    name="tasks",
    title="Tasks (table 2)",
    migrations=read_model.MIGRATIONS,
    routers=[http.router],
    bootstrap=bootstrap,
    timers=lambda app: app.deadlines.handlers(),
    on_start=on_start,
)
