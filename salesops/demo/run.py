"""``salesops up --demo``: the generated company, its quarter played on an accelerated clock.

What the demo adds to ``salesops up`` (salesops/up.py calls it at each step):

1. before the servers: the company and its quarter are generated from the seed;
2. :meth:`DemoRun.fresh_database` gives the services a database of their own
   (``salesops_demo``, emptied on every run) and the NATS namespace ``demo`` is emptied, so a
   run never mixes with ``salesops up``'s data or an earlier demo's;
3. :meth:`DemoRun.prepare` writes the org directory to ``<data dir>/demo/org.yaml``, starts
   the notification catchers and returns the settings every process gets: that directory,
   the accelerated clock (``SALESOPS_CLOCK_START/_SPEED/_ANCHOR``), where notifications go;
4. :meth:`DemoRun.started` (services ready) starts the player: the setup while business time
   still waits at 07:30 of the first working day, then every command at its instant;
5. :meth:`DemoRun.tick` prints progress, and once each: when every figure has data, the SLA
   board an overdue stage and the first notification arrived.

Business time stands still at its start (07:30 on the quarter's first working day) until the
company is loaded and the services have learnt its customers: the demo then writes the
wall-clock instant to ``<data dir>/demo/clock-anchor``, which every process's clock reads, and
from there business time runs ``speed`` times faster than the wall clock (at the default
1,440 a working day takes a minute).

What the speed does to the machinery (at the default 1,440, business time in brackets):

* timers are polled every 0.2 s of real time (~5 min): an SLA window, the 18:00 card or the
  09:00 meeting fires up to ~5 business minutes late; a window of 1 h is 2.5 real seconds;
* the notifier's sender looks for due deliveries every 0.5 s (~12 min), so a notification
  lands up to ~12 business minutes after its event; its per-robot limit (20 a minute)
  counts business minutes, i.e. up to 480 messages a real second: fine for the local
  catchers, far too many for a real DingTalk or WeCom robot (point a demo at real robots
  only at speed 1). Signatures, WeCom tokens and bearer tokens keep to real time;
* consumers, the outbox relay and HTTP keep real-time latencies (milliseconds, i.e. a few
  business seconds to a minute); the player measures how far behind business time it runs
  and prints it ("lag"). Past ~5,000 business seconds a real second the timers fire visibly
  late and the player cannot keep up on a small machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx
from nats.js import JetStreamContext

from contracts.subjects import dead_letter_stream_name, stream_name_for
from salesops.auth import TokenIssuer
from salesops.clock import AcceleratedClock, SystemClock
from salesops.db import quote_ident
from salesops.demo.catchers import Catchers, run_catchers
from salesops.demo.commands import SETUP_STORY, QuarterPlan
from salesops.demo.company import Company, generate_company
from salesops.demo.player import ClockPacer, FinancePublisher, Player
from salesops.demo.quarter import TIMEZONE, plan_quarter
from salesops.jetstream import connect_nats, ensure_service_stream
from salesops.settings import CommonSettings, load_settings

NAMESPACE = "demo"
DATABASE = "salesops_demo"
#: Every stream a demo run may have made, emptied before the next run.
_STREAM_SOURCES = ("customers", "tasks", "collaboration", "notifier", "metrics", "finance")


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 137
    #: Business seconds per real second; 1,440 plays a working day a minute.
    speed: float = 1440.0
    period: str = "2026-Q2"
    #: Only the first this many calendar days of the quarter (all by default).
    days: int | None = None
    #: Business time waits at its start until the company is loaded, at most this long.
    start_allowance: float = 120.0


@dataclass
class _Milestones:
    """What a new user should see, and after how many real seconds it first did."""

    setup: float | None = None
    figures: float | None = None
    sla_overdue: float | None = None
    notifications: float | None = None
    printed: set[str] = field(default_factory=set)


class DemoRun:
    """One run of the demo inside ``salesops up``."""

    def __init__(
        self, options: DemoOptions, *, data_dir: Path, inbox_port: int, out: TextIO = sys.stdout
    ) -> None:
        self.options = options
        self.folder = data_dir.resolve() / "demo"
        self.inbox_port = inbox_port
        self.out = out
        self.began = time.monotonic()
        self.company: Company = generate_company(options.seed)
        self.say(
            f"{self.company.name} (seed {options.seed}): {len(self.company.mapping['people'])} "
            f"people; planning its {options.period} while the servers start…"
        )
        # Planning a quarter takes seconds of CPU: done while PostgreSQL, NATS and the
        # services start (other processes), not before them.
        self._plan: QuarterPlan | None = None
        self._planned = threading.Event()
        threading.Thread(target=self._make_plan, name="demo-plan", daemon=True).start()
        self.clock: AcceleratedClock | None = None
        self.player: Player | None = None
        self.catchers: Catchers | None = None
        self.error: BaseException | None = None
        self.urls: dict[str, str] = {}
        self.console_url = ""
        self.milestones = _Milestones()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._go: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._last_progress = 0.0
        self._failures_shown = 0
        self._finished = False
        self._nats_url = ""

    def say(self, line: str) -> None:
        print(f"demo  {line}", file=self.out, flush=True)

    def _make_plan(self) -> None:
        try:
            self._plan = plan_quarter(
                self.company,
                seed=self.options.seed,
                period=self.options.period,
                days=self.options.days,
            )
        except BaseException as exc:
            self.error = exc
        finally:
            self._planned.set()

    @property
    def plan(self) -> QuarterPlan:
        """The quarter's plan (waits for the planning thread)."""
        self._planned.wait()
        if self._plan is None:
            raise RuntimeError(f"the quarter could not be planned: {self.error}")
        return self._plan

    @property
    def org_file(self) -> Path:
        return self.folder / "org.yaml"

    @property
    def anchor_file(self) -> Path:
        """Where the wall-clock instant business time starts running from is written."""
        return self.folder / "clock-anchor"

    def start_clock(self) -> None:
        """Let business time run, from now on, in every process (once)."""
        if self.anchor_file.exists():
            return
        partial = self.anchor_file.with_suffix(".partial")
        partial.write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
        partial.replace(self.anchor_file)  # atomic: no process reads half an instant

    # -- before the services start ----------------------------------------------------------

    def fresh_database(self, server_dsn: str) -> str:
        """An empty ``salesops_demo`` database on the server of ``server_dsn``; its DSN."""
        from urllib.parse import urlsplit, urlunsplit

        async def recreate() -> None:
            conn = await asyncpg.connect(server_dsn)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(DATABASE)} WITH (FORCE)")
                await conn.execute(f"CREATE DATABASE {quote_ident(DATABASE)}")
            finally:
                await conn.close()

        asyncio.run(recreate())
        return urlunsplit(urlsplit(server_dsn)._replace(path=f"/{DATABASE}"))

    def prepare(self, nats_url: str) -> dict[str, str]:
        """Write the directory, empty the namespace, start the catchers: the demo's settings."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.org_file.write_text(self.company.org_yaml(), encoding="utf-8")
        self._nats_url = nats_url
        asyncio.run(_empty_namespace(nats_url))
        self._thread = threading.Thread(target=self._run_loop, name="demo", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self.error is not None or self.catchers is None:
            raise RuntimeError(f"the notification catchers did not start: {self.error}")
        self.clock = AcceleratedClock(
            self.plan.start, self.options.speed, anchor_file=self.anchor_file
        )
        return {
            "SALESOPS_ORG_FILE": str(self.org_file),
            "SALESOPS_CLOCK_START": self.plan.start.isoformat(),
            "SALESOPS_CLOCK_SPEED": str(self.options.speed),
            "SALESOPS_CLOCK_ANCHOR_FILE": str(self.anchor_file),
            "SALESOPS_NATS_NAMESPACE": NAMESPACE,
            "SALESOPS_DATA_DIR": str(self.folder),
            # 0.2 s of real time is ~5 business minutes at 1,440: deadlines fire that close.
            "SALESOPS_TIMER_POLL_SECONDS": "0.2",
            **self.catchers.env,
        }

    # -- once they run --------------------------------------------------------------------

    def started(self, urls: dict[str, str], console_url: str) -> None:
        """The services answer: play the quarter, and say where to look."""
        self.urls, self.console_url = dict(urls), console_url
        figures = self.plan.summary()
        self.say(
            f"the quarter: {figures['customers']:,} customers ({figures['distributors']} "
            f"distributors), {figures['commands']:,} commands over {figures['days']} days"
        )
        assert self._loop is not None
        assert self._go is not None
        assert self.catchers is not None
        self._loop.call_soon_threadsafe(self._go.set)
        metrics = urls.get("metrics", "")
        director = self.company.sales_director
        self.say(f"dashboard          {metrics}/dashboard/  (and the console {console_url})")
        self.say(f"notifications      {self.catchers.inbox_url}  (log {self.catchers.log_file})")
        self.say(
            f"sign in as          the sales director {director} "
            f"({self.company.directory.person(director).name}) in the console, or use a token:"
        )
        self.say(f"  salesops token --org-file {self.org_file} --user {director}")
        self.say(
            f"business time starts at {self.plan.start.astimezone(TIMEZONE):%Y-%m-%d %H:%M} "
            f"(Asia/Shanghai) and runs {self.options.speed:g}x"
        )

    def tick(self) -> None:
        """Called by ``salesops up`` a few times a second: print what is new."""
        now = time.monotonic()
        m = self.milestones
        for name, seconds, line in (
            ("setup", m.setup, "the company is loaded: targets, customers, the ERP's backlog"),
            ("figures", m.figures, "every indicator on the dashboard has data"),
            ("sla", m.sla_overdue, "the SLA board shows overdue stages"),
            ("notify", m.notifications, "the first notifications arrived in the inbox"),
        ):
            if seconds is not None and name not in m.printed:
                m.printed.add(name)
                self.say(f"{line} ({seconds:.0f} s after start)")
                if name == "setup" and self.player is not None:
                    spent = self.player.stats.seconds
                    steps = ("allocate_target", "import_customers", "sync_customers")
                    times = [f"{step} {spent[step]:.1f} s" for step in (*steps, "finance_event")]
                    self.say("  " + ", ".join(times))
        if self.error is not None and "error" not in m.printed:
            m.printed.add("error")
            self.say(f"the player stopped: {type(self.error).__name__}: {self.error}")
        player = self.player
        if player is None or self.clock is None:
            return
        # The first few failures as they happen (a demo should have none; say why if not).
        while self._failures_shown < min(len(player.stats.failures), 10):
            self.say(f"  failed: {player.stats.failures[self._failures_shown]}")
            self._failures_shown += 1
        if self._finished and "done" not in m.printed:
            m.printed.add("done")
            self.say(f"the quarter is played: {player.stats.line()}")
        elif now - self._last_progress >= 10 and not self._finished:
            self._last_progress = now
            business = self.clock.now().astimezone(TIMEZONE)
            sent = sum(self.catchers.counts.values()) if self.catchers else 0
            self.say(f"{business:%a %m-%d %H:%M}  {player.stats.line()}, {sent:,} notifications")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    # -- the demo's own thread ----------------------------------------------------------------

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by tick(), the main thread prints
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._go, self._stop = asyncio.Event(), asyncio.Event()
        async with run_catchers(
            self.company.directory, self.folder, inbox_port=self.inbox_port
        ) as catchers:
            self.catchers = catchers
            self._ready.set()
            if not await _first(self._go.wait(), self._stop.wait()):
                return
            work = [
                asyncio.create_task(self._play()),
                asyncio.create_task(self._watch()),
                asyncio.create_task(self._start_clock_anyway()),
            ]
            await self._stop.wait()
            for task in work:
                task.cancel()
            await asyncio.gather(*work, return_exceptions=True)

    async def _play(self) -> None:
        assert self.clock is not None
        settings = load_settings(CommonSettings)
        issuer = TokenIssuer(settings.jwt_secret, settings.jwt_issuer, SystemClock())
        nc = await connect_nats(self._nats_url, name="salesops-demo-player")
        clients = {
            name: httpx.AsyncClient(base_url=url, timeout=60) for name, url in self.urls.items()
        }
        try:
            js = nc.jetstream()
            await ensure_service_stream(js, "finance", NAMESPACE)
            self.player = Player(
                clients,
                lambda person: issuer.mint(person, ttl=timedelta(days=30)),
                ClockPacer(self.clock),
                publish=FinancePublisher(js, NAMESPACE),
                concurrency=16,
                customers_known=lambda count: _customers_known(js, count),
            )
            setup = [c for c in self.plan.commands if c.story == SETUP_STORY]
            await self.player.play(setup)
            self.start_clock()
            await self.player.play([c for c in self.plan.commands if c.story != SETUP_STORY])
            self._finished = True
        except Exception as exc:
            self.error = exc
        finally:
            for client in clients.values():
                await client.aclose()
            await nc.close()

    async def _start_clock_anyway(self) -> None:
        # Should the setup hang, business time runs all the same: a demo must not freeze.
        await asyncio.sleep(self.options.start_allowance)
        self.start_clock()

    async def _watch(self) -> None:
        """Look at the dashboard's figures as a new user would, until each has shown up."""
        settings = load_settings(CommonSettings)
        issuer = TokenIssuer(settings.jwt_secret, settings.jwt_issuer, SystemClock())
        headers = {"Authorization": f"Bearer {issuer.mint(self.company.sales_director)}"}
        m = self.milestones
        async with httpx.AsyncClient(timeout=10, headers=headers) as http:
            while m.figures is None or m.sla_overdue is None or m.notifications is None:
                await asyncio.sleep(1)
                elapsed = time.monotonic() - self.began
                if m.setup is None and self.player and self.player.setup_done:
                    m.setup = elapsed
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    if m.figures is None and await _every_figure_has_data(
                        http, self.urls["metrics"]
                    ):
                        m.figures = elapsed
                    if m.sla_overdue is None:
                        board = await http.get(f"{self.urls['metrics']}/sla-board")
                        if any(line.get("overdue") for line in board.json()):
                            m.sla_overdue = elapsed
                if m.notifications is None and self.catchers and sum(self.catchers.counts.values()):
                    m.notifications = elapsed


async def _every_figure_has_data(http: httpx.AsyncClient, metrics: str) -> bool:
    values: list[Any] = []
    indicators = (await http.get(f"{metrics}/indicators")).json()
    values += [f["value"] for f in indicators["figures"]]
    for path in ("/activity", "/health-dashboard"):
        body = (await http.get(f"{metrics}{path}")).json()
        values += [v["value"] for v in body.values() if isinstance(v, dict) and "value" in v]
    return bool(values) and all(v is not None for v in values)


async def _customers_known(js: JetStreamContext, count: int) -> None:
    """Wait until tasks and collaboration have consumed the imported customers' events.

    They learn customers from the customers service's events; a task planned for a customer
    they have not heard of yet is refused ("(yet)"). Loading thousands takes them a few real
    seconds, best spent while business time still waits at the start than at 08:00 with
    every rep's first task retried.
    """
    from nats.js.errors import NotFoundError

    stream = stream_name_for("customers", NAMESPACE)
    async with asyncio.timeout(120):
        # Each imported customer makes two events (registered, last contact); the relay
        # publishes them shortly after the import's transaction.
        while (await js.stream_info(stream)).state.messages < 2 * count:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        last = (await js.stream_info(stream)).state.last_seq
        for durable in ("tasks_customer_facts", "collaboration_customer_facts"):
            while True:
                with contextlib.suppress(NotFoundError):
                    info = await js.consumer_info(stream, durable)
                    if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= last:
                        break
                await asyncio.sleep(0.2)


async def _first(*waits: Any) -> bool:
    """Whether the first of ``waits`` (the go signal) finished first."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return tasks[0] in done


async def _empty_namespace(nats_url: str) -> None:
    """Delete the demo namespace's streams (with their consumers): a run starts from nothing."""
    from nats.js.errors import NotFoundError

    nc = await connect_nats(nats_url, name="salesops-demo-reset")
    try:
        js = nc.jetstream()
        names = [stream_name_for(s, NAMESPACE) for s in _STREAM_SOURCES]
        for name in [*names, dead_letter_stream_name(NAMESPACE)]:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
    finally:
        await nc.close()
