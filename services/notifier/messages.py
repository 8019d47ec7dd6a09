"""What the notifier sends, independent of the platform that carries it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered notification for one person.

    ``markdown`` serves the chat platforms (DingTalk/WeCom/Feishu markdown or card text),
    ``text`` and ``html`` the e-mail; ``link`` points back to the record in the product.
    """

    title: str
    markdown: str
    text: str
    html: str
    link: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Recipient:
    """A person and their address on the channel the message goes out on."""

    person_id: str
    name: str
    address: str  # e-mail address, DingTalk mobile or user id, WeCom user id, Feishu open id, URL
    mobile: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What the platform answered. ``retryable`` tells a transient failure from a final one."""

    ok: bool
    provider_reply: str
    retryable: bool = False
    status_code: int | None = None


class Channel(Protocol):
    """A platform adapter: sends one message to one recipient and reports the outcome.

    Adapters never raise for a platform's refusal or a network failure; they return a
    :class:`DeliveryResult` so the delivery engine can retry, dead-letter and record it.
    """

    name: str

    def robot_key(self, recipient: Recipient) -> str:
        """What a rate limit is counted against (a group robot's webhook, an SMTP server...)."""
        ...

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult: ...


@dataclass
class SentRequest:
    """A request a test platform server received (for assertions in tests)."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    verified: bool
    notes: list[str] = field(default_factory=list)
