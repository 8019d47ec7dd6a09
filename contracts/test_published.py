"""The published documents (contracts/published/) match the code, and the code keeps them.

CI runs these with every other test: a schema changed without regenerating the folder,
or changed in a way its subscribers notice without a new ``schema_version``, fails here.
The versioning rules are exercised on stand-in events in temporary folders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field

from contracts.base import IntegrationEvent
from contracts.compatibility import (
    PUBLISHED_DIR,
    REGENERATE,
    BreakingChange,
    Problem,
    check_published,
    format_problems,
    publish_contracts,
)
from contracts.export import ASYNCAPI_FILE_NAME, export_contracts, schema_file_name
from contracts.registry import EVENT_TYPES
from contracts.schemas import message_schema
from contracts.subjects import schema_urn

REPO_ROOT = PUBLISHED_DIR.parent.parent
EVENTS = sorted(EVENT_TYPES.values(), key=lambda cls: cls.event_type())


def test_the_published_documents_are_what_the_code_generates(tmp_path: Path) -> None:
    fresh = {path.name: path.read_bytes() for path in export_contracts(tmp_path)}
    missing = sorted(name for name in fresh if not (PUBLISHED_DIR / name).is_file())
    different = sorted(
        name
        for name in fresh
        if name not in missing and (PUBLISHED_DIR / name).read_bytes() != fresh[name]
    )
    assert (missing, different) == ([], []), (
        f"contracts/published/ does not match the code (missing: {missing}, "
        f"different: {different}): {REGENERATE} and commit the result"
    )


def test_the_published_folder_holds_only_generated_files_and_older_versions() -> None:
    current = {schema_file_name(event) for event in EVENT_TYPES.values()} | {ASYNCAPI_FILE_NAME}
    older = {
        f"{event.subject()}.v{version}.schema.json"
        for event in EVENT_TYPES.values()
        for version in range(1, event.schema_version)
    }
    unexpected = sorted(p.name for p in PUBLISHED_DIR.iterdir() if p.name not in current | older)
    assert unexpected == [], f"not generated from any event class: {unexpected}"


def test_the_code_keeps_every_promise_the_published_schemas_made() -> None:
    problems = check_published()
    assert problems == [], "\n" + format_problems(problems)


@pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())
def test_each_published_schema_is_named_by_the_events_dataschema_urn(
    event: type[IntegrationEvent],
) -> None:
    schema = json.loads((PUBLISHED_DIR / schema_file_name(event)).read_text())
    urn = schema_urn(event.service, event.event_type(), event.schema_version)
    assert (schema["$id"], schema["properties"]["dataschema"]["const"]) == (urn, urn)
    assert event.dataschema() == urn


# --- the rules, on a stand-in event -----------------------------------------------------


def version_1() -> type[IntegrationEvent]:
    class SampleRecorded(IntegrationEvent):
        """A stand-in event."""

        service: ClassVar[str] = "customers"
        sample_id: str = Field(description="Id.")
        note: str | None = Field(default=None, description="A note.")

    return SampleRecorded


def version_1_without_note() -> type[IntegrationEvent]:
    class SampleRecorded(IntegrationEvent):
        """A stand-in event whose note was dropped, keeping version 1: an edit in place."""

        service: ClassVar[str] = "customers"
        sample_id: str = Field(description="Id.")

    return SampleRecorded


def version_1_with_a_new_optional_field() -> type[IntegrationEvent]:
    class SampleRecorded(IntegrationEvent):
        """A stand-in event that gained an optional field: compatible."""

        service: ClassVar[str] = "customers"
        sample_id: str = Field(description="Id.")
        note: str | None = Field(default=None, description="A note, reworded.")
        region: str | None = Field(default=None, description="A region.")

    return SampleRecorded


def version_2_without_note() -> type[IntegrationEvent]:
    class SampleRecorded(IntegrationEvent):
        """The same break done right: a new version."""

        service: ClassVar[str] = "customers"
        schema_version: ClassVar[int] = 2
        sample_id: str = Field(description="Id.")

    return SampleRecorded


def publish(directory: Path, event: type[IntegrationEvent]) -> Path:
    """What `make contracts` writes for this event."""
    directory.mkdir(exist_ok=True)
    path = directory / schema_file_name(event)
    path.write_text(json.dumps(message_schema(event), indent=2) + "\n")
    return path


def messages(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_an_unchanged_event_passes(tmp_path: Path) -> None:
    publish(tmp_path, version_1())
    assert check_published(tmp_path, [version_1()]) == []


def test_a_compatible_change_under_the_same_version_passes(tmp_path: Path) -> None:
    publish(tmp_path, version_1())
    assert check_published(tmp_path, [version_1_with_a_new_optional_field()]) == []


def test_a_breaking_change_under_the_same_version_fails_asking_for_a_new_version(
    tmp_path: Path,
) -> None:
    publish(tmp_path, version_1())
    problems = check_published(tmp_path, [version_1_without_note()])
    assert messages(problems) == ["SampleRecorded v1: data.note: field removed"]
    report = format_problems(problems)
    assert "SampleRecorded.schema_version = 2" in report
    assert "make contracts" in report


def test_a_breaking_change_with_a_new_version_passes_with_the_old_one_beside_it(
    tmp_path: Path,
) -> None:
    publish(tmp_path, version_1())
    # Not published yet: a new version may differ in any way.
    assert check_published(tmp_path, [version_2_without_note()]) == []
    publish(tmp_path, version_2_without_note())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sales.customers.sample_recorded.v1.schema.json",
        "sales.customers.sample_recorded.v2.schema.json",
    ]
    assert check_published(tmp_path, [version_2_without_note()]) == []


def test_the_old_versions_schema_must_stay_published(tmp_path: Path) -> None:
    publish(tmp_path, version_1()).unlink()
    publish(tmp_path, version_2_without_note())
    (problem,) = check_published(tmp_path, [version_2_without_note()])
    assert problem.where == "SampleRecorded v1"
    assert "no longer published beside v2" in problem.message


def test_a_version_never_goes_back(tmp_path: Path) -> None:
    publish(tmp_path, version_1())
    publish(tmp_path, version_2_without_note())
    assert messages(check_published(tmp_path, [version_1()])) == [
        "SampleRecorded v1: schema_version went back: v2 is already published"
    ]


def test_removing_a_published_event_fails(tmp_path: Path) -> None:
    publish(tmp_path, version_1())
    (problem,) = check_published(tmp_path, [])
    assert problem.where == "sales.customers.sample_recorded.v1.schema.json"
    assert "no event class publishes it" in problem.message


def test_a_published_schema_must_carry_the_urn_of_its_name(tmp_path: Path) -> None:
    path = publish(tmp_path, version_1())
    schema = json.loads(path.read_text())
    schema["$id"] = "urn:salesops:schema:sales.customers.sample_recorded:1"
    path.write_text(json.dumps(schema))
    in_place, naming = check_published(tmp_path, [version_1()])
    assert naming.where == "sales.customers.sample_recorded.v1.schema.json"
    assert "expected urn:salesops:schema:sales.customers.sample_recorded:v1" in naming.message
    # And to a subscriber keyed on the old $id, the code changed it in place.
    assert in_place.where == "SampleRecorded v1"
    assert in_place.message.startswith("(the message): $id changed")


def test_a_stray_schema_file_fails(tmp_path: Path) -> None:
    (tmp_path / "decision_state_changed.schema.json").write_text("{}")
    (tmp_path / "t1.sales.customers.sample_recorded.v1.schema.json").write_text("{}")
    assert messages(check_published(tmp_path, [])) == [
        "decision_state_changed.schema.json: not named <sales subject>.v<N>.schema.json",
        "t1.sales.customers.sample_recorded.v1.schema.json: a published schema is never namespaced",
    ]


# --- regenerating never launders a break ---------------------------------------------------


DECISION = EVENT_TYPES["DecisionStateChanged"]
# Whatever version it is at when this runs: the current one is the one to protect.
DECISION_NOW = f"DecisionStateChanged v{DECISION.schema_version}"
DECISION_NEXT = f"DecisionStateChanged.schema_version = {DECISION.schema_version + 1}"


@pytest.fixture
def published_copy(tmp_path: Path) -> Path:
    """The published folder as if DecisionStateChanged's current version had a `region`.

    The code has no such field, so to the checker the code removed it: a breaking change.
    """
    directory = tmp_path / "published"
    export_contracts(directory)
    path = directory / schema_file_name(DECISION)
    schema = json.loads(path.read_text())
    schema["$defs"]["DecisionStateChanged"]["properties"]["region"] = {"type": "string"}
    path.write_text(json.dumps(schema))
    return directory


def test_publishing_refuses_to_overwrite_a_schema_with_an_incompatible_one(
    published_copy: Path,
) -> None:
    before = {path.name: path.read_bytes() for path in published_copy.iterdir()}
    with pytest.raises(BreakingChange, match=rf"{DECISION_NOW}: data\.region: field removed"):
        publish_contracts(published_copy)
    assert {path.name: path.read_bytes() for path in published_copy.iterdir()} == before


def salesops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesops.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )


def test_the_export_command_refuses_too_and_says_what_to_do(published_copy: Path) -> None:
    result = salesops("contracts", "export", str(published_copy))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{DECISION_NOW}: data.region: field removed" in result.stderr
    assert DECISION_NEXT in result.stderr


def test_the_check_command_reports_problems_and_passes_on_the_published_set(
    published_copy: Path,
) -> None:
    result = salesops("contracts", "check", str(published_copy))
    assert (result.returncode, result.stdout) == (1, "")
    assert "data.region: field removed" in result.stderr
    clean = salesops("contracts", "check")
    assert clean.returncode == 0, clean.stderr
    assert "contracts/published" in clean.stdout
