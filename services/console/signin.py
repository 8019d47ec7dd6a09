"""Signing in: in development, pick a person of the org directory and get a token.

Production deployments sign people in with their OIDC provider instead; these routes then
do not exist (404), so a development shortcut can never reach a real company.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from salesops.auth import Actor, TokenIssuer, authenticate_with
from salesops.orgdir import OrgDirectory, UnknownPerson
from salesops.policy import Policy
from salesops.problems import DomainError, NotFound
from services.console.settings import ConsoleSettings

router = APIRouter(prefix="/auth", tags=["sign-in"])


class PersonView(BaseModel):
    id: str
    name: str
    roles: list[str]
    org_unit: str


class SignInConfig(BaseModel):
    """What the app needs before anyone signs in: how to sign in, and the policy it shows.

    The screens read the policy's numbers from here instead of repeating them, so a changed
    ``deploy/policy.yaml`` changes the counter, the warning and the hints with it.
    """

    mode: str = Field(description="development (pick a person) or oidc")
    timezone: str = Field(description="The org's time zone; dates and times are shown in it.")
    now: datetime = Field(
        description="The server's clock: countdowns and default times follow it, not the device's."
    )
    support_needed_max_chars: int = Field(
        description="Most characters of a progress report's support-needed text."
    )
    concession_approval_threshold_pct: Decimal = Field(
        description="A quote conceding strictly more than this (percent) waits for the director."
    )
    photo_capture_tolerance_seconds: int = Field(
        description="How far a visit photo's capture time may lie from the scheduled time."
    )
    stale_after_seconds: int = Field(
        description="A customer is stale after strictly more than this without contact."
    )
    morning_meeting: str = Field(
        description="Local time (HH:MM) by which next actions must be updated."
    )
    sla_seconds: dict[str, int] = Field(
        description="Each answer window, e.g. tech_answer, progress_report_answer, in seconds."
    )
    quality_alert_ratings: int = Field(
        description="This many ratings in a row below quality_alert_below_stars alert the head."
    )
    quality_alert_below_stars: int


class UnitView(BaseModel):
    id: str
    name: str
    kind: str
    parent: str | None


class TeamView(BaseModel):
    id: str
    name: str
    kind: str
    members: list[str]
    lead: str | None
    head: str | None
    escalation_chain: list[str]


class StageView(BaseModel):
    id: str
    name_zh: str
    name_en: str


class DirectoryPerson(PersonView):
    manager: str | None


class DirectoryView(BaseModel):
    """Names and structure for the screens; no chat addresses or e-mail."""

    people: list[DirectoryPerson]
    org_units: list[UnitView]
    teams: list[TeamView]
    stages: list[StageView]


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str = Field(min_length=1, max_length=128)


class DevToken(BaseModel):
    token: str
    person: PersonView


def _person_view(directory: OrgDirectory, person_id: str) -> PersonView:
    person = directory.person(person_id)
    return PersonView(
        id=person.id,
        name=person.name,
        roles=[str(r) for r in person.roles],
        org_unit=person.org_unit,
    )


async def _console(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def _development_only(settings: Annotated[ConsoleSettings, Depends(_console)]) -> ConsoleSettings:
    if settings.environment != "development":
        raise NotFound("development sign-in is off in production")
    return settings


@router.get("/config", response_model=SignInConfig)
async def config(request: Request) -> SignInConfig:
    settings: ConsoleSettings = request.app.state.settings
    policy: Policy = request.app.state.policy
    tokens: TokenIssuer = request.app.state.tokens
    thresholds = policy.thresholds
    return SignInConfig(
        mode="development" if settings.environment == "development" else "oidc",
        timezone=policy.timezone.key,
        now=tokens.clock.now(),
        support_needed_max_chars=thresholds.support_needed_max_chars,
        concession_approval_threshold_pct=thresholds.concession_approval_threshold_pct,
        photo_capture_tolerance_seconds=int(thresholds.photo_capture_tolerance.total_seconds()),
        stale_after_seconds=int(thresholds.stale_after.total_seconds()),
        morning_meeting=policy.business_times.morning_meeting.strftime("%H:%M"),
        sla_seconds={
            name: int(getattr(policy.sla, name).total_seconds())
            for name in type(policy.sla).model_fields
        },
        quality_alert_ratings=policy.quality_alert.consecutive_ratings,
        quality_alert_below_stars=policy.quality_alert.below_stars,
    )


@router.get("/people", response_model=list[PersonView], dependencies=[Depends(_development_only)])
async def people(request: Request) -> list[PersonView]:
    directory: OrgDirectory = request.app.state.directory
    return [_person_view(directory, p.id) for p in directory.people]


@router.post("/dev-token", response_model=DevToken, dependencies=[Depends(_development_only)])
async def dev_token(body: DevTokenRequest, request: Request) -> DevToken:
    directory: OrgDirectory = request.app.state.directory
    tokens: TokenIssuer = request.app.state.tokens
    try:
        person = _person_view(directory, body.person_id)
    except UnknownPerson:
        raise DomainError(
            f"{body.person_id!r} is not in the org directory", field="person_id"
        ) from None
    return DevToken(token=tokens.mint(person.id), person=person)


async def _signed_in(request: Request) -> Actor:
    return await authenticate_with(
        request.app.state.tokens,
        request.app.state.oidc,
        request.app.state.directory,
        request.headers.get("authorization"),
    )


@router.get("/me", response_model=PersonView)
async def me(actor: Annotated[Actor, Depends(_signed_in)], request: Request) -> PersonView:
    """Who the presented token names (the services check it the same way)."""
    return _person_view(request.app.state.directory, actor.id)


@router.get("/directory", response_model=DirectoryView)
async def directory(
    actor: Annotated[Actor, Depends(_signed_in)], request: Request
) -> DirectoryView:
    """Names, reporting lines, units and teams, for signed-in people (the screens show names
    instead of ids and know who works in which team)."""
    org: OrgDirectory = request.app.state.directory
    return DirectoryView(
        people=[
            DirectoryPerson(
                id=p.id,
                name=p.name,
                roles=[str(r) for r in p.roles],
                org_unit=p.org_unit,
                manager=p.manager,
            )
            for p in org.people
        ],
        org_units=[
            UnitView(id=u.id, name=u.name, kind=str(u.kind), parent=u.parent) for u in org.org_units
        ],
        teams=[
            TeamView(
                id=t.id,
                name=t.name,
                kind=str(t.kind),
                members=list(t.members),
                lead=t.lead,
                head=t.head,
                escalation_chain=list(t.escalation_chain),
            )
            for t in org.teams
        ],
        stages=[StageView(id=s.id, name_zh=s.name_zh, name_en=s.name_en) for s in org.stages],
    )
