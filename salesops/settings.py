"""Service configuration from environment variables, in one place.

A missing or malformed variable stops the service at start-up with a message naming
the variable, instead of failing later on first use.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from salesops.clock import AcceleratedClock, Clock, SystemClock
from salesops.oidc import OidcConfig

ENV_PREFIX = "SALESOPS_"
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "dev-only-change-me-this-is-not-a-secret"


S = TypeVar("S", bound="CommonSettings")


class ConfigurationError(RuntimeError):
    """Raised when the environment does not describe a runnable service."""


class CommonSettings(BaseSettings):
    """What every command reads: identity, org files. Each field is ``SALESOPS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    jwt_secret: str = Field(default=DEV_JWT_SECRET, min_length=32)
    jwt_issuer: str = "salesops"
    org_file: Path = REPO_ROOT / "deploy" / "org.yaml"
    policy_file: Path = REPO_ROOT / "deploy" / "policy.yaml"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Sign-in through the company's OIDC provider: its issuer URL (discovery at
    #: <issuer>/.well-known/openid-configuration) and the client id tokens are issued to.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_person_claim: str = "sub"
    oidc_jwks_url: str | None = None
    #: Business time for demos and rehearsals (``salesops up --demo``): the clock reads
    #: clock_start at the wall-clock instant clock_anchor (default: when the process made its
    #: clock, so give every process the same anchor) and runs clock_speed times faster.
    clock_start: AwareDatetime | None = None
    clock_speed: float = Field(default=1.0, gt=0, le=1_000_000)
    clock_anchor: AwareDatetime | None = None
    #: Instead of clock_anchor: a file that will hold it; business time waits at clock_start
    #: until the file is written (``salesops up --demo`` writes it once its company is loaded).
    clock_anchor_file: Path | None = None

    def business_clock(self) -> Clock:
        """The clock services run on: the wall clock, unless clock_start/clock_speed are set."""
        if self.clock_start is None and self.clock_speed == 1:
            return SystemClock()
        anchor = self.clock_anchor
        start = self.clock_start or anchor
        if start is None:  # only a speed: business time leaves the wall clock from now on
            return AcceleratedClock(SystemClock().now(), self.clock_speed)
        return AcceleratedClock(
            start, self.clock_speed, anchor=anchor, anchor_file=self.clock_anchor_file
        )

    def oidc(self) -> OidcConfig | None:
        """The provider's settings, or None when people sign in with the deployment's tokens."""
        if not self.oidc_issuer:
            return None
        return OidcConfig(
            issuer=self.oidc_issuer,
            audience=self.oidc_audience or "salesops",
            person_claim=self.oidc_person_claim,
            jwks_url=self.oidc_jwks_url,
        )


class ServiceSettings(CommonSettings):
    """Everything a service needs to run. Each field is ``SALESOPS_<FIELD>`` in the environment."""

    database_url: str = Field(description="PostgreSQL DSN, e.g. postgresql://u:p@host:5432/db")
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="NATS server(s), comma separated"
    )
    nats_namespace: str = Field(
        default="",
        description="Optional prefix of every subject and stream name (isolates test runs)",
    )
    nats_stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Replicas of the streams the service creates: 1 on a single server, "
        "3 (or 5) on a JetStream cluster so a stream survives the loss of a node",
    )
    nats_user: str | None = Field(
        default=None,
        description="The service's NATS user (deploy/nats/authorization.conf); "
        "unset on a NATS without authorization",
    )
    # SecretStr: shown as '**********' wherever the settings are printed or logged.
    nats_password: SecretStr | None = Field(default=None, description="Password of nats_user")
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema of the service; defaults to its name"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = Field(default="", description="Base URL people use to reach this service")
    data_dir: Path = Field(
        default=Path(".salesops"), description="Local data (evidence files when no object store)"
    )
    object_store_url: str | None = Field(
        default=None, description="s3://bucket?endpoint=http://host:9000 or file:///path"
    )
    object_store_access_key: str | None = None
    object_store_secret_key: str | None = None
    relay_batch_size: int = Field(default=1000, ge=1, le=10_000)
    timer_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    metrics_sample_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="How often the outbox, timer, consumer-lag and dead-letter gauges are sampled",
    )
    consumer_ack_wait_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="How long JetStream waits for a consumer's ack before handing the message "
        "out again, e.g. to another replica after the process holding it was killed",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_dsn(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("nats_namespace")
    @classmethod
    def _namespace_token(cls, value: str) -> str:
        if value and not _NAMESPACE.fullmatch(value):
            raise ValueError("must be dot-separated tokens of letters, digits, '_' and '-'")
        return value

    def schema_for(self, service: str) -> str:
        return self.db_schema or service


_CREDENTIAL_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY")
_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")
_MASKED = r"\1***@"


def _shown(variable: str, value: str | None) -> str:
    """How an error message shows a variable's value: never a credential (the message
    ends up in logs and on consoles), nor the password of a URL such as a DSN."""
    if value is None:
        return "is not set"
    if any(word in variable for word in _CREDENTIAL_WORDS):
        return "is set (value not shown)"
    return f"= {_URL_PASSWORD.sub(_MASKED, value)!r}"


def load_settings(kind: type[S], **overrides: Any) -> S:
    """Read the settings from the environment, failing fast with the variable's name."""
    try:
        settings = kind(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"{ENV_PREFIX}{field.upper()}"
            shown = _shown(variable, os.environ.get(variable))
            problems.append(f"{variable} {shown}: {error['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
    if settings.environment == "production" and settings.jwt_secret == DEV_JWT_SECRET:
        raise ConfigurationError(
            f"{ENV_PREFIX}JWT_SECRET must be set to a real secret in production"
        )
    if settings.environment == "production" and (
        settings.clock_start is not None or settings.clock_speed != 1
    ):
        # Deadlines, escalations and reports would all lie about when things happened.
        raise ConfigurationError(
            f"{ENV_PREFIX}CLOCK_START / {ENV_PREFIX}CLOCK_SPEED are for demos, not production"
        )
    return settings
