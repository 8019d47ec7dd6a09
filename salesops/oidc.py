"""Tokens from the company's OIDC provider: verified against its published keys (JWKS).

A deployment that signs people in with an identity provider (Keycloak, Azure AD, Authing,
DingTalk/WeCom SSO bridges...) sets ``SALESOPS_OIDC_ISSUER`` (and the audience, the
console's client id). The issuer's discovery document names its JWKS URL; keys are cached
and fetched again when a token names a key id not seen yet (the provider rotated keys),
at most once every few seconds so forged key ids cannot make us hammer the provider.
The person is the claim ``SALESOPS_OIDC_PERSON_CLAIM`` names: a person id of the org
directory, or, for ``email``, the person with that e-mail address.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from salesops.clock import Clock
from salesops.orgdir import OrgDirectory, UnknownPerson

#: Asymmetric algorithms only: an HS256 token claiming to be the provider's is refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
_REFETCH_AT_MOST_EVERY = 10.0  # seconds
_KEYS_LIVE_FOR = 600.0  # seconds


class OidcError(Exception):
    """The token is not one of the provider's, or names nobody in the directory."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    person_claim: str = "sub"
    jwks_url: str | None = None


async def discover(issuer: str, client: httpx.AsyncClient) -> dict[str, Any]:
    """The provider's OpenID discovery document."""
    response = await client.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


class OidcVerifier:
    """Verifies provider-signed tokens and names the person they are for."""

    def __init__(
        self, config: OidcConfig, directory: OrgDirectory, clock: Clock, client: httpx.AsyncClient
    ) -> None:
        self.config = config
        self._directory = directory
        self._clock = clock
        self._client = client
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _jwks_url(self) -> str:
        if self.config.jwks_url:
            return self.config.jwks_url
        return str((await discover(self.config.issuer, self._client))["jwks_uri"])

    async def _key(self, kid: str | None) -> Any:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > _KEYS_LIVE_FOR
            unknown = kid not in self._keys
            may_refetch = time.monotonic() - self._fetched_at > _REFETCH_AT_MOST_EVERY
            if stale or (unknown and may_refetch):
                response = await self._client.get(await self._jwks_url())
                response.raise_for_status()
                self._keys = {
                    jwk.get("kid"): jwt.PyJWK.from_json(json.dumps(jwk)).key
                    for jwk in response.json().get("keys", [])
                    if jwk.get("use", "sig") == "sig"
                }
                self._fetched_at = time.monotonic()
        if kid not in self._keys:
            raise OidcError(f"the token's key {kid!r} is not one of the provider's")
        return self._keys[kid]

    async def person_id(self, token: str) -> str:
        """The directory person the token is for; raises :class:`OidcError` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            key = await self._key(header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.config.audience,
                issuer=self.config.issuer,
                # Expiry against the injected clock, as for our own tokens.
                options={"require": ["exp", "iss", "aud"], "verify_exp": False},
                leeway=0,
            )
        except jwt.InvalidTokenError as exc:
            raise OidcError(f"token is invalid: {exc}") from None
        except httpx.HTTPError as exc:
            raise OidcError(
                f"the provider's keys cannot be fetched: {type(exc).__name__}"
            ) from None
        if int(claims["exp"]) <= self._clock.now().timestamp():
            raise OidcError("token has expired")
        value = claims.get(self.config.person_claim)
        if not isinstance(value, str) or not value:
            raise OidcError(f"token has no {self.config.person_claim!r} claim")
        return self._person_for(value)

    def _person_for(self, value: str) -> str:
        if self.config.person_claim == "email":
            found = next((p for p in self._directory.people if p.email == value), None)
            if found is None:
                raise OidcError(f"nobody in the org directory has the e-mail {value!r}")
            return found.id
        try:
            return self._directory.person(value).id
        except UnknownPerson:
            raise OidcError(f"token names {value!r}, who is not in the org directory") from None
