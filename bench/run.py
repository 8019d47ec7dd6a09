"""Run the benchmark and print one JSON document: ``python -m bench.run [--quick] [--only X]``.

The document also goes to ``bench-results/latest.json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.append import run_append
from bench.http import run_http
from bench.rebuild import run_rebuild
from bench.relay import run_relay
from bench.servers import Servers, bench_servers, server_versions

SECTIONS = ("append", "http", "relay", "rebuild")
RESULTS = Path(__file__).resolve().parent.parent / "bench-results" / "latest.json"


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    append_commands: int
    append_warmup: int
    http_commands: int
    http_warmup: int
    relay_events: int
    rebuild_events: int


FULL = Sizes(20_000, 2_000, 10_000, 1_000, 50_000, 1_000_000)
QUICK = Sizes(1_000, 100, 500, 100, 2_000, 20_000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--no-two-processes",
        action="store_true",
        help="skip the optional HTTP run against two service processes",
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


async def run(servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    """Every selected section, one after another, each on its own database and namespace."""
    sizes = QUICK if args.quick else FULL
    sections = args.only or list(SECTIONS)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": await _machine(servers),
    }
    if "append" in sections:
        report["append"] = await run_append(
            servers, commands=sizes.append_commands, warmup=sizes.append_warmup, concurrency=16
        )
    if "http" in sections:
        report["http"] = await run_http(
            servers, commands=sizes.http_commands, warmup=sizes.http_warmup, concurrency=32
        )
        if not args.no_two_processes:
            report["http_two_processes"] = await run_http(
                servers,
                commands=sizes.http_commands,
                warmup=sizes.http_warmup,
                concurrency=32,
                processes=2,
            )
            report["http_two_processes"]["note"] = (
                "optional: two `salesops serve customers` processes on two ports, 16 of the"
                " 32 clients each; not the goal's configuration"
            )
    if "relay" in sections:
        report["relay"] = await run_relay(servers, events=sizes.relay_events, batch_size=1000)
    if "rebuild" in sections:
        report["rebuild"] = await run_rebuild(servers, events=sizes.rebuild_events)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="bench: %(message)s")
    for noisy in ("httpx", "httpcore"):  # a line per request would load the load generator
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with bench_servers() as servers:
        report = asyncio.run(run(servers, args))
    document = json.dumps(report, indent=2, ensure_ascii=False)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(document + "\n", encoding="utf-8")
    print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
