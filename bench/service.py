"""A service as a real separate process: ``salesops serve <service>``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from salesops.embedded import free_port

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServiceProcess:
    """A running service process and where it listens."""

    pid: int
    base_url: str
    log_path: Path
    name: str = "customers"


def _salesops_command() -> list[str]:
    script = Path(sys.executable).parent / "salesops"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "salesops.cli"]


def _tail(log: Path) -> str:
    """The end of the service's log, for an error message."""
    return log.read_text(errors="replace")[-2000:]


def _remove(log: Path) -> None:
    log.unlink(missing_ok=True)


async def _wait_ready(process: asyncio.subprocess.Process, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"service exited with {process.returncode}: {_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"service at {base_url} not ready in {READY_TIMEOUT}s: {_tail(log)}")


@contextlib.asynccontextmanager
async def customers_service(
    database_url: str, nats_url: str, namespace: str
) -> AsyncIterator[ServiceProcess]:
    """Start ``salesops serve customers`` on a free port, wait for /readyz, stop it at exit."""
    async with service_process("customers", database_url, nats_url, namespace) as service:
        yield service


@contextlib.asynccontextmanager
async def service_process(
    name: str,
    database_url: str,
    nats_url: str,
    namespace: str,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServiceProcess]:
    """Start ``salesops serve <name>`` on a free port, wait for /readyz, stop it at exit.

    ``env`` adds or overrides environment variables (a service's own settings).
    """
    port = free_port()
    environment = {
        **os.environ,
        "SALESOPS_DATABASE_URL": database_url,
        "SALESOPS_NATS_URL": nats_url,
        "SALESOPS_NATS_NAMESPACE": namespace,
        "SALESOPS_HTTP_PORT": str(port),
        "SALESOPS_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    handle, log_name = tempfile.mkstemp(prefix=f"salesops-bench-{name}-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(handle, "wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *_salesops_command(),
            "serve",
            name,
            env=environment,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(process, base_url, log_path)
        yield ServiceProcess(pid=process.pid, base_url=base_url, log_path=log_path, name=name)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        _remove(log_path)
