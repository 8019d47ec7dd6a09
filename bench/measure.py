"""Driving a fixed number of operations at a fixed concurrency, and summarising what it cost."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]

#: One operation: ``(worker, index)`` -> whether it succeeded.
Operation = Callable[[int, int], Awaitable[bool]]


@dataclass
class RunResult:
    """What one timed run of operations produced."""

    count: int
    concurrency: int
    elapsed: float
    latencies: list[float]
    errors: int

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        """Throughput and latency figures, rounded for the report."""
        return {
            "commands": self.count,
            "concurrency": self.concurrency,
            "seconds": round(self.elapsed, 3),
            "per_second": round(self.per_second, 1),
            **latency_summary(self.latencies),
            "errors": self.errors,
        }


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(latencies: Iterable[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean in milliseconds."""
    ordered = sorted(latencies)
    mean = sum(ordered) / len(ordered) if ordered else 0.0
    return {
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p90_ms": round(percentile(ordered, 0.90) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 2),
        "mean_ms": round(mean * 1000, 2),
    }


async def drive(operation: Operation, *, count: int, concurrency: int, start: int = 0) -> RunResult:
    """Run ``operation`` ``count`` times (indices from ``start``) on ``concurrency`` workers."""
    indices = itertools.count(start)
    end = start + count
    latencies: list[float] = []
    errors = 0

    async def worker(number: int) -> None:
        nonlocal errors
        while (index := next(indices)) < end:
            began = time.perf_counter()
            ok = await operation(number, index)
            latencies.append(time.perf_counter() - began)
            if not ok:
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    elapsed = time.perf_counter() - began
    return RunResult(count, concurrency, elapsed, latencies, errors)


@dataclass
class CpuMeter:
    """CPU used over an interval by named processes, by server processes, and in total.

    Percentages are of one core (200 = both cores of a 2-core machine busy), except
    ``machine_busy_percent`` which is of all cores.
    """

    processes: dict[str, Any] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)
    _machine: Any = None
    _began: float = 0.0

    @classmethod
    def for_pids(cls, pids: dict[str, list[int]]) -> CpuMeter:
        """A meter over this process plus the given groups of processes."""
        groups: dict[str, Any] = {"bench_process": [psutil.Process(os.getpid())]}
        groups.update(
            {name: [psutil.Process(pid) for pid in group] for name, group in pids.items()}
        )
        return cls(processes=groups)

    def _servers(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {"postgres": [], "nats_server": []}
        for process in psutil.process_iter(["name"]):
            name = process.info.get("name") or ""
            if name.startswith("postgres"):
                found["postgres"].append(process)
            elif name.startswith("nats-server"):
                found["nats_server"].append(process)
        return found

    def _sample(self) -> dict[str, float]:
        sample: dict[str, float] = {}
        for name, group in {**self.processes, **self._servers()}.items():
            total = 0.0
            for process in group:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                total += float(times.user) + float(times.system)
                # Not the pid for the servers: backends that exit take their time with them.
                sample[f"{name}:{process.pid}"] = float(times.user) + float(times.system)
            sample[name] = total
        return sample

    def start(self) -> None:
        """Begin the interval."""
        self._start = self._sample()
        self._machine = psutil.cpu_times()
        self._began = time.perf_counter()

    def stop(self) -> dict[str, float]:
        """End the interval; CPU percent per group over it."""
        elapsed = time.perf_counter() - self._began
        end = self._sample()
        machine = psutil.cpu_times()
        result: dict[str, float] = {}
        groups = {key.split(":", 1)[0] for key in end}
        for group in sorted(groups):
            used = sum(
                value - self._start.get(key, 0.0)
                for key, value in end.items()
                if key.startswith(f"{group}:")
            )
            result[f"{group}_cpu_percent"] = round(100 * used / elapsed, 1)
        idle_before = float(self._machine.idle) + float(getattr(self._machine, "iowait", 0.0))
        idle_after = float(machine.idle) + float(getattr(machine, "iowait", 0.0))
        total = float(sum(machine)) - float(sum(self._machine))
        busy = 1 - (idle_after - idle_before) / total if total else 0.0
        result["machine_busy_percent"] = round(100 * busy, 1)
        return result
