"""``salesops up --demo``: what it hands every process, and its clock that waits for the load."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path

import pytest

from salesops.cli import build_parser, main
from salesops.clock import AcceleratedClock
from salesops.demo.run import DemoOptions, DemoRun
from salesops.embedded import free_port
from salesops.orgdir import load_org_directory
from salesops.settings import CommonSettings

pytestmark = pytest.mark.integration


def test_the_demo_options_and_that_it_needs_every_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["up", "--demo"])
    assert (args.demo, args.seed, args.speed, args.quarter, args.days) == (
        True,
        137,
        1440,
        "2026-Q2",
        None,
    )
    assert main(["up", "--demo", "customers", "tasks"]) == 2
    assert "needs every service" in capsys.readouterr().err


def test_the_demo_gives_every_process_its_directory_clock_and_catchers(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    demo = DemoRun(
        DemoOptions(days=1, start_allowance=60),
        data_dir=tmp_path,
        inbox_port=free_port(),
        out=out,
    )
    try:
        env = demo.prepare(nats_url)
        assert len(load_org_directory(env["SALESOPS_ORG_FILE"]).people) == 137
        assert env["SALESOPS_NATS_NAMESPACE"] == "demo"
        assert env["SALESOPS_NOTIFY_DINGTALK_WEBHOOK"].startswith("http://127.0.0.1:")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        clock = CommonSettings().business_clock()  # what each service makes of them
        assert isinstance(clock, AcceleratedClock)
        assert clock.start == demo.plan.start
        time.sleep(0.1)
        assert clock.now() == demo.plan.start  # waiting while the company loads
        before = time.monotonic()
        demo.start_clock()
        time.sleep(0.3)
        ran = (clock.now() - demo.plan.start).total_seconds()
        real = time.monotonic() - before
        assert 0.3 * 1440 - 60 < ran <= real * 1440 + 1  # running, 1,440 times real time
        assert demo.clock is not None
        assert abs(demo.clock.now() - clock.now()) < timedelta(minutes=1)  # the player's too
    finally:
        demo.stop()
    assert "深圳康拓医疗器械有限公司" in out.getvalue()
