"""Servers of a fault test's own, which it may stop, kill and start again.

The test run's shared PostgreSQL and NATS (``SALESOPS_TEST_*_URL``) serve other people's
tests too and are never stopped; a test that takes a server away starts a private one:
a nats-server process (or three in a JetStream cluster on loopback) with its store in a
temporary folder, or a PostgreSQL cluster made with ``initdb`` on a free port.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from salesops.embedded import free_port, nats_server_binary


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


class NatsNode:
    """One JetStream nats-server process; its store (and so its streams) outlives a restart."""

    def __init__(
        self,
        store: Path,
        *,
        name: str = "n1",
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: list[int] | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self._cluster = (
            []
            if cluster_name is None
            else [
                "--cluster_name",
                cluster_name,
                "--cluster",
                f"nats://127.0.0.1:{cluster_port}",
                "--routes",
                ",".join(f"nats://127.0.0.1:{port}" for port in routes or []),
            ]
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-n",
                self.name,
                "-js",
                "-sd",
                str(self.store),
                "-m",
                str(self.monitor_port),
                *self._cluster,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, self._process, f"nats-server {self.name}", 20)

    def monitor(self, path: str) -> tuple[int, Any]:
        """GET a monitoring endpoint (``/connz``, ``/healthz``...): status and JSON body."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.monitor_port}{path}", timeout=2
            ) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def connection_names(self) -> list[str]:
        """The names of the clients connected to this node right now."""
        _, connz = self.monitor("/connz")
        return [c.get("name", "") for c in connz.get("connections") or []]

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as an operator's restart would do."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """The node dies at once (SIGKILL): no goodbye to clients or cluster peers."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def nats_node() -> Iterator[NatsNode]:
    """A started single NATS node, stopped and its store removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="salesops-faults-nats-"))
    node = NatsNode(folder)
    try:
        node.start()
        yield node
    finally:
        node.kill()
        shutil.rmtree(folder, ignore_errors=True)


class NatsCluster:
    """Three JetStream nodes routed to each other on loopback (``--cluster_name``)."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes = [
            NatsNode(
                folder / f"n{i + 1}",
                name=f"n{i + 1}",
                cluster_name="salesops-faults",
                cluster_port=cluster_ports[i],
                routes=[port for j, port in enumerate(cluster_ports) if j != i],
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node, comma separated: clients fail over to the next one."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(node for node in self.nodes if node.name == name)

    def wait_until_formed(self, timeout: float = 30) -> None:
        """Until every node reports JetStream healthy: routes up and a meta leader elected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(node.monitor("/healthz")[0] == 200 for node in self.nodes):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the NATS cluster did not form within {timeout}s")


@contextlib.contextmanager
def nats_cluster() -> Iterator[NatsCluster]:
    folder = Path(tempfile.mkdtemp(prefix="salesops-faults-cluster-"))
    cluster = NatsCluster(folder)
    try:
        for node in cluster.nodes:
            node.start()
        cluster.wait_until_formed()
        yield cluster
    finally:
        for node in cluster.nodes:
            node.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _postgres_bindir() -> Path:
    """The machine's PostgreSQL binaries, else the ones in the pgserver wheel."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if installed:
        return installed[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _postgres_os_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as the ``postgres`` (or pgserver) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


class PostgresNode:
    """A PostgreSQL cluster of the test's own (trust auth, TCP on loopback only)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self._bin = _postgres_bindir()
        self._user = _postgres_os_user()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            args,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._user,
            cwd=self.folder,
            timeout=60,
        )

    def init(self) -> None:
        self.folder.chmod(0o755)  # the server's OS user must reach its data folder
        self.data.mkdir(mode=0o700)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        # Durability settings off: the tests restart the server cleanly (pg_ctl stop writes
        # everything out); they never pull the plug on the machine.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: every session is ended, as on a restart or failover."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextlib.contextmanager
def postgres_node() -> Iterator[PostgresNode]:
    """A started private PostgreSQL, stopped and deleted at the end."""
    folder = Path(tempfile.mkdtemp(prefix="salesops-faults-pg-"))
    node = PostgresNode(folder)
    try:
        node.init()
        node.start()
        yield node
    finally:
        if node.running:
            with contextlib.suppress(subprocess.SubprocessError):
                node._run(
                    str(node._bin / "pg_ctl"), "-D", str(node.data), "-m", "immediate", "stop"
                )
        shutil.rmtree(folder, ignore_errors=True)
