"""Signing in with the company's OIDC provider: the console's code flow, the services' check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from salesops import oidc
from salesops.clock import ManualClock
from salesops.oidc import OidcConfig, OidcError, OidcVerifier
from salesops.orgdir import load_org_directory
from salesops.settings import REPO_ROOT
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.oidc_provider import FakeOidcProvider
from salesops.testing.served import serving
from services.console.app import create_console_app
from services.console.settings import ConsoleSettings
from services.customers.service import CUSTOMERS

pytestmark = pytest.mark.integration


@pytest.fixture
async def provider(clock: ManualClock) -> AsyncIterator[FakeOidcProvider]:
    fake = FakeOidcProvider(clock)
    async with serving(fake.app()) as base_url:
        fake.issuer = base_url
        yield fake


@pytest.fixture
async def customers_with_oidc(
    provider: FakeOidcProvider,
    start_service: ServiceStarter,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[RunningService]:
    monkeypatch.setenv("SALESOPS_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("SALESOPS_OIDC_AUDIENCE", provider.client_id)
    async with start_service(CUSTOMERS, on_port=True) as service:
        yield service


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_service_takes_the_provider_s_tokens_and_refuses_forgeries(
    customers_with_oidc: RunningService, provider: FakeOidcProvider, clock: ManualClock
) -> None:
    client = customers_with_oidc.client
    good = await client.get("/customers", headers=bearer(provider.mint("rep-zhang-wei")))
    assert good.status_code == 200, good.text

    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refusals = {
        "signed with another key": provider.mint("rep-zhang-wei", key=forger),
        "for another client": provider.mint("rep-zhang-wei", aud="someone-else"),
        "from another issuer": provider.mint("rep-zhang-wei", iss="https://evil.example"),
        "for a stranger": provider.mint("nobody-here"),
    }
    for why, token in refusals.items():
        response = await client.get("/customers", headers=bearer(token))
        assert response.status_code == 401, why
        assert response.headers["www-authenticate"].startswith("Bearer"), why

    late = provider.mint("rep-zhang-wei")
    clock.advance(timedelta(hours=1))
    expired = await client.get("/customers", headers=bearer(late))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    # The deployment's own tokens keep working beside the provider's.
    own = await client.get("/customers", headers=customers_with_oidc.auth("rep-zhang-wei"))
    assert own.status_code == 200


async def test_the_console_signs_a_person_in_through_the_provider(
    customers_with_oidc: RunningService, provider: FakeOidcProvider
) -> None:
    assert customers_with_oidc.base_url is not None
    settings = ConsoleSettings(
        console_upstreams={"customers": customers_with_oidc.base_url},
        oidc_issuer=provider.issuer,
        oidc_audience=provider.client_id,
    )
    app = create_console_app(settings, clock=customers_with_oidc.clock)
    provider.next_login = "gl-li-na"
    async with (
        app.router.lifespan_context(app),
        serving(app) as console_url,
        httpx.AsyncClient(base_url=console_url, timeout=10) as browser,
    ):
        to_provider = await browser.get("/auth/login", params={"next": "/tickets/tkt-9"})
        assert to_provider.status_code == 302
        assert to_provider.headers["location"].startswith(f"{provider.issuer}/authorize?")
        back = await browser.get(to_provider.headers["location"])
        assert back.status_code == 302
        assert back.headers["location"].startswith(f"{console_url}/auth/callback?")
        signed_in = await browser.get(back.headers["location"])
        assert signed_in.status_code == 302, signed_in.text
        page, _, fragment = signed_in.headers["location"].partition("#")
        assert page == "/tickets/tkt-9"
        token = parse_qs(fragment)["token"][0]

        me = await browser.get("/auth/me", headers=bearer(token))
        assert me.json()["id"] == "gl-li-na"
        listed = await browser.get("/api/customers/customers", headers=bearer(token))
        assert listed.status_code == 200, listed.text


async def test_a_callback_that_did_not_start_here_is_refused(
    customers_with_oidc: RunningService, provider: FakeOidcProvider
) -> None:
    settings = ConsoleSettings(oidc_issuer=provider.issuer, oidc_audience=provider.client_id)
    app = create_console_app(settings)
    async with (
        app.router.lifespan_context(app),
        serving(app) as console_url,
        httpx.AsyncClient(base_url=console_url, timeout=10) as browser,
    ):
        to_provider = await browser.get("/auth/login", params={"next": "https://evil.example/"})
        state = parse_qs(urlsplit(to_provider.headers["location"]).query)["state"][0]
        browser.cookies.clear()
        forged = await browser.get("/auth/callback", params={"code": "x", "state": state})
        assert forged.status_code == 422
        assert forged.json()["errors"][0]["field"] == "state"


async def test_a_jwks_url_is_used_as_given_and_a_rotated_key_is_fetched(
    provider: FakeOidcProvider, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SALESOPS_OIDC_JWKS_URL: the issuer the tokens name serves no discovery document (it
    # does not even resolve); the keys come from the URL given.
    served = provider.issuer
    provider.issuer = "https://idp.hengyuan.example"
    config = OidcConfig(
        issuer=provider.issuer, audience=provider.client_id, jwks_url=f"{served}/jwks"
    )
    directory = load_org_directory(REPO_ROOT / "deploy" / "org.yaml")
    verifier = OidcVerifier(config, directory, clock, httpx.AsyncClient(timeout=5))
    try:
        assert await verifier.person_id(provider.mint("gl-li-na")) == "gl-li-na"
        before_rotation = provider.mint("gl-li-na")

        provider.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        provider.kid = "key-2"
        # No waiting out the refetch guard (which stops forged key ids hammering the provider).
        monkeypatch.setattr(oidc, "_REFETCH_AT_MOST_EVERY", 0.0)
        assert await verifier.person_id(provider.mint("gl-li-na")) == "gl-li-na"
        # The provider no longer publishes the old key: its tokens are refused.
        with pytest.raises(OidcError, match="key-1"):
            await verifier.person_id(before_rotation)
    finally:
        await verifier.aclose()
