"""Events of the notifier: what reached people, and what could not."""

from typing import ClassVar

from pydantic import Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import Identifier, UtcDatetime

_AT = "2024-05-06T02:00:00Z"


class NotificationDelivered(IntegrationEvent):
    """A notification reached its recipient on a channel (the platform accepted it)."""

    service: ClassVar[str] = "notifier"
    model_config = example_config(
        delivery_id="dlv-1a2b",
        about_event_id="0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10",
        about_event_type="TicketTimedOut",
        person_id="tl-gao-jianjun",
        channel="dingtalk",
        attempts=1,
        delivered_at=_AT,
    )

    delivery_id: Identifier = Field(description="Id of the delivery.", examples=["dlv-1a2b"])
    about_event_id: str = Field(description="The event notified about.", examples=["0b5e6c1e-…"])
    about_event_type: str = Field(description="Its type.", examples=["TicketTimedOut"])
    person_id: Identifier = Field(description="The recipient.", examples=["tl-gao-jianjun"])
    channel: str = Field(
        description="dingtalk, wecom, wecom_app, feishu, email or webhook.", examples=["dingtalk"]
    )
    attempts: int = Field(ge=1, description="Attempts it took.", examples=[1])
    delivered_at: UtcDatetime = Field(description="When.", examples=[_AT])


class NotificationFailed(IntegrationEvent):
    """A notification could not be delivered after its retries; it waits in the dead letters."""

    service: ClassVar[str] = "notifier"
    model_config = example_config(
        delivery_id="dlv-1a2b",
        about_event_id="0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10",
        about_event_type="TicketTimedOut",
        person_id="tl-gao-jianjun",
        channel="dingtalk",
        attempts=6,
        reason="errcode 310000: sign not match",
        failed_at=_AT,
    )

    delivery_id: Identifier = Field(description="Id of the delivery.", examples=["dlv-1a2b"])
    about_event_id: str = Field(description="The event notified about.", examples=["0b5e6c1e-…"])
    about_event_type: str = Field(description="Its type.", examples=["TicketTimedOut"])
    person_id: Identifier = Field(description="The recipient.", examples=["tl-gao-jianjun"])
    channel: str = Field(description="The channel.", examples=["dingtalk"])
    attempts: int = Field(ge=1, description="Attempts made.", examples=[6])
    reason: str = Field(description="The platform's last answer.", examples=["errcode 310000"])
    failed_at: UtcDatetime = Field(description="When it was given up.", examples=[_AT])
