"""Who hears about an event, and on which channel: pure routing, no I/O.

The rules live in configuration (``deploy/notifications.yaml``): for each published event
type, a list of recipients named *relative to the event* (``owner``, ``supervisor``,
``sales_manager``, ``escalated_to``...), an optional channel override and whether the
message is urgent (escalations and timeouts, never held back by quiet hours).
:func:`route` resolves them against the organisation directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from contracts.base import IntegrationEvent
from contracts.registry import EVENT_TYPES
from salesops.orgdir import (
    Channel,
    EscalationRoutingError,
    OrgDirectory,
    Person,
    Role,
    UnknownEntry,
)

__all__ = [
    "Recipient",
    "Route",
    "RoutingRule",
    "RoutingRules",
    "RoutingRulesError",
    "load_routing_rules",
    "route",
]


class Recipient(StrEnum):
    """Who receives a notification, relative to the event."""

    #: The rep the event is about: ``owner_id``, else ``rep_id``, else ``requester_id``.
    OWNER = "owner"
    #: The rep's direct manager.
    SUPERVISOR = "supervisor"
    #: Nearest sales manager up the rep's reporting line, else the nearest sales director.
    SALES_MANAGER = "sales_manager"
    #: The manager of the rep's direct manager.
    MANAGER_OF_MANAGER = "manager_of_manager"
    #: Everyone with the sales_director role.
    SALES_DIRECTOR = "sales_director"
    #: Everyone with the finance_risk role.
    FINANCE_RISK = "finance_risk"
    #: Who owns the ticket's stage (``owner_id``; ``from_owner_id`` of an escalation).
    STAGE_OWNER = "stage_owner"
    #: The next owner up the stage's chain (``escalated_to_id`` / ``to_owner_id``).
    NEXT_OWNER = "next_owner"
    #: Whom an overdue answer was escalated to (``escalated_to_id``).
    ESCALATED_TO = "escalated_to"
    #: The person the event names: ``manager_id``, ``supervisor_id``, ``head_id``.
    NAMED = "named"
    #: The department head: ``head_id``, else the head of the event's ``team_id``.
    DEPARTMENT_HEAD = "department_head"


# Event fields each recipient reads, in order of preference. A rule naming a recipient
# whose fields the event type does not carry is refused at load: it could never match.
_OWNER_FIELDS: Final = ("owner_id", "rep_id", "requester_id")
_FIELDS: Final[Mapping[Recipient, tuple[str, ...]]] = MappingProxyType(
    {
        Recipient.OWNER: _OWNER_FIELDS,
        Recipient.SUPERVISOR: _OWNER_FIELDS,
        Recipient.SALES_MANAGER: _OWNER_FIELDS,
        Recipient.MANAGER_OF_MANAGER: _OWNER_FIELDS,
        Recipient.SALES_DIRECTOR: (),
        Recipient.FINANCE_RISK: (),
        Recipient.STAGE_OWNER: ("owner_id", "from_owner_id"),
        Recipient.NEXT_OWNER: ("escalated_to_id", "to_owner_id"),
        Recipient.ESCALATED_TO: ("escalated_to_id",),
        Recipient.NAMED: ("manager_id", "supervisor_id", "head_id"),
        Recipient.DEPARTMENT_HEAD: ("head_id", "team_id"),
    }
)


class RoutingRulesError(ValueError):
    """The routing configuration is wrong; every problem names the rule it is about."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))


def _at_least_one(recipients: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    # Not min_length: pydantic would report it on top of an unknown recipient's error.
    if not recipients:
        raise ValueError("needs at least one recipient")
    return recipients


class RoutingRule(BaseModel):
    """Who hears about one event type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(description="Event type name, e.g. DecisionStateChanged.")
    to: Annotated[tuple[Recipient, ...], AfterValidator(_at_least_one)] = Field(
        description="Recipients, relative roles."
    )
    channel: Channel | None = Field(
        default=None, description="Send on this channel instead of each person's preferred one."
    )
    urgent: bool = Field(default=False, description="Escalation/timeout: skips quiet hours.")

    @field_validator("event")
    @classmethod
    def _known_event(cls, event: str) -> str:
        if event not in EVENT_TYPES:
            known = ", ".join(sorted(EVENT_TYPES))
            raise ValueError(f"unknown event type {event!r}; known: {known}")
        return event

    @model_validator(mode="after")
    def _recipients_fit_the_event(self) -> RoutingRule:
        carried = EVENT_TYPES[self.event].model_fields
        for recipient in self.to:
            needs = _FIELDS[recipient]
            if needs and not any(name in carried for name in needs):
                raise ValueError(
                    f"recipient {recipient.value!r} reads {' / '.join(needs)}, which "
                    f"{self.event} does not carry"
                )
        return self


class RoutingRules(BaseModel):
    """All routing rules, at most one per event type; events without a rule go nowhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[RoutingRule, ...] = ()

    @model_validator(mode="after")
    def _one_rule_per_event(self) -> RoutingRules:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.event in seen:
                raise ValueError(f"event type {rule.event!r} has more than one rule")
            seen.add(rule.event)
        return self

    def rule_for(self, event_type: str) -> RoutingRule | None:
        """The rule for an event type name, or None."""
        return next((rule for rule in self.rules if rule.event == event_type), None)

    @classmethod
    def from_mapping(cls, data: Any, source: str | None = None) -> RoutingRules:
        """Validate parsed YAML/JSON; raises :class:`RoutingRulesError` naming each bad rule."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RoutingRulesError(_describe(exc, data), source) from None

    @classmethod
    def defaults(cls) -> RoutingRules:
        """The rules the product ships with (``deploy/notifications.yaml`` restates them)."""
        return cls.from_mapping({"rules": [dict(rule) for rule in _DEFAULT_RULES]})


_DEFAULT_RULES: Final[tuple[Mapping[str, Any], ...]] = (
    {"event": "DecisionStateChanged", "to": ["sales_manager"]},
    {"event": "NegotiationJoinRequested", "to": ["named"]},
    {"event": "NegotiationJoinOverdue", "to": ["escalated_to"], "urgent": True},
    {"event": "NextActionsNotUpdated", "to": ["supervisor", "owner"]},
    {"event": "CustomerWentStale", "to": ["owner"]},
    {"event": "ProgressReported", "to": ["supervisor"]},
    {"event": "SupportAnswerOverdue", "to": ["escalated_to"], "urgent": True},
    {"event": "ConcessionExceeded", "to": ["sales_director", "finance_risk"], "urgent": True},
    {"event": "DailyTodoCardIssued", "to": ["owner"]},
    {"event": "TasksOverdue", "to": ["supervisor"]},
    {"event": "TicketDispatched", "to": ["stage_owner"]},
    {"event": "TicketTimedOut", "to": ["stage_owner", "next_owner"], "urgent": True},
    {"event": "TicketEscalated", "to": ["stage_owner", "next_owner"], "urgent": True},
    {"event": "DepartmentQualityAlert", "to": ["department_head"], "channel": "email"},
)


def _describe(exc: ValidationError, data: Any) -> list[str]:
    """One line per problem: ``rules[3] (DecisionStateChanged): to[0]: ...``."""
    rules = data.get("rules") if isinstance(data, dict) else None
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            index = loc[1]
            name = ""
            if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
                name = f" ({rules[index].get('event', '?')})"
            where = f"rules[{index}]{name}"
            rest = ".".join(str(part) for part in loc[2:])
        else:
            where = ".".join(str(part) for part in loc) or "file"
            rest = ""
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {rest + ': ' if rest else ''}{message}")
    return problems


def load_routing_rules(path: str | Path) -> RoutingRules:
    """Read and check the routing file (UTF-8 YAML); raises :class:`RoutingRulesError`."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RoutingRulesError([f"not valid YAML: {exc}"], str(path)) from exc
    return RoutingRules.from_mapping(data if data is not None else {}, source=str(path))


@dataclass(frozen=True)
class Route:
    """Send the event's message to one person on one channel."""

    person_id: str
    channel: str
    urgent: bool


def route(event: IntegrationEvent, rules: RoutingRules, directory: OrgDirectory) -> list[Route]:
    """The people to notify of ``event`` and their channels, in rule order, de-duplicated.

    A person unknown to the directory (or a line that ends before the wanted manager) is
    skipped, not an error: a notification must never stop the event flow. The channel is
    the rule's override when the person has an address there, else their preferred one.
    """
    rule = rules.rule_for(event.event_type())
    if rule is None:
        return []
    routes: dict[tuple[str, str], Route] = {}
    for recipient in rule.to:
        for person in _resolve(recipient, event, directory):
            channel = _channel_for(person, rule.channel)
            if channel is None:
                continue
            key = (person.id, channel)
            if key not in routes:
                routes[key] = Route(person_id=person.id, channel=channel, urgent=rule.urgent)
    return list(routes.values())


def _channel_for(person: Person, override: Channel | None) -> str | None:
    if override is not None and person.address_for(override):
        return override.value
    usable = person.channels()
    return usable[0].value if usable else None


def _ids(event: IntegrationEvent, fields: Iterable[str]) -> Iterator[str]:
    for name in fields:
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            yield value


def _first_id(event: IntegrationEvent, fields: Iterable[str]) -> str | None:
    return next(_ids(event, fields), None)


def _people(directory: OrgDirectory, ids: Iterable[str | None]) -> list[Person]:
    found = []
    for person_id in ids:
        if person_id is None:
            continue
        try:
            found.append(directory.person(person_id))
        except UnknownEntry:
            continue
    return found


def _relative(
    event: IntegrationEvent, directory: OrgDirectory, pick: Callable[[str], Person | None]
) -> list[Person]:
    owner = _first_id(event, _OWNER_FIELDS)
    if owner is None:
        return []
    try:
        found = pick(owner)
    except UnknownEntry:
        return []
    return [] if found is None else [found]


def _resolve(
    recipient: Recipient, event: IntegrationEvent, directory: OrgDirectory
) -> list[Person]:
    match recipient:
        case Recipient.OWNER:
            return _people(directory, [_first_id(event, _OWNER_FIELDS)])
        case Recipient.SUPERVISOR:
            return _relative(event, directory, directory.manager_of)
        case Recipient.SALES_MANAGER:
            return _relative(
                event,
                directory,
                lambda rep: (
                    directory.first_with_role_above(rep, Role.SALES_MANAGER)
                    or directory.first_with_role_above(rep, Role.SALES_DIRECTOR)
                ),
            )
        case Recipient.MANAGER_OF_MANAGER:
            return _relative(event, directory, lambda rep: _nth_up(directory, rep, 1))
        case Recipient.SALES_DIRECTOR:
            return directory.people_with_role(Role.SALES_DIRECTOR)
        case Recipient.FINANCE_RISK:
            return directory.people_with_role(Role.FINANCE_RISK)
        case Recipient.STAGE_OWNER:
            return _people(directory, [_first_id(event, _FIELDS[recipient])])
        case Recipient.NEXT_OWNER | Recipient.ESCALATED_TO:
            return _people(directory, [_first_id(event, _FIELDS[recipient])])
        case Recipient.NAMED:
            return _people(directory, _ids(event, _FIELDS[recipient]))
        case Recipient.DEPARTMENT_HEAD:
            head = _first_id(event, ["head_id"])
            if head is not None:
                return _people(directory, [head])
            team = _first_id(event, ["team_id"])
            if team is None:
                return []
            try:
                return [directory.head_of(team)]
            except (UnknownEntry, EscalationRoutingError):
                return []


def _nth_up(directory: OrgDirectory, person_id: str, n: int) -> Person | None:
    line = directory.reporting_line(person_id)
    return line[n] if len(line) > n else None
