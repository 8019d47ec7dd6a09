"""A benchmark module run as ``python -m <module>`` on the test run's servers, as a person
would run it (``make bench``, ``make soak``), for the smoke tests of tests/test_bench.py and
tests/test_soak.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_bench_module(
    module: str, args: Sequence[str], *, database_url: str, nats_url: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` in the repository, pointed at the given servers; its
    output captured as text and its exit code left to the caller."""
    env = {
        **os.environ,
        "SALESOPS_BENCH_DATABASE_URL": database_url,
        "SALESOPS_BENCH_NATS_URL": nats_url,
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
