"""Field types shared by every contract: identifiers, UTC instants, exact decimals.

Money and percentages are ``Decimal`` in Python and decimal *strings* on the wire
(``"1280.50"``), because a JSON number is read as a binary float by most consumers and a
concession of 12.000000001% must not turn into "over 12%" somewhere downstream.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

#: Non-negative decimal in plain notation: no exponent, no sign, no NaN.
MONEY_PATTERN: Final = r"^\d+(\.\d+)?$"
#: A percentage may be negative: a deal above the target price is a negative concession.
PERCENT_PATTERN: Final = r"^-?\d+(\.\d+)?$"


def _decimal_string_guard(pattern: str) -> BeforeValidator:
    compiled = re.compile(pattern)

    def guard(value: Any) -> Any:
        # bool is an int subclass and float is inexact: neither may become a price.
        if isinstance(value, bool | float):
            raise ValueError("send money and percentages as decimal strings, never as floats")
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a plain decimal string matching {pattern}")
        return value

    return BeforeValidator(guard)


def _plain_notation(value: Decimal) -> str:
    # str(Decimal("1E+2")) is "1E+2"; the wire format promises plain digits.
    return format(value, "f")


_AS_PLAIN_STRING = PlainSerializer(_plain_notation, return_type=str, when_used="json")

Money = Annotated[
    Decimal,
    _decimal_string_guard(MONEY_PATTERN),
    Field(ge=0),
    _AS_PLAIN_STRING,
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN}),
]
"""An amount of money (the organisation's currency) as an exact decimal."""

DecimalString = Annotated[
    Decimal,
    _AS_PLAIN_STRING,
    WithJsonSchema({"type": "string", "pattern": PERCENT_PATTERN}),
]
"""Any exact decimal, in plain notation on the wire (``"1200000"``, never ``"1.2E+6"``)."""

SignedMoney = Annotated[
    Decimal,
    _decimal_string_guard(PERCENT_PATTERN),
    _AS_PLAIN_STRING,
    WithJsonSchema({"type": "string", "pattern": PERCENT_PATTERN}),
]
"""An amount of money that may be negative (a margin on a loss-making order)."""

Percent = Annotated[
    Decimal,
    _decimal_string_guard(PERCENT_PATTERN),
    _AS_PLAIN_STRING,
    WithJsonSchema({"type": "string", "pattern": PERCENT_PATTERN}),
]
"""A percentage as an exact decimal: ``"15.5"`` means 15.5 %, not 0.155."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An instant with an explicit offset, normalised to UTC so the wire shows ``...Z``."""

Identifier = Annotated[str, Field(min_length=1, max_length=128)]
"""An opaque id of a person, customer, task, ticket or org unit."""

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"
UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# W3C trace context, version 00 plus whatever later versions append after a dash.
TRACEPARENT_PATTERN: Final = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.+)?$"
