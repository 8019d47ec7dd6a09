import pytest

from contracts.collaboration import TicketTimedOut
from contracts.customers import DecisionStateChanged
from contracts.registry import (
    EVENT_TYPES,
    UnknownEventType,
    event_class,
    event_class_for_subject,
)
from contracts.subjects import (
    dead_letter_stream_name,
    dead_letter_subject,
    dead_letter_subjects,
    parse_subject,
    schema_urn,
    service_subjects,
    snake_case,
    stream_name_for,
    subject_for,
)


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("DecisionStateChanged", "decision_state_changed"),
        ("TicketTimedOut", "ticket_timed_out"),
        ("HTTPCallFailed", "http_call_failed"),
        ("decision_state_changed", "decision_state_changed"),
    ],
)
def test_event_type_names_become_snake_case_subject_tokens(event_type: str, expected: str) -> None:
    assert snake_case(event_type) == expected


def test_subject_is_sales_service_event() -> None:
    assert subject_for("collaboration", "TicketTimedOut") == "sales.collaboration.ticket_timed_out"
    assert TicketTimedOut.subject() == "sales.collaboration.ticket_timed_out"


def test_namespace_prefixes_the_subject_of_an_isolated_test_run() -> None:
    assert (
        DecisionStateChanged.subject("run-7f3a")
        == "run-7f3a.sales.customers.decision_state_changed"
    )


def test_stream_names_are_uppercase_and_safe_for_jetstream() -> None:
    assert stream_name_for("customers") == "SALES_CUSTOMERS"
    assert stream_name_for("customers", "run-7f3a.ci") == "RUN_7F3A_CI_SALES_CUSTOMERS"


def test_a_service_stream_catches_every_subject_of_that_service() -> None:
    assert service_subjects("tasks") == "sales.tasks.>"
    assert service_subjects("tasks", "t1") == "t1.sales.tasks.>"


def test_dead_letters_have_their_own_subject_tree_and_stream() -> None:
    assert dead_letter_subject("notifier", "on_ticket_timed_out") == (
        "sales.dlq.notifier.on_ticket_timed_out"
    )
    assert dead_letter_subject("metrics", "trace-rate", "t1") == "t1.sales.dlq.metrics.trace-rate"
    assert dead_letter_subjects() == "sales.dlq.>"
    assert dead_letter_stream_name() == "SALES_DLQ"
    assert dead_letter_stream_name("t1") == "T1_SALES_DLQ"


def test_dead_letter_subjects_do_not_overlap_any_service_stream() -> None:
    # JetStream refuses two streams with overlapping subjects.
    with pytest.raises(ValueError, match="unknown service"):
        service_subjects("dlq")


@pytest.mark.parametrize("namespace", ["has space", "wild*", "tail>", "a..b", ".lead"])
def test_a_namespace_that_is_not_subject_tokens_is_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        subject_for("tasks", "TaskSubmitted", namespace)


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        subject_for("billing", "InvoicePaid")


def test_schema_urn_names_subject_and_version_without_namespace() -> None:
    assert schema_urn("customers", "DecisionStateChanged", 1) == (
        "urn:salesops:schema:sales.customers.decision_state_changed:v1"
    )


def test_parse_subject_splits_namespace_service_and_event() -> None:
    parsed = parse_subject("ci.run-1.sales.tasks.concession_exceeded")
    assert parsed == ("ci.run-1", "tasks", "concession_exceeded")


def test_every_registered_event_is_found_by_its_name_and_by_its_subject() -> None:
    for name, cls in EVENT_TYPES.items():
        assert event_class(name) is cls
        assert event_class_for_subject(cls.subject()) is cls
        assert event_class_for_subject(cls.subject("t1")) is cls


def test_the_registry_holds_the_day_one_events() -> None:
    assert set(EVENT_TYPES) >= {
        "DecisionStateChanged",
        "TaskSubmitted",
        "ConcessionExceeded",
        "TicketTimedOut",
    }


def test_an_unknown_event_type_is_a_key_error_that_names_it() -> None:
    with pytest.raises(KeyError) as caught:
        event_class("DealWon")
    assert isinstance(caught.value, UnknownEventType)
    assert "DealWon" in str(caught.value)


@pytest.mark.parametrize(
    "subject",
    ["sales.tasks.deal_won", "sales.dlq.notifier.x", "tasks.task_submitted", "xsales.tasks.a"],
)
def test_a_subject_that_carries_no_known_event_is_unknown(subject: str) -> None:
    with pytest.raises(UnknownEventType):
        event_class_for_subject(subject)
