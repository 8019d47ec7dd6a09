"""Configuration fails fast naming the variable; tokens are checked against the injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.exceptions import HTTPException

from salesops.auth import TokenIssuer, authenticate
from salesops.clock import ManualClock
from salesops.orgdir import OrgDirectory, load_org_directory
from salesops.settings import REPO_ROOT, ConfigurationError, ServiceSettings, load_settings


@pytest.fixture(scope="module")
def directory() -> OrgDirectory:
    return load_org_directory(REPO_ROOT / "deploy" / "org.yaml")


def test_a_missing_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESOPS_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="SALESOPS_DATABASE_URL is not set"):
        load_settings(ServiceSettings)


def test_a_malformed_port_names_the_variable_and_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("SALESOPS_HTTP_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="SALESOPS_HTTP_PORT = 'eighty'"):
        load_settings(ServiceSettings)


def test_a_database_url_that_is_not_postgres_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "mysql://db/x")
    with pytest.raises(ConfigurationError, match=r"SALESOPS_DATABASE_URL .* postgresql://"):
        load_settings(ServiceSettings)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("SALESOPS_ENVIRONMENT", "production")
    monkeypatch.delenv("SALESOPS_JWT_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="SALESOPS_JWT_SECRET"):
        load_settings(ServiceSettings)


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("SALESOPS_NATS_NAMESPACE", "run1.n2")
    settings = load_settings(ServiceSettings)
    assert settings.nats_namespace == "run1.n2"
    assert settings.schema_for("customers") == "customers"


def test_a_token_is_valid_until_it_expires_by_the_injected_clock(directory: OrgDirectory) -> None:
    clock = ManualClock()
    issuer = TokenIssuer("a-secret-of-sufficient-length-32b+", "salesops", clock)
    token = issuer.mint("rep-zhang-wei", ttl=timedelta(hours=12))

    actor = authenticate(issuer, directory, f"Bearer {token}")
    assert actor.id == "rep-zhang-wei"
    assert "sales_rep" in actor.roles

    clock.advance(timedelta(hours=12))
    with pytest.raises(HTTPException, match="expired") as expired:
        authenticate(issuer, directory, f"Bearer {token}")
    assert expired.value.status_code == 401


def test_a_token_signed_with_another_secret_is_refused(directory: OrgDirectory) -> None:
    clock = ManualClock()
    forged = TokenIssuer("somebody-elses-secret-key-32-bytes", "salesops", clock).mint(
        "sd-zhao-guoqiang"
    )
    issuer = TokenIssuer("a-secret-of-sufficient-length-32b+", "salesops", clock)
    with pytest.raises(HTTPException, match="Signature verification failed"):
        authenticate(issuer, directory, f"Bearer {forged}")
