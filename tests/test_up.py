"""`salesops up` runs the stack with one command and stops it cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from salesops.auth import TokenIssuer
from salesops.embedded import free_port
from salesops.settings import DEV_JWT_SECRET, REPO_ROOT

pytestmark = pytest.mark.integration

READY = "ready — press Ctrl-C to stop"  # printed once every service answers /readyz


class Stack:
    """A `salesops up` process whose output is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "salesops.cli", "up", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,  # its own process group, as in a terminal
        )
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed; output:\n" + "\n".join(self.lines))

    def interrupt(self) -> int:
        """Ctrl-C: the terminal sends SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def stack_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOPS_")}
    env["SALESOPS_LOG_LEVEL"] = "WARNING"
    return env


def register_a_customer(base_url: str) -> int:
    token = TokenIssuer(DEV_JWT_SECRET, "salesops").mint("rep-zhang-wei")
    response = httpx.post(
        f"{base_url}/customers",
        json={"name": "杭州远景", "tier": "C", "estimated_contribution": "1000"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_uses_the_configured_servers_and_stops_on_ctrl_c(
    stack_env: dict[str, str],
    database_url: str,
    nats_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        **stack_env,
        "SALESOPS_DATABASE_URL": database_url,
        "SALESOPS_NATS_URL": nats_url,
        "SALESOPS_NATS_NAMESPACE": namespace,
    }
    stack = Stack(["--port-base", str(port), "--data-dir", str(tmp_path)], env)
    try:
        stack.wait_for(READY)
        assert any(
            "customers" in line and f"http://127.0.0.1:{port}" in line for line in stack.lines
        )
        assert not any("embedded" in line for line in stack.lines)
        assert register_a_customer(f"http://127.0.0.1:{port}") == 201
        dashboard = next(line for line in stack.lines if line.startswith("metrics "))
        page = re.search(r"dashboard (http://\S+)\)", dashboard)
        assert page is not None, dashboard
        assert httpx.get(page.group(1), timeout=10).status_code == 200
        console = next(line for line in stack.lines if line.startswith("console "))
        console_url = console.split()[1]
        forwarded = httpx.get(f"{console_url}/api/customers/healthz", timeout=10)
        assert forwarded.json() == {"status": "ok", "service": "customers"}
    finally:
        code = stack.interrupt()
    assert code == 0
    assert not port_open(port)


def test_up_with_no_servers_configured_starts_embedded_ones(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    stack = Stack(["--port-base", str(port), "--data-dir", str(tmp_path)], stack_env)
    try:
        stack.wait_for(READY, seconds=120)
        assert any("embedded PostgreSQL" in line for line in stack.lines)
        nats_line = next(line for line in stack.lines if "embedded NATS" in line)
        match = re.search(r"nats://127\.0\.0\.1:(\d+)", nats_line)
        assert match is not None
        nats_port = int(match.group(1))
        assert register_a_customer(f"http://127.0.0.1:{port}") == 201
    finally:
        code = stack.interrupt()
    assert code == 0
    assert not port_open(port)
    assert not port_open(nats_port)
    assert (tmp_path / "postgres").is_dir()
