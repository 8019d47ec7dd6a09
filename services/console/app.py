"""The console app: the single-page app, sign-in, and the calls it forwards to the services."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from salesops.auth import TokenIssuer
from salesops.clock import Clock, SystemClock
from salesops.oidc import OidcVerifier
from salesops.orgdir import load_org_directory
from salesops.policy import load_policy
from salesops.problems import install_problem_handlers
from salesops.web import asset_response, page_response
from services.console import oidc_signin, signin
from services.console.proxy import Forwarder
from services.console.settings import ConsoleSettings

STATIC = Path(__file__).resolve().parent / "static"


def create_console_app(settings: ConsoleSettings, *, clock: Clock | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.console_upstream_timeout, connect=5.0, read=None)
        # Idle connections to the services are dropped before the services drop them
        # (uvicorn after 5 s): reusing one the server is just closing fails the call.
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            timeout=timeout, limits=limits, follow_redirects=False
        ) as client:
            app.state.forwarder = Forwarder(settings.console_upstreams, client)
            config = settings.oidc()
            app.state.oidc = (
                None
                if config is None
                else OidcVerifier(config, app.state.directory, app.state.tokens.clock, client)
            )
            yield

    app = FastAPI(title="Sales Action Engine — console", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.directory = load_org_directory(settings.org_file)
    app.state.policy = load_policy(settings.policy_file)
    app.state.tokens = TokenIssuer(settings.jwt_secret, settings.jwt_issuer, clock or SystemClock())
    install_problem_handlers(app)
    app.include_router(signin.router)
    app.include_router(oidc_signin.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        # Ready whatever the services say: the app, sign-in and every service that does
        # answer keep working while one is down (its calls get a clean 502), so one sick
        # service must not take the whole console out of the load balancer. Which ones do
        # not answer is reported for people and probes that care.
        forwarder: Forwarder = request.app.state.forwarder
        unreachable = {}
        for name, base in forwarder.upstreams.items():
            try:
                answer = await forwarder.client.get(f"{base}/healthz", timeout=2)
                if answer.status_code != 200:
                    unreachable[name] = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                unreachable[name] = type(exc).__name__
        return JSONResponse({"status": "ready", "unreachable": unreachable})

    @app.api_route(
        "/api/{service}/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def forward(service: str, path: str, request: Request) -> Response:
        forwarder: Forwarder = request.app.state.forwarder
        return await forwarder.forward(service, path, request)

    @app.get("/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        # The app's own files, and the ones it shares with the dashboard (``common-*``).
        return asset_response(STATIC, name)

    @app.get("/{page:path}", include_in_schema=False)
    async def spa(page: str) -> FileResponse:
        # Every other path is a screen of the app (links in chat messages point at them).
        return page_response(STATIC)

    return app
