"""Where the notifier reaches each platform: ``SALESOPS_NOTIFY_*`` environment variables.

A channel is configured when its endpoint is set; a recipient whose preferred channel is not
configured is reached on the next of their channels that is.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from salesops.settings import REPO_ROOT


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALESOPS_NOTIFY_", extra="ignore", frozen=True)

    base_url: str = Field(default="http://127.0.0.1:8080", description="Links back to records")
    language: Literal["zh", "en"] = "zh"
    routing_file: Path = REPO_ROOT / "deploy" / "notifications.yaml"
    quiet_hours_file: Path | None = None
    dingtalk_webhook: str | None = None
    dingtalk_secret: str | None = None
    wecom_webhook: str | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_corp_id: str | None = None
    wecom_corp_secret: str | None = None
    wecom_agent_id: int | None = None
    feishu_webhook: str | None = None
    feishu_secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_sender: str = "salesops@localhost"
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


class QuietHours(BaseModel):
    """A person's quiet period, local time; it may span midnight (22:00-08:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class QuietHoursBook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    people: dict[str, QuietHours] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> QuietHoursBook:
        if path is None:
            return cls()
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
