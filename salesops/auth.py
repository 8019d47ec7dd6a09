"""Bearer-JWT authentication; the org directory decides who someone is and what they hold.

A token names a person (``sub``). Their roles are read from the org directory on every
request, so a change of role takes effect without waiting for tokens to expire, and a
person removed from the directory is locked out at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from fastapi import Request
from starlette.exceptions import HTTPException

from salesops.clock import Clock, SystemClock
from salesops.oidc import OidcError, OidcVerifier
from salesops.orgdir import OrgDirectory, Role, UnknownPerson

_ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="salesops"'}
#: How many verified tokens a TokenIssuer remembers (a few per person signed in).
_VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class Actor:
    """The signed-in person acting in a request; recorded on every event they cause."""

    id: str
    name: str
    roles: frozenset[str]

    def has_any_role(self, roles: Iterable[Role | str]) -> bool:
        return bool(self.roles & {str(role) for role in roles})


SYSTEM_ACTOR = Actor(id="system", name="Sales Action Engine", roles=frozenset())


class TokenIssuer:
    """Mints and verifies the HS256 tokens of one deployment."""

    def __init__(self, secret: str, issuer: str, clock: Clock | None = None) -> None:
        self._secret = secret
        self._issuer = issuer
        self.clock: Clock = clock or SystemClock()
        # Tokens whose signature and claims were verified: (subject, expiry). A person
        # sends the same token with every request for hours; checking its HMAC and
        # parsing it again each time was a twentieth of a command's CPU.
        self._verified: dict[str, tuple[str, int]] = {}

    def mint(self, person_id: str, *, ttl: timedelta = timedelta(hours=12)) -> str:
        now: datetime = self.clock.now()
        claims = {"sub": person_id, "iss": self._issuer, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def subject_of(self, token: str) -> str:
        """The person id a valid token names; raises ``jwt.InvalidTokenError`` otherwise."""
        verified = self._verified.get(token)
        if verified is None:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                # Expiry is checked against the injected clock below, not PyJWT's wall clock.
                options={
                    "require": ["sub", "exp", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            verified = str(claims["sub"]), int(claims["exp"])
            if len(self._verified) >= _VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]  # the oldest
            self._verified[token] = verified
        subject, expires = verified
        # Every time, cached or not: a token expires while it is being used.
        if expires <= self.clock.now().timestamp():
            raise jwt.ExpiredSignatureError("Signature has expired")
        return subject


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_CHALLENGE)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or a 401 naming what is wrong."""
    if not authorization:
        raise _unauthenticated("Authorization header is missing: send 'Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("Authorization header must be 'Bearer <token>'")
    return token.strip()


def _actor(directory: OrgDirectory, person_id: str) -> Actor:
    try:
        person = directory.person(person_id)
    except UnknownPerson:
        raise _unauthenticated(
            f"token names {person_id!r}, who is not in the org directory"
        ) from None
    return Actor(id=person.id, name=person.name, roles=frozenset(str(r) for r in person.roles))


def authenticate(issuer: TokenIssuer, directory: OrgDirectory, authorization: str | None) -> Actor:
    """The actor behind an ``Authorization`` header, or a 401 naming what is wrong."""
    token = bearer_token(authorization)
    try:
        person_id = issuer.subject_of(token)
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthenticated(f"token is invalid: {exc}") from None
    return _actor(directory, person_id)


def _signed_by_a_provider(token: str) -> bool:
    try:
        return jwt.get_unverified_header(token).get("alg") != _ALGORITHM
    except jwt.InvalidTokenError:
        return False


async def authenticate_with(
    issuer: TokenIssuer,
    oidc: OidcVerifier | None,
    directory: OrgDirectory,
    authorization: str | None,
) -> Actor:
    """Like :func:`authenticate`, also accepting the OIDC provider's tokens when configured."""
    token = bearer_token(authorization)
    if oidc is not None and _signed_by_a_provider(token):
        try:
            return _actor(directory, await oidc.person_id(token))
        except OidcError as exc:
            raise _unauthenticated(str(exc)) from None
    return authenticate(issuer, directory, authorization)


async def current_actor(request: Request) -> Actor:
    """FastAPI dependency: the authenticated actor of this request."""
    runtime = request.app.state.runtime
    actor = await authenticate_with(
        runtime.tokens, runtime.oidc, runtime.directory, request.headers.get("authorization")
    )
    request.state.actor = actor
    return actor
