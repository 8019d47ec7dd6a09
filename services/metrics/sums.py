"""Running the ratio measures: sums per period, rep and segment, and the records behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from salesops.db import DbExecutor, quote_ident
from services.metrics.measures import DIMENSION_SQL, Dimension, Measure
from services.metrics.periods import Period

#: (rep_id, segment) -> (numerator, denominator); the segment is None without a dimension.
RepSums = dict[tuple[str | None, str | None], tuple[Decimal, Decimal]]


@dataclass(frozen=True)
class Window:
    """A period as the instants it covers in the org's zone, up to ``until`` at the latest."""

    period: Period
    starts: datetime
    ends: datetime

    @classmethod
    def of(cls, period: Period, tz: tzinfo) -> Window:
        return cls(period, period.start(tz), period.end(tz))


@lru_cache(maxsize=256)
def _sums_sql(rm: str, measure: Measure, dimension: Dimension | None) -> str:
    segment = "NULL::text" if dimension is None else DIMENSION_SQL[dimension]
    source = measure.source.format(rm=quote_ident(rm))
    return (
        f"SELECT p.label, r.rep_id, {segment.format(rm=quote_ident(rm))} AS segment,"
        " sum(r.num) AS num, sum(r.den) AS den"
        " FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS p(label, starts, ends)"
        f" JOIN ({source}) r ON r.at >= p.starts AND r.at < p.ends"
        " GROUP BY 1, 2, 3"
    )


async def sums(
    db: DbExecutor,
    rm: str,
    measure: Measure,
    windows: Sequence[Window],
    dimension: Dimension | None = None,
) -> dict[str, RepSums]:
    """Per period label: the measure's sums per rep (and segment of ``dimension``)."""
    rows = await db.fetch(
        _sums_sql(rm, measure, dimension),
        [w.period.label for w in windows],
        [w.starts for w in windows],
        [w.ends for w in windows],
    )
    found: dict[str, RepSums] = {w.period.label: {} for w in windows}
    for row in rows:
        found[row["label"]][(row["rep_id"], row["segment"])] = (row["num"], row["den"])
    return found


@lru_cache(maxsize=256)
def _records_sql(rm: str, measure: Measure, dimension: Dimension | None) -> str:
    segment = "NULL::text" if dimension is None else DIMENSION_SQL[dimension]
    source = measure.source.format(rm=quote_ident(rm))
    return (
        f"SELECT * FROM (SELECT r.*, {segment.format(rm=quote_ident(rm))} AS segment"
        f" FROM ({source}) r WHERE r.at >= $1 AND r.at < $2 AND r.rep_id = ANY($3::text[])) s"
        " WHERE $4::text IS NULL OR s.segment = $4"
        " ORDER BY s.at DESC, s.record_id LIMIT $5 OFFSET $6"
    )


async def records(
    db: DbExecutor,
    rm: str,
    measure: Measure,
    window: Window,
    people: Sequence[str],
    *,
    dimension: Dimension | None = None,
    segment: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The records behind a figure (or one segment of it), newest first."""
    rows = await db.fetch(
        _records_sql(rm, measure, dimension),
        window.starts,
        window.ends,
        list(people),
        segment,
        limit,
        offset,
    )
    return [dict(row) for row in rows]
