"""Signing in: in development, pick a person of the org directory and get a token.

Production deployments sign people in with their OIDC provider instead; these routes then
do not exist (404), so a development shortcut can never reach a real company.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from salesops.auth import TokenIssuer, authenticate_with
from salesops.orgdir import OrgDirectory, UnknownPerson
from salesops.problems import DomainError, NotFound
from services.console.settings import ConsoleSettings

router = APIRouter(prefix="/auth", tags=["sign-in"])


class PersonView(BaseModel):
    id: str
    name: str
    roles: list[str]
    org_unit: str


class SignInConfig(BaseModel):
    mode: str = Field(description="development (pick a person) or oidc")
    timezone: str = Field(description="The org's time zone; dates and times are shown in it.")


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
    return SignInConfig(
        mode="development" if settings.environment == "development" else "oidc",
        timezone=request.app.state.policy.timezone.key,
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


@router.get("/me", response_model=PersonView)
async def me(request: Request) -> PersonView:
    """Who the presented token names (the services check it the same way)."""
    actor = await authenticate_with(
        request.app.state.tokens,
        request.app.state.oidc,
        request.app.state.directory,
        request.headers.get("authorization"),
    )
    return _person_view(request.app.state.directory, actor.id)
