"""The benchmark keeps working: its load generator, its report, and a smoke run of cheap sections.

``make bench`` is not a test (its figures depend on the machine), but its code must not
rot between runs: the cheapest sections run here with the smallest counts, against the
test run's servers, as ``python -m bench.run --quick --only ...`` would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_process import run_bench_module

from bench.loadgen import HttpClient, _chunked, open_loop
from bench.notifier import WebhookSink
from bench.report import figure, goals, table


def test_a_figure_says_whether_it_met_its_goal() -> None:
    assert figure("x", 1600, "/s", at_least=1500)["goal_met"] is True
    assert figure("x", 1400, "/s", at_least=1500)["goal_met"] is False
    assert figure("p99", 50.0, "ms", below=50)["goal_met"] is False
    assert figure("late", 3.0, "s", at_most=3)["goal_met"] is True
    assert figure("no value", None, "s", at_most=3)["goal_met"] is False
    assert figure("no goal", 7, "ms")["goal_met"] is None


def test_the_table_shows_each_figure_with_its_goal_and_the_limit_beside_it() -> None:
    report = {
        "limits": {
            "figures": [figure("one-row transactions", 5123.4, "tx/s", key="transactions")],
            "load_average": {"start": [1.5, 1.0, 0.5]},
        },
        "http": {
            "figures": [figure("customers", 900.0, "/s", at_least=1500, limit="transactions")],
            "load_average": {"start": [3.25, 1.0, 0.5]},
        },
    }
    lines = table(report).splitlines()
    row = next(line for line in lines if line.startswith("http"))
    assert "900 /s" in row
    assert ">= 1,500" in row
    assert "NO" in row
    assert "raw asyncpg one-row transactions: 5,123 tx/s" in row
    assert row.rstrip().endswith("3.2")
    assert goals(report) == {"met": 0, "missed": 1}


def test_chunked_bodies_are_read_whole_or_not_at_all() -> None:
    message = bytearray(b"HEAD\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\nNEXT")
    assert _chunked(message, 8) == (b"Wikipedia", len(message) - 4)
    assert _chunked(bytearray(b"HEAD\r\n\r\n4\r\nWi"), 8) is None


async def test_the_load_generator_keeps_one_connection_and_holds_its_rate() -> None:
    async with WebhookSink() as sink:
        client = HttpClient.for_url(f"http://127.0.0.1:{sink.port}", token="t")
        try:

            async def post(index: int) -> bool:
                response = await client.post("/hook", {"index": index})
                return response.status == 200 and response.json() == {"ok": True}

            result = await open_loop(post, count=40, rate=200.0, lanes=1)
        finally:
            client.close()
    assert result.errors == 0
    assert sink.posts == 40
    # 40 requests at 200/s take about 0.2 s: an open loop neither bursts nor stalls.
    assert 0.18 <= result.elapsed < 2.0


@pytest.mark.integration
def test_a_quick_run_of_the_cheap_sections_writes_figures_and_prints_the_table(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "latest.json"
    completed = run_bench_module(
        "bench.run",
        [
            "--quick",
            *("--only", "limits", "--only", "relay", "--only", "http"),
            *("--service", "customers", "--output", str(output)),
        ],
        database_url=database_url,
        nats_url=nats_url,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(output.read_text(encoding="utf-8"))
    assert set(report) >= {"machine", "limits", "relay", "http", "goals"}
    assert report["machine"]["load_average_at_start"]
    customers = report["http"]["customers"]
    assert customers["errors"] == 0
    assert customers["stored"]["ok"], customers["stored"]
    assert report["relay"]["verified"]
    for section in ("limits", "relay", "http"):
        for row in report[section]["figures"]:
            assert {"figure", "value", "unit", "goal", "goal_met", "limit"} <= set(row)
    assert all(row["value"] > 0 for row in report["limits"]["figures"])
    # The table comes last on stderr, one line per figure.
    assert "customers commands/s (c=32)" in completed.stderr
    assert "raw JetStream async publishes:" in completed.stderr


def test_the_quick_sizes_stay_small() -> None:
    from bench.run import QUICK, SECTIONS

    assert QUICK.timers <= 500
    assert QUICK.rebuild_events <= 50_000
    assert max(QUICK.scaling_sizes) <= 10_000
    assert "scaling" in SECTIONS
