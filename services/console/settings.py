"""The console's configuration: ``SALESOPS_CONSOLE_*`` plus the common settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from salesops.settings import CommonSettings


class ConsoleSettings(CommonSettings):
    """Where the services are, and where the console listens."""

    model_config = SettingsConfigDict(env_prefix="SALESOPS_", extra="ignore", frozen=True)

    #: Base URL of each service, e.g. {"customers": "http://127.0.0.1:8101", ...}.
    console_upstreams: dict[str, str] = Field(default_factory=dict)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8100, ge=1, le=65535)
    #: Seconds a forwarded call may take; event streams (server-sent events) are not bounded.
    console_upstream_timeout: float = Field(default=60, gt=0)
    #: The address people use (the OIDC provider sends them back to <public_url>/auth/callback).
    public_url: str = ""
    #: For a confidential OIDC client; a public client (PKCE only) leaves it unset.
    oidc_client_secret: str | None = None
