"""Driving a fixed number of operations at a fixed concurrency, and summarising what it cost."""

from __future__ import annotations

import asyncio
import contextlib
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
    ``machine_busy_percent`` which is of all cores. ``other_processes_cpu_percent`` is
    the rest of the machine's busy time: anything else running skews the figures.
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
        """CPU seconds so far, keyed ``group:pid``.

        A server process that starts within the interval counts from zero; one that exits
        within it (a closed PostgreSQL backend) takes its time with it.
        """
        sample: dict[str, float] = {}
        for name, group in {**self.processes, **self._servers()}.items():
            sample[f"{name}:"] = 0.0  # the group shows even when none of it is running
            for process in group:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                sample[f"{name}:{process.pid}"] = float(times.user) + float(times.system)
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
        spent = {
            name: float(getattr(machine, name)) - float(getattr(self._machine, name))
            for name in machine._fields
        }
        total = sum(spent.values())
        # Steal is a VM's time taken by its host: neither this machine's work nor idle.
        not_busy = sum(spent.get(name, 0.0) for name in ("idle", "iowait", "steal"))
        busy = 1 - not_busy / total if total else 0.0
        result["machine_busy_percent"] = round(100 * busy, 1)
        result["steal_percent"] = round(100 * spent.get("steal", 0.0) / total, 1) if total else 0.0
        # What the machine did besides: other sessions' work shows up here, not in the figures.
        accounted = sum(result[f"{group}_cpu_percent"] for group in groups)
        cores = psutil.cpu_count() or 1
        result["other_processes_cpu_percent"] = round(max(0.0, 100 * busy * cores - accounted), 1)
        return result


def cpu_cost(
    cpu: dict[str, float], per_second: float, *, processes: dict[str, int] | None = None
) -> dict[str, Any]:
    """CPU milliseconds each operation cost per process group, and the rate CPU allows.

    ``projected_per_second_cpu_bound`` is the rate at which the machine's cores, or one of
    the Python processes (one core each, ``processes`` says how many a group has; this
    process counts as one), would be saturated if the machine ran nothing else. Steadier
    than the measured rate when other work shares the machine; a projection, not a
    measurement.
    """
    if not per_second:
        return {}
    costs = {
        key.removesuffix("_cpu_percent"): round(value * 10 / per_second, 3)
        for key, value in cpu.items()
        if key.endswith("_cpu_percent") and not key.startswith("other_")
    }
    total = sum(costs.values())
    limits = [(psutil.cpu_count() or 1) * 1000 / total] if total else []
    for group, count in {"bench_process": 1, **(processes or {})}.items():
        if costs.get(group):
            limits.append(count * 1000 / costs[group])
    return {
        "cpu_ms_per_operation": {**costs, "total": round(total, 3)},
        "projected_per_second_cpu_bound": round(min(limits), 1) if limits else None,
    }


class RssSampler:
    """Peak resident memory of named processes (with their children), sampled while it runs.

    ``async with RssSampler({"customers": [pid]}) as rss: ...`` then ``rss.peak_mb()``.
    Sampled every ``interval`` seconds in a background task: a peak shorter than that can
    be missed, which is why the figure is called the sampled peak.
    """

    def __init__(self, pids: dict[str, list[int]], interval: float = 0.1) -> None:
        self._processes = {
            name: [psutil.Process(pid) for pid in group] for name, group in pids.items()
        }
        self._interval = interval
        self._peak: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        for name, group in self._processes.items():
            total = 0
            for process in group:
                try:
                    family = [process, *process.children(recursive=True)]
                except psutil.Error:
                    continue
                for member in family:
                    try:
                        total += member.memory_info().rss
                    except psutil.Error:
                        continue
            self._peak[name] = max(self._peak[name], total / 2**20)

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> RssSampler:
        self._sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()

    def peak_mb(self) -> dict[str, float]:
        """The largest RSS seen per name, in MiB."""
        return {name: round(value, 1) for name, value in self._peak.items()}
