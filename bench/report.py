"""Figures with their goals, and the table printed at the end of a run.

Every section lists its headline figures under ``"figures"``: the value, the goal it is
held against (if any), whether it was met, and which raw limit of this machine (measured
in the same run by the ``limits`` section) it should be read beside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: The raw limits, as the ``limits`` section reports them: key -> (figure name, unit).
LIMITS = {
    "transactions": ("raw asyncpg one-row transactions", "tx/s"),
    "copy": ("raw COPY", "rows/s"),
    "publish": ("raw JetStream async publishes", "msgs/s"),
}


def figure(
    name: str,
    value: float | None,
    unit: str,
    *,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    equals: float | None = None,
    limit: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """One reported figure; ``goal_met`` is None when it has no goal (or no value).

    ``key`` names a figure other figures refer to as their ``limit`` (see ``LIMITS``).
    """
    goal = None
    met: bool | None = None
    if at_least is not None:
        goal, ok = f">= {at_least:,g}", (value is not None and value >= at_least)
    elif below is not None:
        goal, ok = f"< {below:,g}", (value is not None and value < below)
    elif at_most is not None:
        goal, ok = f"<= {at_most:,g}", (value is not None and value <= at_most)
    elif equals is not None:
        goal, ok = f"= {equals:,g}", (value is not None and value == equals)
    if goal is not None:
        met = bool(ok)
    return {
        "figure": name,
        "value": value,
        "unit": unit,
        "goal": goal,
        "goal_met": met,
        "limit": limit,
        **({"key": key} if key else {}),
    }


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def limit_values(report: dict[str, Any]) -> dict[str, str]:
    """The limits measured in this run, formatted for the table's limit column."""
    found: dict[str, str] = {}
    for row in report.get("limits", {}).get("figures", []):
        key = row.get("key")
        if key in LIMITS:
            found[key] = f"{_number(row['value'])} {row['unit']}"
    return found


def rows(report: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every figure of every section, in the report's order."""
    for section, body in report.items():
        if isinstance(body, dict) and isinstance(body.get("figures"), list):
            for row in body["figures"]:
                yield section, row


def table(report: dict[str, Any]) -> str:
    """The figures as a plain-text table: section, figure, value, goal, met, limit, load."""
    limits = limit_values(report)
    lines = [("section", "figure", "value", "goal", "met", "limit beside it", "load")]
    for section, row in rows(report):
        met = {True: "yes", False: "NO", None: ""}[row["goal_met"]]
        key = row.get("limit")
        limit = f"{LIMITS[key][0]}: {limits.get(key, '-')}" if key in LIMITS else ""
        load = report[section].get("load_average", {}).get("start")
        lines.append(
            (
                section,
                row["figure"],
                f"{_number(row['value'])} {row['unit']}",
                row["goal"] or "",
                met,
                limit,
                f"{load[0]:.1f}" if load else "",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def goals(report: dict[str, Any]) -> dict[str, int]:
    """How many figures with a goal met it, and how many did not."""
    met = sum(1 for _, row in rows(report) if row["goal_met"] is True)
    missed = sum(1 for _, row in rows(report) if row["goal_met"] is False)
    return {"met": met, "missed": missed}
