from decimal import Decimal
from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from contracts.base import IntegrationEvent
from contracts.customers import DecisionState
from contracts.registry import EVENT_TYPES
from contracts.subjects import SERVICES
from contracts.tasks import ConcessionExceeded, Evidence, EvidenceKind, TaskSubmitted

EVENTS = sorted(EVENT_TYPES.values(), key=lambda cls: cls.event_type())


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model nested in its fields (e.g. Evidence in TaskSubmitted)."""
    found = [model]
    pending: list[object] = [info.annotation for info in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(m for m in _models(annotation) if m not in found)
        pending.extend(get_args(annotation))
    return found


@pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())
def test_every_field_of_every_event_has_a_description(event: type[IntegrationEvent]) -> None:
    for model in _models(event):
        undescribed = [name for name, info in model.model_fields.items() if not info.description]
        assert undescribed == [], f"{model.__name__} fields without description: {undescribed}"


def test_nested_models_are_checked_too() -> None:
    assert Evidence in _models(TaskSubmitted)


@pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())
def test_every_event_has_a_docstring_and_a_valid_example(event: type[IntegrationEvent]) -> None:
    assert event.__doc__
    assert event.examples(), f"{event.event_type()} has no model-level example"


@pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())
def test_every_event_belongs_to_a_known_service(event: type[IntegrationEvent]) -> None:
    assert event.service in SERVICES
    assert event.schema_version >= 1


@pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())
def test_the_first_field_of_every_event_is_the_id_of_its_stream(
    event: type[IntegrationEvent],
) -> None:
    # The AsyncAPI examples take the CloudEvents subject from it.
    assert next(iter(event.model_fields)).endswith("_id")


def test_decision_states_are_exactly_the_four_of_the_product() -> None:
    assert {state.value for state in DecisionState} == {
        "intent_confirmed",
        "needs_tech_validation",
        "budget_pending",
        "chose_competitor",
    }


def test_concession_exceeded_goes_to_the_sales_director() -> None:
    (example,) = ConcessionExceeded.examples()
    assert example.approver_role == "sales_director"
    assert example.concession_pct > example.threshold_pct == Decimal("12")


def test_evidence_hash_must_be_lowercase_sha256_hex() -> None:
    with pytest.raises(ValidationError, match="sha256"):
        Evidence(kind=EvidenceKind.PHOTO, sha256="ABC")
