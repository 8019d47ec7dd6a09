"""The figures of the action-certainty indicators for nodes and periods, from the live facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import asyncpg

from salesops.clock import Clock
from salesops.orgdir import OrgDirectory
from salesops.policy import Policy
from services.metrics import penetration
from services.metrics.figures import Figure, by_person, make_figure, ratio_of
from services.metrics.generations import ReadModel
from services.metrics.indicators import Ratio
from services.metrics.measures import RATIO_MEASURES, Measure
from services.metrics.nodes import Node, children, people_of
from services.metrics.periods import Period, PeriodKind
from services.metrics.shared_reads import SharedReads
from services.metrics.sums import Window, sums

PENETRATION = "penetration"
PENETRATION_TITLES = ("target penetration rate", "目标穿透率")
INDICATORS = (PENETRATION, "trace", "on_time")


def known_measures() -> list[str]:
    return [PENETRATION, *RATIO_MEASURES]


def measure_of(name: str) -> Measure:
    return RATIO_MEASURES[name]


@dataclass(frozen=True)
class Scope:
    """A figure's period as the queries see it, with the instant its snapshot is taken at."""

    window: Window
    as_of: datetime


class MetricsQueries:
    """Reads the live generation of the facts and turns sums into figures."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        read_model: ReadModel,
        directory: OrgDirectory,
        policy: Policy,
        clock: Clock,
        shared: SharedReads | None = None,
    ) -> None:
        self.pool = pool
        self.read_model = read_model
        self.directory = directory
        self.policy = policy
        self.clock = clock
        #: The node-independent sums and snapshots, shared by the requests of a second.
        self.shared = shared if shared is not None else SharedReads(0)

    async def live_schema(self) -> str:
        return await self.read_model.active_schema(self.pool)

    def scope(self, period: Period) -> Scope:
        """The period's instants; snapshots are taken at its end, or now if it is running."""
        window = Window.of(period, self.policy.timezone)
        return Scope(window, min(window.ends, self.shared.instant(self.clock.now())))

    def recent(self, kind: PeriodKind, count: int, until: Period | None = None) -> list[Period]:
        """The last ``count`` periods of ``kind`` up to ``until`` (default: the current one)."""
        last = until or Period.containing(kind, self.clock.now(), self.policy.timezone)
        periods = [last]
        while len(periods) < count:
            periods.append(periods[-1].previous())
        return periods[::-1]

    async def figures(
        self, measure: str, nodes: Sequence[Node], periods: Sequence[Period]
    ) -> dict[tuple[str, str], Figure]:
        """(node id, period label) -> the figure, for every node and period asked."""
        rm = await self.live_schema()
        if measure == PENETRATION:
            return await self._penetration(rm, nodes, periods)
        definition = measure_of(measure)
        windows = [Window.of(p, self.policy.timezone) for p in periods]
        key = (
            "sums",
            rm,
            definition.name,
            tuple((w.period.label, w.starts, w.ends) for w in windows),
        )
        found = await self.shared.get(key, lambda: sums(self.pool, rm, definition, windows))
        figures = {}
        for period in periods:
            per_person = by_person(found[period.label])
            for target in nodes:
                figures[(target.id, period.label)] = make_figure(
                    measure=definition.name,
                    titles=(definition.title_en, definition.title_zh),
                    node_id=target.id,
                    period=period.label,
                    ratio=ratio_of(self.directory, target, per_person),
                    shape=definition.shape,
                    indicator=definition.indicator,
                    thresholds=self.policy.health,
                )
        return figures

    async def _penetration(
        self, rm: str, nodes: Sequence[Node], periods: Sequence[Period]
    ) -> dict[tuple[str, str], Figure]:
        labels = sorted({label for p in periods for label in penetration.target_period_labels(p)})
        books = await self.shared.get(
            ("books", rm, tuple(labels)), lambda: penetration.target_books(self.pool, rm, labels)
        )
        figures = {}
        for period in periods:
            as_of = self.scope(period).as_of
            covered = await self.shared.get(
                ("coverage", rm, as_of), partial(penetration.coverage_at, self.pool, rm, as_of)
            )
            coverage = {owner: amount for (owner, _), amount in covered.items()}
            for target in nodes:
                ratio = penetration.penetration_of(
                    target, people_of(self.directory, target), coverage, books, period
                )
                figures[(target.id, period.label)] = make_figure(
                    measure=PENETRATION,
                    titles=PENETRATION_TITLES,
                    node_id=target.id,
                    period=period.label,
                    ratio=ratio,
                    indicator="penetration",
                    thresholds=self.policy.health,
                )
        return figures

    def per_record_figure(
        self, measure: str, titles: tuple[str, str], target: Node, period: Period, ratio: Ratio
    ) -> Figure:
        return make_figure(
            measure=measure,
            titles=titles,
            node_id=target.id,
            period=period.label,
            ratio=ratio,
            shape="per_record",
            thresholds=self.policy.health,
        )

    async def indicators(self, target: Node, period: Period) -> list[Figure]:
        """The three action-certainty indicators of one node."""
        return [
            (await self.figures(name, [target], [period]))[(target.id, period.label)]
            for name in INDICATORS
        ]

    async def drill_down(self, target: Node, period: Period, measure: str) -> list[Figure]:
        """The node's figure and each child's, node first."""
        nodes = [target, *children(self.directory, target)]
        found = await self.figures(measure, nodes, [period])
        return [found[(n.id, period.label)] for n in nodes]

    async def trend(self, target: Node, measure: str, periods: Sequence[Period]) -> list[Figure]:
        found = await self.figures(measure, [target], periods)
        return [found[(target.id, p.label)] for p in periods]
