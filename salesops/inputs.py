"""Request values the services could not store or compute with, refused where they enter.

PostgreSQL's ``text`` and ``jsonb`` cannot hold the NUL character (U+0000): an id, name
or note carrying one would travel to the database and fail there as a server error.
Python's dates run from year 1 to 9999, so an instant near either end overflows as soon
as it is moved to another time zone or a tolerance is added to it. Both are refused as a
422 problem naming the field, before any handler runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime
from starlette.datastructures import UploadFile

#: The instants and days a request may name, half-open. Sales work needs no date before
#: 1900 or after 2999, and every one in between survives the arithmetic the services do
#: (time zones, tolerances, period ends) inside Python's and PostgreSQL's ranges.
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(3000, 1, 1, tzinfo=UTC)
#: Paging past a million records is no use to anyone; a bigger number would overflow
#: PostgreSQL's bigint on its way to OFFSET.
MAX_OFFSET: Final = 1_000_000

_NUL = "\x00"
_NUL_REASON = "must not contain the NUL character (U+0000)"


def _instant_in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must lie from {EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d} (UTC)")
    return value


def _day_in_range(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must lie from {EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
"""An instant with an explicit offset, between :data:`EARLIEST` and :data:`LATEST`."""

Day = Annotated[date, AfterValidator(_day_in_range)]
"""A calendar day between :data:`EARLIEST` and :data:`LATEST`."""


def day_in_range(value: date) -> bool:
    """Whether ``value`` is a day a request may name (for labels parsed by hand)."""
    return EARLIEST.date() <= value < LATEST.date()


async def refuse_unstorable_text(request: Request) -> None:
    """FastAPI dependency: a 422 naming every path, query or body value holding a NUL."""
    errors = [
        _nul_error(("path", name))
        for name, value in request.path_params.items()
        if isinstance(value, str) and _NUL in value
    ]
    errors += [
        _nul_error(("query", name))
        for name, value in request.query_params.multi_items()
        if _NUL in name or _NUL in value
    ]
    route = request.scope.get("route")
    # Only a body the operation reads: FastAPI has parsed it already, so this costs no I/O.
    if isinstance(route, APIRoute) and route.body_field is not None:
        errors += [_nul_error(("body", *where)) async for where in _nuls_in_body(request)]
    if errors:
        raise RequestValidationError(errors)


def _nul_error(location: tuple[Any, ...]) -> dict[str, Any]:
    return {"type": "string_nul", "loc": location, "msg": _NUL_REASON, "input": None}


async def _nuls_in_body(request: Request) -> AsyncIterator[tuple[Any, ...]]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in (await request.form()).multi_items():
            text = value.filename or "" if isinstance(value, UploadFile) else value
            if _NUL in name or _NUL in text:
                yield (name,)
        return
    body = await request.body()
    # JSON can only write a NUL as the escape \u0000; without one there is nothing to find.
    if b"\\u0000" not in body:
        return
    try:
        document = json.loads(body)
    except ValueError:  # not JSON after all: the operation's own parsing answers that
        return
    for where in _nuls_in_json(document, ()):
        yield where


def _nuls_in_json(value: Any, where: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        if _NUL in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if _NUL in key:
                yield (*where, key)
            else:
                yield from _nuls_in_json(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nuls_in_json(item, (*where, index))
