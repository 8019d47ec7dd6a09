"""Signing in with the company's OIDC provider: authorization code flow with PKCE.

``/auth/login`` sends the browser to the provider with a fresh state and code challenge,
kept in a short-lived signed cookie (no session store, so any replica can take the
callback); ``/auth/callback`` checks the state, exchanges the code for the tokens, checks
the ID token names a person of the directory, and hands it to the app in the URL fragment,
which never reaches a server log. The services verify the same token against the
provider's keys.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from salesops.oidc import OidcError, OidcVerifier, discover
from salesops.problems import DomainError, NotFound, problem
from services.console.settings import ConsoleSettings

router = APIRouter(prefix="/auth", tags=["sign-in"])
_COOKIE = "salesops_signin"
_COOKIE_LIFETIME = timedelta(minutes=10)


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    if settings.oidc() is None:
        raise NotFound("no OIDC provider is configured (SALESOPS_OIDC_ISSUER)")
    return settings


def _callback_url(request: Request, settings: ConsoleSettings) -> str:
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/auth/callback"


def _local_path(next_page: str | None) -> str:
    # Only a path of this console: an open redirect would hand the token to anyone.
    if not next_page or not next_page.startswith("/") or next_page.startswith("//"):
        return "/"
    return next_page


@router.get("/login", summary="Sign in with the company's identity provider")
async def login(request: Request, next: str | None = None) -> RedirectResponse:
    settings = _settings(request)
    config = settings.oidc()
    assert config is not None
    provider = await discover(config.issuer, request.app.state.forwarder.client)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(24)
    now = request.app.state.tokens.clock.now()
    cookie = jwt.encode(
        {
            "state": state,
            "verifier": verifier,
            "next": _local_path(next),
            "exp": now + _COOKIE_LIFETIME,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.audience,
            "redirect_uri": _callback_url(request, settings),
            "scope": "openid profile email",
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{provider['authorization_endpoint']}?{query}", status_code=302)
    response.set_cookie(
        _COOKIE,
        cookie,
        max_age=int(_COOKIE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/auth",
    )
    return response


@router.get("/callback", summary="Where the identity provider sends the browser back")
async def callback(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    settings = _settings(request)
    config = settings.oidc()
    assert config is not None
    if error or not code:
        raise DomainError(f"the identity provider refused the sign-in: {error}", field="code")
    try:
        saved = jwt.decode(
            request.cookies.get(_COOKIE, ""),
            settings.jwt_secret,
            algorithms=["HS256"],
            options={"verify_exp": False},
        )
    except jwt.InvalidTokenError:
        raise DomainError(
            "the sign-in expired or began elsewhere: start again", field="state"
        ) from None
    now = request.app.state.tokens.clock.now()
    if saved.get("state") != state or int(saved.get("exp", 0)) <= now.timestamp():
        raise DomainError("the sign-in expired or began elsewhere: start again", field="state")
    client = request.app.state.forwarder.client
    provider = await discover(config.issuer, client)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _callback_url(request, settings),
        "client_id": config.audience,
        "code_verifier": saved["verifier"],
    }
    if settings.oidc_client_secret:
        form["client_secret"] = settings.oidc_client_secret
    answer = await client.post(provider["token_endpoint"], data=form)
    if answer.status_code != 200:
        return problem(
            502,
            "sign-in-failed",
            "The identity provider did not issue a token",
            f"token endpoint answered HTTP {answer.status_code}",
            instance=request.url.path,
        )
    id_token = answer.json().get("id_token", "")
    oidc: OidcVerifier = request.app.state.oidc
    try:
        await oidc.person_id(id_token)
    except OidcError as exc:
        return problem(
            403, "forbidden", "You cannot sign in here", str(exc), instance=request.url.path
        )
    response = RedirectResponse(f"{saved['next']}#token={id_token}", status_code=302)
    response.delete_cookie(_COOKIE, path="/auth")
    return response
