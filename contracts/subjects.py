"""Names on the wire: NATS subjects, JetStream stream names, schema URNs.

Every name a service or an outside subscriber needs is derived here from two facts, the
owning service and the event type, so no service spells a subject by hand.

Production subjects have no namespace: ``sales.customers.decision_state_changed``.
Test runs share one NATS server, so each run prefixes its own namespace
(``t3f9.sales.customers.decision_state_changed``) and gets its own streams.
"""

import re
from functools import lru_cache
from typing import Final, NamedTuple

SUBJECT_ROOT: Final = "sales"

#: The services that publish on ``sales.>``. ``finance`` stands for the outside systems
#: (ERP, BI) that feed finance facts to the health dashboard.
SERVICES: Final = frozenset(
    {"customers", "tasks", "collaboration", "notifier", "metrics", "finance"}
)

# "dlq" sits where a service name would; it must never be a service, or the dead-letter
# stream's subjects would overlap that service's stream and JetStream would refuse both.
_DEAD_LETTER_TOKEN: Final = "dlq"

_SNAKE_TOKEN = re.compile(r"[a-z][a-z0-9_]*")
_CONSUMER_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
# Two passes so acronyms stay whole: "HTTPCallFailed" -> "http_call_failed".
_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NOT_STREAM_CHAR = re.compile(r"[^A-Z0-9_]")


class ParsedSubject(NamedTuple):
    """The parts of an event subject: ``[<namespace>.]sales.<service>.<event>``."""

    namespace: str
    service: str
    event: str


def snake_case(event_type: str) -> str:
    """``"DecisionStateChanged"`` -> ``"decision_state_changed"`` (snake input is kept)."""
    spaced = _WORD_BOUNDARY.sub(r"\1_\2", _ACRONYM_BOUNDARY.sub(r"\1_\2", event_type))
    return spaced.lower()


@lru_cache(maxsize=4096)  # pure, and on the relay's hot path
def subject_for(service: str, event_type: str, namespace: str = "") -> str:
    """The NATS subject an event type is published on.

    >>> subject_for("collaboration", "TicketTimedOut")
    'sales.collaboration.ticket_timed_out'
    """
    event = snake_case(event_type)
    if not _SNAKE_TOKEN.fullmatch(event):
        raise ValueError(f"event type {event_type!r} does not make a subject token")
    return _prefixed(namespace, f"{SUBJECT_ROOT}.{_service(service)}.{event}")


def service_subjects(service: str, namespace: str = "") -> str:
    """The wildcard that catches every event of one service, e.g. ``sales.customers.>``."""
    return _prefixed(namespace, f"{SUBJECT_ROOT}.{_service(service)}.>")


def stream_name_for(service: str, namespace: str = "") -> str:
    """The JetStream stream holding one service's events, e.g. ``SALES_CUSTOMERS``."""
    return _stream_name(namespace, f"{SUBJECT_ROOT}_{_service(service)}")


def dead_letter_subject(service: str, consumer: str, namespace: str = "") -> str:
    """Where a message that keeps failing in ``consumer`` is parked.

    >>> dead_letter_subject("notifier", "on_ticket_timed_out")
    'sales.dlq.notifier.on_ticket_timed_out'
    """
    if not _CONSUMER_TOKEN.fullmatch(consumer):
        raise ValueError(f"consumer name {consumer!r} may hold only A-Z, a-z, 0-9, _ and -")
    dead_letters = f"{SUBJECT_ROOT}.{_DEAD_LETTER_TOKEN}"
    return _prefixed(namespace, f"{dead_letters}.{_service(service)}.{consumer}")


def dead_letter_subjects(namespace: str = "") -> str:
    """The wildcard of all dead-letter subjects, ``sales.dlq.>``."""
    return _prefixed(namespace, f"{SUBJECT_ROOT}.{_DEAD_LETTER_TOKEN}.>")


def dead_letter_stream_name(namespace: str = "") -> str:
    """The one JetStream stream that keeps every dead letter, ``SALES_DLQ``."""
    return _stream_name(namespace, f"{SUBJECT_ROOT}_{_DEAD_LETTER_TOKEN}")


@lru_cache(maxsize=4096)  # pure, and on the relay's hot path
def schema_urn(service: str, event_type: str, schema_version: int) -> str:
    """The ``dataschema`` of an event: never namespaced, one per shape of the payload.

    >>> schema_urn("customers", "DecisionStateChanged", 1)
    'urn:salesops:schema:sales.customers.decision_state_changed:v1'
    """
    if schema_version < 1:
        raise ValueError(f"schema versions start at 1, got {schema_version}")
    return f"urn:salesops:schema:{subject_for(service, event_type)}:v{schema_version}"


@lru_cache(maxsize=4096)  # pure, and on the relay's hot path
def source_for(service: str) -> str:
    """The CloudEvents ``source`` of everything a service publishes, e.g. ``/salesops/tasks``."""
    return f"/salesops/{_service(service)}"


def parse_subject(subject: str) -> ParsedSubject:
    """Split an event subject into namespace, service and snake-case event name."""
    head, sep, tail = subject.rpartition(f"{SUBJECT_ROOT}.")
    parts = tail.split(".")
    namespace = head.removesuffix(".")
    well_formed = (
        sep
        and (not head or head.endswith("."))
        and len(parts) == 2
        and parts[0] in SERVICES
        and _SNAKE_TOKEN.fullmatch(parts[1])
        and (not namespace or _NAMESPACE.fullmatch(namespace))
    )
    if not well_formed:
        raise ValueError(f"{subject!r} is not [<namespace>.]sales.<service>.<event>")
    return ParsedSubject(namespace, parts[0], parts[1])


def _service(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {sorted(SERVICES)}")
    return service


def _prefixed(namespace: str, subject: str) -> str:
    if not namespace:
        return subject
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"namespace {namespace!r} must be dot-separated tokens of A-Z, a-z, 0-9, _ and -"
        )
    return f"{namespace}.{subject}"


def _stream_name(namespace: str, name: str) -> str:
    _prefixed(namespace, name)  # same validation as for subjects
    full = f"{namespace}_{name}" if namespace else name
    # JetStream forbids '.', '*', '>' and spaces in stream names; keep to one safe alphabet.
    return _NOT_STREAM_CHAR.sub("_", full.upper())
