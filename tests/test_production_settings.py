"""Production refuses the development JWT secret, at every entry point.

``salesops serve``, ``salesops console``, ``salesops metrics rebuild`` and
``salesops token`` all read their settings through ``load_settings``, which refuses
``SALESOPS_ENVIRONMENT=production`` with the development secret (set or defaulted): each
exits with status 2 and names the variable before it opens a port, a connection or mints
a token. The same commands with a real secret get past the check. A refusal never repeats
a secret it was given.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from salesops import cli
from salesops.settings import (
    DEV_JWT_SECRET,
    REPO_ROOT,
    ConfigurationError,
    ServiceSettings,
    load_settings,
)

REAL_SECRET = "a-real-secret-from-the-vault-0123456789abcdef"
COMMANDS = {
    "serve": ["serve", "customers"],
    "console": ["console"],
    "metrics rebuild": ["metrics", "rebuild"],
    "token": ["token", "--user", "rep-zhang-wei"],
}


class Started(Exception):
    """The command got past its settings and was about to serve or connect."""


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A production environment with a database, and nothing that would really start."""
    monkeypatch.setenv("SALESOPS_ENVIRONMENT", "production")
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://salesops@127.0.0.1:1/salesops")
    monkeypatch.delenv("SALESOPS_JWT_SECRET", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)

    def started(*args: Any, **kwargs: Any) -> None:
        raise Started

    import uvicorn

    from salesops import db

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(db, "create_pool", started)
    # ``serve`` and ``console`` configure JSON logging on the root logger: give it back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield monkeypatch
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("secret", [None, DEV_JWT_SECRET], ids=["defaulted", "set"])
def test_every_entry_point_refuses_the_development_secret_in_production(
    command: str,
    secret: str | None,
    production: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if secret is not None:
        production.setenv("SALESOPS_JWT_SECRET", secret)
    assert cli.main(COMMANDS[command]) == 2  # and not Started: nothing was opened
    out, err = capsys.readouterr()
    assert "SALESOPS_JWT_SECRET must be set to a real secret in production" in err
    assert out == ""  # no token was printed


@pytest.mark.parametrize("command", list(COMMANDS))
def test_with_a_real_secret_every_entry_point_gets_past_its_settings(
    command: str, production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production.setenv("SALESOPS_JWT_SECRET", REAL_SECRET)
    if command == "token":
        assert cli.main(COMMANDS[command]) == 0
        assert capsys.readouterr().out.count(".") == 2  # a JWT: header.claims.signature
        return
    with pytest.raises(Started):
        cli.main(COMMANDS[command])


def test_development_may_use_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_ENVIRONMENT", "development")
    monkeypatch.delenv("SALESOPS_JWT_SECRET", raising=False)
    settings = load_settings(ServiceSettings, database_url="postgresql://localhost/salesops")
    assert settings.jwt_secret == DEV_JWT_SECRET


def test_the_installed_command_refuses_it_too() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "SALESOPS_ENVIRONMENT": "production",
        "SALESOPS_DATABASE_URL": "postgresql://salesops@127.0.0.1:1/salesops",
        "SALESOPS_JWT_SECRET": DEV_JWT_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "salesops.cli", "serve", "customers"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "SALESOPS_JWT_SECRET must be set to a real secret in production" in done.stderr


def test_a_refused_setting_is_named_but_a_secret_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = "too-short-but-still-a-secret"
    monkeypatch.setenv("SALESOPS_JWT_SECRET", short)
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "mysql://salesops:db-password-77@db/salesops")
    with pytest.raises(ConfigurationError) as refused:
        load_settings(ServiceSettings)
    message = str(refused.value)
    assert "SALESOPS_JWT_SECRET is set (value not shown)" in message
    assert "SALESOPS_DATABASE_URL = 'mysql://salesops:***@db/salesops'" in message
    assert short not in message
    assert "db-password-77" not in message
