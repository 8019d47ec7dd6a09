"""Wiring of the tasks service onto the shared chassis."""

from __future__ import annotations

from dataclasses import dataclass

from salesops import known_customers
from salesops.objectstore import object_store_from_settings
from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.tasks import http, read_model
from services.tasks.deadlines import TaskDeadlines
from services.tasks.handlers import TaskService, task_stream


@dataclass(frozen=True)
class TasksApp:
    tasks: TaskService
    deadlines: TaskDeadlines


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
    known_customers.follow_customers(runtime.consumers)
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
    audit_stream=task_stream,
)
