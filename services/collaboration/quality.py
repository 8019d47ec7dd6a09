"""Collaboration quality: ratings, department alerts and repeated document requests.

Pure rules, no I/O, no clock reads. Sales rate every finished ticket; the rating counts
once for each department that owned a stage of it. A department's run of low ratings
(how many, how low: :class:`~salesops.policy.QualityAlert`) yields an improvement list
for its head. Repeated requests per document type show which documents belong in a
self-service library.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from salesops.policy import QualityAlert, format_duration
from salesops.problems import DomainError

STARS: Final = range(1, 6)
MAX_COMMENT_CHARS: Final = 500
_CENT: Final = Decimal("0.01")
_HUNDRED: Final = Decimal(100)


@dataclass(frozen=True)
class StageRecord:
    """One stage of a rated ticket, as finished (``overdue_by`` is zero when on time)."""

    stage: str
    owner_id: str
    due_at: datetime | None
    finished_at: datetime | None
    overdue_by: timedelta


@dataclass(frozen=True)
class RatedTicket:
    """What a department's alert needs to know of one rated ticket."""

    ticket_id: str
    stars: int
    comment: str | None
    rated_at: datetime
    #: Only the ticket's stages owned by this department.
    stages: tuple[StageRecord, ...]


@dataclass(frozen=True)
class DepartmentRun:
    """A department's current run of low ratings, oldest first."""

    team_id: str
    low_run: tuple[RatedTicket, ...] = ()


@dataclass(frozen=True)
class ImprovementList:
    """The alert sent to a department's head: the low-rated tickets and what went wrong."""

    team_id: str
    tickets: tuple[RatedTicket, ...]
    items: tuple[str, ...]


def validate_rating(stars: int, comment: str | None) -> None:
    """Refuse anything but 1-5 whole stars and a comment of at most 500 characters."""
    # bool is an int to Python but not a rating; 3.0 or "3" is not a whole star count.
    if isinstance(stars, bool) or not isinstance(stars, int) or stars not in STARS:
        raise DomainError(f"stars must be a whole number from 1 to 5, got {stars!r}", field="stars")
    if comment is not None and not isinstance(comment, str):
        raise DomainError("comment must be text", field="comment")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise DomainError(
            f"comment may be at most {MAX_COMMENT_CHARS} characters, got {len(comment)}",
            field="comment",
        )


def rated_by_department(
    ticket_id: str,
    stars: int,
    comment: str | None,
    rated_at: datetime,
    stages: Iterable[tuple[str, StageRecord]],
) -> dict[str, RatedTicket]:
    """One rating per department (team id) that owned a stage of the ticket, in stage order.

    ``stages`` pairs each stage with its owning team; a team owning two stages of the
    ticket still gets the rating once, with both stages.
    """
    validate_rating(stars, comment)
    by_team: dict[str, list[StageRecord]] = {}
    for team_id, stage in stages:
        by_team.setdefault(team_id, []).append(stage)
    return {
        team_id: RatedTicket(ticket_id, stars, comment, rated_at, tuple(owned))
        for team_id, owned in by_team.items()
    }


def _is_low(stars: int, policy: QualityAlert) -> bool:
    # Asked of the policy, so "below" keeps the one boundary the policy defines.
    return policy.is_raised_by([stars] * policy.consecutive_ratings)


def record_rating(
    run: DepartmentRun, ticket: RatedTicket, policy: QualityAlert
) -> tuple[DepartmentRun, ImprovementList | None]:
    """Add a rating to the department's run; a full run of low ratings raises one alert.

    A rating that is not low breaks the run. After an alert the run starts empty, so the
    next alert needs a whole new run, not one more low rating.
    """
    validate_rating(ticket.stars, ticket.comment)
    if not _is_low(ticket.stars, policy):
        return DepartmentRun(run.team_id), None
    # Keep only ratings still low under this policy, in case it changed mid-run.
    kept = list(run.low_run)
    while kept and not _is_low(kept[0].stars, policy):
        kept.pop(0)
    low_run = (*kept, ticket)
    if not policy.is_raised_by([rated.stars for rated in low_run]):
        return DepartmentRun(run.team_id, low_run), None
    alert = ImprovementList(run.team_id, low_run, improvement_items(low_run))
    return DepartmentRun(run.team_id), alert


def improvement_items(tickets: Sequence[RatedTicket]) -> tuple[str, ...]:
    """One line per late stage (worst delay first), then one per comment (in rating order)."""
    late = [
        (stage.overdue_by, ticket, stage)
        for ticket in tickets
        for stage in ticket.stages
        if stage.overdue_by > timedelta(0)
    ]
    # Stable sort: equal delays keep the order the ratings came in.
    late.sort(key=lambda entry: entry[0], reverse=True)
    lines = [
        f"{ticket.ticket_id}: {stage.stage} {format_duration(delay)} late "
        f"(owner {stage.owner_id}); rated {ticket.stars}★"
        for delay, ticket, stage in late
    ]
    for ticket in tickets:
        # One line per comment, however the rep broke it up.
        said = " ".join((ticket.comment or "").split())
        if said:
            lines.append(f"{ticket.ticket_id}: rated {ticket.stars}★: '{said}'")
    return tuple(lines)


@dataclass(frozen=True)
class DocumentRequest:
    """Sales asked for a document type for a product on a ticket."""

    ticket_id: str
    document_type: str
    product: str
    requested_at: datetime


@dataclass(frozen=True)
class RepeatLine:
    """How often one document for one product was asked for again within a window."""

    document_type: str
    product: str
    requests: int
    #: Requests after the first: ``requests - 1``.
    repeats: int
    #: Percent of all repeats in the window, 2 places.
    share_of_repeats: Decimal


def repeated_requests(
    requests: Iterable[DocumentRequest],
    *,
    since: datetime,
    until: datetime,
    min_requests: int = 2,
) -> list[RepeatLine]:
    """Requests within ``[since, until)`` per (document type, product), most repeats first.

    Only groups asked for at least ``min_requests`` times are listed. Each share is of all
    repeats in the window, so with ``min_requests`` above 2 the listed shares may add up
    to less than 100.
    """
    if min_requests < 1:
        raise DomainError("min_requests must be at least 1", field="min_requests")
    if until < since:
        raise DomainError("until must not be before since", field="until")
    counts = Counter(
        (request.document_type, request.product)
        for request in requests
        if since <= request.requested_at < until
    )
    all_repeats = sum(count - 1 for count in counts.values())
    lines = [
        RepeatLine(doc, product, count, count - 1, _share(count - 1, all_repeats))
        for (doc, product), count in counts.items()
        if count >= min_requests
    ]
    return sorted(lines, key=lambda line: (-line.repeats, line.document_type, line.product))


def _share(repeats: int, all_repeats: int) -> Decimal:
    if all_repeats == 0:
        return Decimal("0.00")
    return (Decimal(repeats) * _HUNDRED / all_repeats).quantize(_CENT, rounding=ROUND_HALF_UP)


def self_service_candidates(
    lines: Sequence[RepeatLine], *, cover: Decimal = Decimal("70")
) -> list[RepeatLine]:
    """The fewest lines whose shares reach ``cover`` percent of all repeats, largest first.

    If all the lines together fall short, all of them are returned.
    """
    if not Decimal(0) < cover <= _HUNDRED:
        raise DomainError(f"cover must be above 0 and at most 100, got {cover}", field="cover")
    # Largest first is what makes the set the fewest.
    ranked = sorted(lines, key=lambda line: -line.share_of_repeats)
    chosen: list[RepeatLine] = []
    covered = Decimal(0)
    for line in ranked:
        if covered >= cover:
            break
        chosen.append(line)
        covered += line.share_of_repeats
    return chosen
