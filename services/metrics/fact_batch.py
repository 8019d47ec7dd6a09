"""Changes merged in memory, row by row, before they are written.

The live consumer merges a fetched batch of events into a :class:`FactBatch` and upserts
each touched row once; a rebuild merges the whole history into one and copies it into
fresh tables. Both merge exactly as the columns declare (``facts.Merge``), so the two end
with the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from services.metrics.facts import Change, FactTable


def merge_value(merge: str, old: Any, new: Any) -> Any:
    """One column's merge; ``None`` is "no value yet" for max, min and add."""
    if merge == "set":
        return new
    if old is None:
        return new
    if new is None:
        return old
    if merge == "max":
        return new if new > old else old
    if merge == "min":
        return new if new < old else old
    return old + new  # add


class FactBatch:
    """Rows touched so far, per table: key -> {column: merged value}."""

    def __init__(self) -> None:
        self._rows: dict[FactTable, dict[tuple[object, ...], dict[str, Any]]] = {}
        self._merges: dict[FactTable, dict[str, str]] = {}
        self.changes = 0

    def add(self, change: Change) -> None:
        table = change.table
        rows = self._rows.get(table)
        if rows is None:
            rows = self._rows[table] = {}
            self._merges[table] = {c.name: c.merge for c in table.columns}
        row = rows.get(change.key)
        self.changes += 1
        if row is None:
            rows[change.key] = dict(change.values)
            return
        merges = self._merges[table]
        for name, value in change.values.items():
            if name in row:
                row[name] = merge_value(merges[name], row[name], value)
            else:
                row[name] = value

    def add_all(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.add(change)

    def tables(self) -> Iterator[tuple[FactTable, dict[tuple[object, ...], dict[str, Any]]]]:
        """Each touched table with its rows."""
        yield from self._rows.items()

    def row(self, table: FactTable, key: tuple[object, ...]) -> dict[str, Any] | None:
        """The merged values of one row, or None if no change touched it."""
        return self._rows.get(table, {}).get(key)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())
