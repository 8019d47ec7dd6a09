"""Run the benchmark: ``python -m bench.run [--quick] [--only SECTION]``.

Prints one JSON document (also written to ``bench-results/latest.json``), then a table
of every figure with its goal and the raw limit beside it on stderr, where progress
goes too. Sections, each on a database and NATS namespace of its own:

- limits: raw one-row transactions, COPY rows and JetStream publishes per second;
- append: the event store in-process; relay: the outbox to JetStream;
- http: every service over HTTP in its own process; e2e: command -> metrics lag;
- rebuild: the metrics read model from 1,000,000 events; timers: 10,000 SLA deadlines
  due in one second; notifier: webhook deliveries per second;
- scaling: http, e2e, rebuild and timers again over 10k, 100k and 1M stored events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.append import run_append
from bench.e2e import run_e2e
from bench.http import SERVICES, run_http
from bench.limits import run_limits
from bench.notifier import run_notifier
from bench.rebuild import run_rebuild
from bench.relay import run_relay
from bench.report import goals, table
from bench.scaling import run_scaling
from bench.servers import Servers, bench_servers, server_versions
from bench.timers import run_timers

SECTIONS = (
    "limits",
    "append",
    "http",
    "relay",
    "e2e",
    "rebuild",
    "timers",
    "notifier",
    "scaling",
)
RESULTS = Path(__file__).resolve().parent.parent / "bench-results" / "latest.json"


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    limit_transactions: int
    limit_copy_rows: int
    limit_publishes: int
    append_commands: int
    append_warmup: int
    http_commands: int
    http_warmup: int
    #: Known customers / deliveries seeded for the HTTP mixes; metrics events for /indicators.
    http_seed: int
    http_metrics_events: int
    relay_events: int
    e2e_commands: int
    rebuild_events: int
    timers: int
    deliveries: int
    scaling_sizes: tuple[int, ...]
    scaling_http_commands: int
    scaling_e2e_commands: int
    scaling_timers: int


FULL = Sizes(
    limit_transactions=20_000,
    limit_copy_rows=1_000_000,
    limit_publishes=50_000,
    append_commands=20_000,
    append_warmup=2_000,
    http_commands=10_000,
    http_warmup=1_000,
    http_seed=2_000,
    http_metrics_events=100_000,
    relay_events=50_000,
    e2e_commands=10_000,
    rebuild_events=1_000_000,
    timers=10_000,
    deliveries=10_000,
    scaling_sizes=(10_000, 100_000, 1_000_000),
    scaling_http_commands=3_000,
    scaling_e2e_commands=2_500,
    scaling_timers=2_000,
)
QUICK = Sizes(
    limit_transactions=1_000,
    limit_copy_rows=20_000,
    limit_publishes=2_000,
    append_commands=1_000,
    append_warmup=100,
    http_commands=300,
    http_warmup=50,
    http_seed=200,
    http_metrics_events=2_000,
    relay_events=2_000,
    e2e_commands=500,
    rebuild_events=20_000,
    timers=300,
    deliveries=300,
    scaling_sizes=(1_000, 5_000),
    scaling_http_commands=200,
    scaling_e2e_commands=200,
    scaling_timers=100,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="http: drive only this service (repeatable; default: all)",
    )
    parser.add_argument(
        "--two-processes",
        action="store_true",
        help="http: also drive two customers service processes (not the goal's configuration)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    return parser.parse_args(argv)


async def _machine(servers: Servers) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Anything else running (another session's tests) competes for the same cores.
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        **await server_versions(servers),
    }


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


async def _section(name: str, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run one section, recording the machine's load around it (other work skews figures)."""
    start = _load()
    began = time.perf_counter()
    result = await work
    result["load_average"] = {"start": start, "end": _load()}
    result["section_seconds"] = round(time.perf_counter() - began, 1)
    logging.getLogger(__name__).info(
        "%s done in %.0f s (load %.1f -> %.1f)",
        name,
        result["section_seconds"],
        start[0],
        result["load_average"]["end"][0],
    )
    return result


def _work(servers: Servers, sizes: Sizes, args: argparse.Namespace, name: str) -> Any:
    if name == "limits":
        return run_limits(
            servers,
            transactions=sizes.limit_transactions,
            copy_rows=sizes.limit_copy_rows,
            publishes=sizes.limit_publishes,
        )
    if name == "append":
        return run_append(
            servers, commands=sizes.append_commands, warmup=sizes.append_warmup, concurrency=16
        )
    if name == "http":
        return run_http(
            servers,
            commands=sizes.http_commands,
            warmup=sizes.http_warmup,
            concurrency=32,
            services=tuple(args.service or SERVICES),
            seed_size=sizes.http_seed,
            metrics_events=sizes.http_metrics_events,
            two_processes=args.two_processes,
        )
    if name == "relay":
        return run_relay(servers, events=sizes.relay_events, batch_size=1000)
    if name == "e2e":
        return run_e2e(servers, commands=sizes.e2e_commands)
    if name == "rebuild":
        return run_rebuild(servers, events=sizes.rebuild_events)
    if name == "timers":
        return run_timers(servers, timers=sizes.timers)
    if name == "notifier":
        return run_notifier(servers, deliveries=sizes.deliveries)
    if name == "scaling":
        return run_scaling(
            servers,
            sizes=sizes.scaling_sizes,
            http_commands=sizes.scaling_http_commands,
            e2e_commands=sizes.scaling_e2e_commands,
            timers=sizes.scaling_timers,
        )
    raise ValueError(name)


async def run(servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    """Every selected section, one after another, each on its own database and namespace."""
    sizes = QUICK if args.quick else FULL
    selected = set(args.only or SECTIONS)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": await _machine(servers),
    }
    # A run that seems stuck: `kill -USR1 <pid>` prints where every task is waiting.
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _print_tasks)
    for name in SECTIONS:  # in this order whatever the order of --only
        if name in selected:
            report[name] = await _section(name, _work(servers, sizes, args, name))
            _write(args.output.with_suffix(".partial.json"), report)  # kept if a later one fails
    report["machine"]["load_average_at_end"] = _load()
    report["goals"] = goals(report)
    return report


def _print_tasks() -> None:
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)


def _write(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="bench: %(message)s")
    for noisy in ("httpx", "httpcore"):  # a line per request would load the load generator
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with bench_servers() as servers:
        report = asyncio.run(run(servers, args))
    document = json.dumps(report, indent=2, ensure_ascii=False, default=str)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(document + "\n", encoding="utf-8")
    print(document)
    # The table last on stderr, where it stays in sight after the JSON has scrolled by.
    print("\n" + table(report), file=sys.stderr)
    if "scaling" in report:
        print("\nscaling:\n" + "\n".join(report["scaling"]["table"]), file=sys.stderr)
    print(
        f"\ngoals: {report['goals']['met']} met, {report['goals']['missed']} missed;"
        f" written to {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
