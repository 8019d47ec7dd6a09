"""Reads shared by the requests of a short while: the figures' sums computed once a second.

A figure's sums are the same for every node of the org tree (the sums are per rep; a node
adds up its people's), and many people open the dashboard at once. So a computation is
kept for ``max_age`` seconds and requests in that time share it, also while it is still
running (one query, however many ask at once). A figure can then be up to ``max_age``
behind the read model; the change feed tells the pages of a change ``max_age`` after it,
so the page's refetch never gets a result computed before the change (see
:class:`services.metrics.changes.ChangeFeed`). ``max_age`` 0 turns sharing off.

Ages are measured on the monotonic clock, not the business clock: what a computation
depends on in business time (its window, its ``as_of``) is part of its key.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: Entries kept at most (the oldest go first): keys differ by node, period and measure.
CAPACITY = 2048


@dataclass
class _Entry:
    at: float
    result: asyncio.Future[Any]


class SharedReads:
    """Computations by key, each reused for ``max_age`` seconds after it started."""

    def __init__(self, max_age: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if max_age < 0:
            raise ValueError("max_age must not be negative")
        self.max_age = max_age
        self._monotonic = monotonic
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.computed = 0
        self.shared = 0

    def instant(self, at: datetime) -> datetime:
        """``at`` as a computation's key takes it: to the whole second when sharing, so that
        requests within the same second share one snapshot (at most ``max_age`` old)."""
        return at.replace(microsecond=0) if self.max_age > 0 else at

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The result of ``compute()`` for ``key``: shared if one started under ``max_age``
        seconds ago (or is still running), else computed now. A failure is not kept."""
        if self.max_age == 0:
            self.computed += 1
            return await compute()
        now = self._monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry.at < self.max_age:
            self.shared += 1
            self._entries.move_to_end(key)
            return cast(T, await asyncio.shield(entry.result))
        task = asyncio.ensure_future(compute())
        entry = _Entry(now, task)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self.computed += 1
        self._evict(now)

        def forget_failure(done: asyncio.Future[Any], mine: _Entry = entry) -> None:
            if (done.cancelled() or done.exception() is not None) and self._entries.get(
                key
            ) is mine:
                del self._entries[key]

        task.add_done_callback(forget_failure)
        return cast(T, await asyncio.shield(task))

    def _evict(self, now: float) -> None:
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            expired = now - oldest.at >= self.max_age and oldest.result.done()
            if not expired and len(self._entries) <= CAPACITY:
                return
            del self._entries[oldest_key]

    def __len__(self) -> int:
        return len(self._entries)
