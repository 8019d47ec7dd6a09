"""The soak keeps working: its verdict on hand-made samples, and a short run end to end.

``make soak`` (ten minutes) is not a test; its code must not rot between runs. The verdict
rules are checked on samples built here, each rule broken on purpose; the short run plays
the small demo company through the five real service processes for half a minute on the
test run's servers and checks every service took traffic and nothing went wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench_process import run_bench_module

from bench.http import SERVICES
from bench.soak import (
    FINANCE,
    LAG_BOUND_SECONDS,
    MEMORY_JUDGED_SECONDS,
    RSS_SLOPE_LIMIT_MB,
    Options,
    company_and_plan,
    fit_slope,
    judge,
    playable_at_real_speed,
    table,
    verdict_lines,
)


def sample(
    t: float,
    *,
    rss: float = 90.0,
    lag: int = 0,
    outbox: int = 0,
    errors: int = 0,
    phase: str = "load",
    dead_letters: int = 0,
    dead_deliveries: int = 0,
    grow: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One sample as ``Soak.sample`` writes it, every service alike unless ``grow`` says."""
    services: dict[str, Any] = {}
    for name in SERVICES:
        services[name] = {
            "requests": 100,
            "per_second": 10.0,
            "errors": errors if name == "customers" else 0,
            "rejected_as_planned": 0,
            "p50_ms": 5.0,
            "p99_ms": 20.0,
            "max_ms": 30.0,
            "consumer_lag": {},
            "lag_total": lag,
            "outbox": outbox,
            "rss_mb": rss + (grow or {}).get(name, 0.0) * t / 60,
            "cpu_percent": 10.0,
        }
    services[FINANCE] = {
        "requests": 1,
        "per_second": 0.1,
        "errors": 0,
        "rejected_as_planned": 0,
        "p50_ms": 1.0,
        "p99_ms": 1.0,
        "max_ms": 1.0,
    }
    return {
        "t": t,
        "phase": phase,
        "requests_per_second": 50.0,
        "max_schedule_delay_ms": 0.0,
        "load_average": [1.0, 1.0, 1.0],
        "services": services,
        "deliveries": {
            "by_status": {"sent": 10, "dead": dead_deliveries},
            "failed_attempts": 0,
            "sent_in_interval": {"dingtalk": 1},
        },
        "platforms_received": {"dingtalk": 10},
        "dead_letters": dead_letters,
    }


def run_of(minutes: float = 10, every: float = 15, **last: Any) -> list[dict[str, Any]]:
    """A steady run of ``minutes`` sampled every ``every`` seconds, then the drained sample
    (``last`` changes that one)."""
    count = int(minutes * 60 / every)
    samples = [sample(every * (i + 1)) for i in range(count)]
    return [*samples, sample(samples[-1]["t"] + 5, phase="drained", **last)]


OPTIONS = Options(minutes=10, rate=150)


def test_the_slope_is_least_squares() -> None:
    assert fit_slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert fit_slope([(0, 2), (1, 0), (2, 4)]) == pytest.approx(1.0)
    assert fit_slope([(1, 5)]) == 0.0
    assert fit_slope([(1, 5), (1, 7)]) == 0.0


def test_a_steady_run_passes() -> None:
    verdict = judge(run_of(), OPTIONS)
    assert verdict["passed"], verdict
    assert verdict["memory"]["ok"] is True
    assert verdict["memory"]["services"]["customers"]["slope_mb_per_10_min"] == 0.0
    assert verdict_lines(verdict)[0] == "soak PASSED"


def test_memory_growing_in_the_second_half_fails() -> None:
    # Growth in the first half (the warm-up) is allowed; a steady rise after it is not.
    per_minute = RSS_SLOPE_LIMIT_MB / 10 * 1.5
    samples = [
        sample(t, grow={"tasks": per_minute}) if t >= 300 else sample(t) for t in range(15, 601, 15)
    ]
    samples.append(sample(605, phase="drained"))
    verdict = judge(samples, OPTIONS)
    assert not verdict["passed"]
    assert verdict["memory"]["services"]["tasks"]["ok"] is False
    assert verdict["memory"]["services"]["customers"]["ok"] is True
    warm_up = [
        sample(t, rss=40 + t / 10) if t < 300 else sample(t, rss=70) for t in range(15, 601, 15)
    ]
    assert judge([*warm_up, sample(605, phase="drained")], OPTIONS)["memory"]["ok"] is True


def test_a_late_step_in_memory_fails_though_the_line_is_flat() -> None:
    samples = [sample(t) for t in range(5, 596, 5)]
    samples.append(sample(600, rss=90 + 11))
    verdict = judge([*samples, sample(605, phase="drained")], OPTIONS)
    assert verdict["memory"]["services"]["customers"]["slope_mb_per_10_min"] < RSS_SLOPE_LIMIT_MB
    assert verdict["memory"]["ok"] is False


def test_a_short_run_is_not_judged_on_memory() -> None:
    samples = run_of(minutes=MEMORY_JUDGED_SECONDS / 60, every=5)
    verdict = judge(samples, Options(minutes=MEMORY_JUDGED_SECONDS / 60, rate=150))
    assert verdict["memory"]["ok"] is None
    assert "not judged" in verdict["memory"]["rule"]
    assert verdict["passed"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"errors": 1}, "errors"),
        ({"dead_letters": 1}, "errors"),
        ({"dead_deliveries": 1}, "errors"),
        ({"lag": 1}, "lag"),
        ({"outbox": 3}, "lag"),
    ],
)
def test_anything_wrong_at_the_end_fails(change: dict[str, Any], rule: str) -> None:
    verdict = judge(run_of(**change), OPTIONS)
    assert not verdict["passed"]
    assert verdict[rule]["ok"] is False


def test_lag_beyond_the_bound_in_the_second_half_fails() -> None:
    bound = int(LAG_BOUND_SECONDS * OPTIONS.rate)
    samples = run_of()
    samples[-3]["services"]["metrics"]["lag_total"] = bound + 1
    verdict = judge(samples, OPTIONS)
    assert verdict["lag"]["services"]["metrics"]["ok"] is False
    assert verdict["lag"]["services"]["tasks"]["ok"] is True
    # The same lag in the first half (the warm-up's burst) is allowed.
    samples = run_of()
    samples[2]["services"]["metrics"]["lag_total"] = bound + 1
    assert judge(samples, OPTIONS)["lag"]["ok"] is True


def test_the_table_has_a_row_per_sample_and_service() -> None:
    samples = run_of(minutes=1)
    text = table(samples)
    for name in SERVICES:
        assert f"\n{name}\n" in text
    assert text.count("5.0") >= len(samples) * len(SERVICES)  # p50 of every row
    assert "*" in text  # the drained sample is marked


def test_the_plan_is_sized_to_the_run() -> None:
    # Ten minutes at 150/s need the article's company; a short run the small one.
    options = Options(minutes=0.5, rate=20)
    company, plan = company_and_plan(options.commands_needed)
    assert sum(1 for c in plan.commands if c.story != "setup") >= options.commands_needed
    assert len(company.mapping["people"]) < 137


@pytest.mark.integration
def test_a_short_soak_runs_clean(database_url: str, nats_url: str, tmp_path: Path) -> None:
    output = tmp_path / "soak.json"
    completed = run_bench_module(
        "bench.soak",
        [
            *("--minutes", "0.5", "--rate", "20", "--sample-seconds", "10"),
            *("--drain-seconds", "60", "--output", str(output)),
        ],
        database_url=database_url,
        nats_url=nats_url,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(output.read_text(encoding="utf-8"))
    verdict = report["verdict"]
    assert verdict["errors"]["ok"], verdict
    assert verdict["passed"], verdict
    load = [s for s in report["samples"] if s["phase"] == "load"]
    assert len(load) >= 3
    for name in SERVICES:
        assert sum(s["services"][name]["requests"] for s in load) > 0, name
        assert load[-1]["services"][name]["rss_mb"] > 0
    assert report["samples"][-1]["phase"] == "drained"
    assert report["outcome"]["drain_seconds"] is not None
    assert report["setup"]["customers"] > 0
    assert "soak PASSED" in completed.stdout


def test_escalated_answers_are_given_by_the_supervisor() -> None:
    from salesops.demo import Action

    company, plan = company_and_plan(5_000)
    managers = {region.manager for region in company.regions}
    answers = [c for c in plan.commands if c.action is Action.ANSWER_PROGRESS_REPORT]
    assert any(c.actor in managers for c in answers), "the plan escalates none"
    played = playable_at_real_speed(plan.commands, company)
    assert len(played) == sum(1 for c in plan.commands if c.story != "setup")
    filed_by = {c.story: c.actor for c in played if c.action is Action.FILE_PROGRESS_REPORT}
    for command in played:
        if command.action is Action.ANSWER_PROGRESS_REPORT:
            assert command.actor == company.group_of(filed_by[command.story]).lead
