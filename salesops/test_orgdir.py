"""Rules of the org directory: routing answers and whole-file validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from salesops.orgdir import (
    Channel,
    EscalationRoutingError,
    OrgDirectory,
    OrgDirectoryError,
    Person,
    Role,
    UnknownDocumentType,
    UnknownPerson,
    UnknownStage,
    load_org_directory,
)

SAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "org.yaml"


@pytest.fixture(scope="module")
def org() -> OrgDirectory:
    return load_org_directory(SAMPLE)


@pytest.fixture
def raw() -> dict[str, Any]:
    """A fresh, editable copy of the sample file, to break one thing at a time."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    return data


def entry(data: dict[str, Any], section: str, entry_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in data[section] if e["id"] == entry_id)
    return found


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(OrgDirectoryError) as caught:
        OrgDirectory.from_mapping(data)
    return caught.value.problems


def index_of(data: dict[str, Any], section: str, entry_id: str) -> int:
    return next(i for i, e in enumerate(data[section]) if e["id"] == entry_id)


def names(people: list[Person]) -> list[str]:
    return [person.id for person in people]


# --- the sample company -------------------------------------------------------------------


def test_sample_company_loads_with_the_promised_shape(org: OrgDirectory) -> None:
    assert 20 <= len(org.people) <= 30
    assert len(org.people_with_role(Role.SALES_DIRECTOR)) == 1
    assert len(org.people_with_role(Role.SALES_MANAGER)) == 2
    assert len(org.people_with_role(Role.GROUP_LEAD)) == 3
    assert len(org.people_with_role("sales_rep")) == 8
    assert len(org.people_with_role(Role.TECH_DIRECTOR)) == 1
    assert len([team for team in org.teams if team.is_tech_group]) == 2
    assert len(org.people_with_role(Role.LOGISTICS)) == 2
    assert org.people_with_role(Role.FINANCE_RISK)
    assert [unit.kind.value for unit in org.org_units].count("group") == 3


def test_every_sample_person_has_an_email_and_a_chat_address(org: OrgDirectory) -> None:
    chat = {Channel.DINGTALK, Channel.WECOM, Channel.FEISHU}
    for person in org.people:
        assert person.email, person.id
        assert chat & set(person.channels()), person.id


def test_sample_has_the_required_stages_and_document_types(org: OrgDirectory) -> None:
    for stage in ("tech_answer", "stocking_start", "receipt_confirmation"):
        assert org.stage(stage).id == stage
    assert org.document_type("ce_certification_report").name_zh == "CE认证报告"
    assert org.document_type("installation_drawing_3d").name_zh == "3D安装图"
    assert org.document_type("energy_test_data").name_zh == "能耗测试数据"


# --- people and reporting lines -----------------------------------------------------------


def test_reporting_line_climbs_from_the_manager_to_the_top(org: OrgDirectory) -> None:
    line = org.reporting_line("rep-zhang-wei")
    assert names(line) == ["gl-li-na", "sm-qian-wenbo", "sd-zhao-guoqiang"]


def test_person_at_the_top_has_no_manager_and_an_empty_reporting_line(org: OrgDirectory) -> None:
    assert org.manager_of("sd-zhao-guoqiang") is None
    assert org.reporting_line("sd-zhao-guoqiang") == []


def test_manager_of_a_rep_is_the_group_lead(org: OrgDirectory) -> None:
    manager = org.manager_of("rep-he-zhiqiang")
    assert manager is not None
    assert manager.id == "gl-wu-haiyan"


def test_first_with_role_above_finds_the_reps_sales_manager(org: OrgDirectory) -> None:
    manager = org.first_with_role_above("rep-lin-xiaowen", Role.SALES_MANAGER)
    assert manager is not None
    assert manager.id == "sm-sun-xiaoyan"


def test_first_with_role_above_is_none_when_nobody_up_the_line_holds_it(
    org: OrgDirectory,
) -> None:
    assert org.first_with_role_above("rep-zhang-wei", Role.TECH_DIRECTOR) is None


def test_unknown_person_raises_a_key_error_naming_the_id(org: OrgDirectory) -> None:
    with pytest.raises(UnknownPerson, match="person 'rep-nobody' is not in the org directory"):
        org.person("rep-nobody")
    with pytest.raises(KeyError):
        org.manager_of("rep-nobody")


def test_dingtalk_address_falls_back_to_the_mobile(org: OrgDirectory) -> None:
    assert org.person("rep-wang-fang").address_for(Channel.DINGTALK) == "13800020002"


def test_channels_list_the_preferred_one_first(org: OrgDirectory) -> None:
    channels = org.person("rep-huang-lei").channels()
    assert channels[0] is Channel.WECOM
    assert set(channels) == {Channel.WECOM, Channel.DINGTALK, Channel.EMAIL}


# --- org units ----------------------------------------------------------------------------


def test_org_unit_path_starts_at_hq_and_ends_at_the_unit(org: OrgDirectory) -> None:
    path = org.org_unit_path("group-east-2")
    assert [unit.id for unit in path] == ["hq", "region-east", "group-east-2"]


def test_people_under_a_region_include_everyone_in_its_groups(org: OrgDirectory) -> None:
    south = names(org.people_under("region-south"))
    assert sorted(south) == ["gl-wu-haiyan", "rep-he-zhiqiang", "rep-lin-xiaowen", "sm-sun-xiaoyan"]


# --- tech routing and escalation ----------------------------------------------------------


def test_each_document_type_is_routed_to_the_tech_group_that_owns_it(org: OrgDirectory) -> None:
    assert org.tech_group_for("ce_certification_report").id == "tech-electrical"
    assert org.tech_group_for("installation_drawing_3d").id == "tech-structural"


def test_ticket_needing_documents_of_two_groups_reaches_both(org: OrgDirectory) -> None:
    routed = org.tech_groups_for(
        ["energy_test_data", "installation_drawing_3d", "ce_certification_report"]
    )
    assert {team.id: docs for team, docs in routed.items()} == {
        "tech-electrical": ["energy_test_data", "ce_certification_report"],
        "tech-structural": ["installation_drawing_3d"],
    }


def test_routing_an_unknown_document_type_is_refused(org: OrgDirectory) -> None:
    with pytest.raises(UnknownDocumentType, match="'user_manual'"):
        org.tech_groups_for(["ce_certification_report", "user_manual"])


def test_tech_answer_escalates_engineer_to_lead_to_director(org: OrgDirectory) -> None:
    chain = org.escalation_chain("tech_answer", team_id="tech-structural")
    assert names(chain) == ["te-tang-liang", "tl-song-zhigang", "td-zheng-lixin"]


def test_tech_answer_chain_needs_the_tech_group_the_ticket_went_to(org: OrgDirectory) -> None:
    with pytest.raises(EscalationRoutingError, match="team_id"):
        org.escalation_chain("tech_answer")
    with pytest.raises(EscalationRoutingError, match="'logistics'"):
        org.escalation_chain("tech_answer", team_id="logistics")


def test_stocking_start_escalates_along_the_logistics_chain(org: OrgDirectory) -> None:
    assert names(org.escalation_chain("stocking_start")) == ["lg-cao-yang", "ll-feng-deming"]


def test_receipt_confirmation_escalates_up_the_requesters_reporting_line(
    org: OrgDirectory,
) -> None:
    chain = org.escalation_chain("receipt_confirmation", "rep-lin-xiaowen")
    assert names(chain) == ["rep-lin-xiaowen", "gl-wu-haiyan", "sm-sun-xiaoyan", "sd-zhao-guoqiang"]


def test_requester_stage_without_a_requester_is_refused(org: OrgDirectory) -> None:
    with pytest.raises(EscalationRoutingError, match="requester_id"):
        org.escalation_chain("receipt_confirmation")


def test_unknown_stage_is_refused(org: OrgDirectory) -> None:
    with pytest.raises(UnknownStage, match="'sample_shipping'"):
        org.escalation_chain("sample_shipping")


def test_quality_alert_goes_to_the_head_of_the_team(org: OrgDirectory) -> None:
    assert org.head_of("tech-electrical").id == "td-zheng-lixin"
    assert org.head_of("logistics").id == "ll-feng-deming"


# --- validation: every problem, each naming its entry -------------------------------------


def test_unknown_manager_is_rejected_naming_the_person(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-zhang-wei")["manager"] = "lead-x"
    i = index_of(raw, "people", "rep-zhang-wei")
    assert problems_of(raw) == [
        f"people[{i}] 'rep-zhang-wei': manager 'lead-x' is not a person in the directory"
    ]


def test_reporting_cycle_is_rejected_naming_the_people_in_it(raw: dict[str, Any]) -> None:
    entry(raw, "people", "sd-zhao-guoqiang")["manager"] = "rep-zhang-wei"
    (problem,) = problems_of(raw)
    assert problem.startswith("people[0] 'sd-zhao-guoqiang': reporting line loops back")
    assert (
        "'sd-zhao-guoqiang' -> 'rep-zhang-wei' -> 'gl-li-na' -> 'sm-qian-wenbo'"
        " -> 'sd-zhao-guoqiang'"
    ) in problem


def test_person_managing_themselves_is_a_reporting_cycle(raw: dict[str, Any]) -> None:
    entry(raw, "people", "fr-sun-li")["manager"] = "fr-sun-li"
    (problem,) = problems_of(raw)
    assert "'fr-sun-li': reporting line loops back on itself: 'fr-sun-li' -> 'fr-sun-li'" in problem


def test_unknown_role_is_rejected_naming_the_person_and_the_role(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-liu-yang")["roles"] = ["sales_rep", "salesrep"]
    i = index_of(raw, "people", "rep-liu-yang")
    (problem,) = problems_of(raw)
    assert problem.startswith(f"people[{i}] 'rep-liu-yang': roles[1]: 'salesrep' is not one of")


def test_person_without_roles_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-liu-yang")["roles"] = []
    assert any("'rep-liu-yang': roles: needs at least one role" in p for p in problems_of(raw))


def test_misspelt_field_is_rejected_rather_than_ignored(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-liu-yang")["manger"] = "gl-li-na"
    assert any("'rep-liu-yang': manger: is not a known field" in p for p in problems_of(raw))


def test_unknown_org_unit_of_a_person_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-chen-jing")["org_unit"] = "group-east-9"
    assert problems_of(raw) == [
        f"people[{index_of(raw, 'people', 'rep-chen-jing')}] 'rep-chen-jing': "
        "org_unit 'group-east-9' is not an org unit in the directory"
    ]


def test_unknown_org_unit_parent_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "org_units", "group-south-1")["parent"] = "region-west"
    assert problems_of(raw) == [
        "org_units[5] 'group-south-1': parent 'region-west' is not an org unit in the directory"
    ]


def test_org_unit_parent_cycle_is_rejected_naming_the_units(raw: dict[str, Any]) -> None:
    entry(raw, "org_units", "group-east-1")["parent"] = "group-east-2"
    entry(raw, "org_units", "group-east-2")["parent"] = "group-east-1"
    problems = problems_of(raw)
    assert (
        "org_units[3] 'group-east-1': org unit parent chain loops back on itself: "
        "'group-east-1' -> 'group-east-2' -> 'group-east-1'"
    ) in problems


def test_group_directly_under_another_group_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "org_units", "group-east-2")["parent"] = "group-east-1"
    assert problems_of(raw) == [
        "org_units[4] 'group-east-2': a group cannot sit under group 'group-east-1' "
        "(hq > region > group)"
    ]


def test_directory_needs_exactly_one_hq(raw: dict[str, Any]) -> None:
    raw["org_units"].append({"id": "hq-2", "name": "第二总部", "kind": "hq"})
    assert problems_of(raw) == ["org_units: there must be exactly one hq unit, found 2"]


def test_duplicate_ids_are_rejected_naming_both_entries(raw: dict[str, Any]) -> None:
    raw["people"].append(dict(entry(raw, "people", "rep-wang-fang")))
    last = len(raw["people"]) - 1
    first = index_of(raw, "people", "rep-wang-fang")
    assert problems_of(raw) == [
        f"people[{last}] 'rep-wang-fang': duplicate id, first used by people[{first}]"
    ]


def test_unknown_team_member_lead_and_chain_person_are_rejected(raw: dict[str, Any]) -> None:
    team = entry(raw, "teams", "logistics")
    team["members"] = [*team["members"], "lg-ghost"]
    team["escalation_chain"] = ["lg-cao-yang", "ll-nobody"]
    team["lead"] = "ll-phantom"
    problems = problems_of(raw)
    assert "teams[2] 'logistics': member 'lg-ghost' is not a person in the directory" in problems
    assert (
        "teams[2] 'logistics': escalation_chain person 'll-nobody' is not a person in the directory"
    ) in problems
    assert "teams[2] 'logistics': lead 'll-phantom' is not a person in the directory" in problems


def test_document_type_owned_by_two_tech_groups_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "teams", "tech-structural")["document_types"].append("energy_test_data")
    assert problems_of(raw) == [
        "document_types[2] 'energy_test_data': owned by 2 tech groups: "
        "'tech-electrical', 'tech-structural'"
    ]


def test_document_type_owned_by_no_tech_group_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "teams", "tech-structural")["document_types"].remove("installation_drawing_3d")
    assert problems_of(raw) == [
        "document_types[1] 'installation_drawing_3d': no tech group owns it"
    ]


def test_only_tech_teams_own_document_types(raw: dict[str, Any]) -> None:
    entry(raw, "teams", "logistics")["document_types"] = ["wiring_diagram"]
    problems = problems_of(raw)
    assert "teams[2] 'logistics': only tech teams own document_types, this is logistics" in problems


def test_team_owning_an_unknown_document_type_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "teams", "tech-electrical")["document_types"].append("user_manual")
    assert problems_of(raw) == [
        "teams[0] 'tech-electrical': document type 'user_manual' is not in document_types"
    ]


def test_stage_owned_by_an_unknown_team_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "stages", "stocking_start")["owner"] = "warehouse"
    assert problems_of(raw) == [
        "stages[1] 'stocking_start': owner 'warehouse' is not a team in the directory "
        "(nor 'requester' or 'by_document_type')"
    ]


def test_stage_owner_team_without_an_escalation_chain_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "teams", "logistics")["escalation_chain"] = []
    assert problems_of(raw) == [
        "stages[1] 'stocking_start': owner team 'logistics' has no escalation_chain"
    ]


def test_missing_required_stage_is_rejected(raw: dict[str, Any]) -> None:
    raw["stages"] = [s for s in raw["stages"] if s["id"] != "receipt_confirmation"]
    assert problems_of(raw) == ["stages: required stage 'receipt_confirmation' is missing"]


def test_preferred_channel_without_an_address_is_rejected(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-zhang-wei")["preferred_channel"] = "feishu"
    i = index_of(raw, "people", "rep-zhang-wei")
    assert problems_of(raw) == [
        f"people[{i}] 'rep-zhang-wei': preferred_channel feishu has no address"
    ]


def test_person_nobody_can_reach_is_rejected(raw: dict[str, Any]) -> None:
    raw["people"].append(
        {"id": "rep-silent", "name": "无名", "roles": ["sales_rep"], "org_unit": "hq"}
    )
    (problem,) = problems_of(raw)
    assert problem.startswith(f"people[{len(raw['people']) - 1}] 'rep-silent': needs at least one")


def test_unknown_top_level_section_is_rejected(raw: dict[str, Any]) -> None:
    raw["peoples"] = []
    assert problems_of(raw) == ["peoples: is not a known section"]


def test_all_problems_are_reported_at_once(raw: dict[str, Any]) -> None:
    entry(raw, "people", "rep-zhang-wei")["manager"] = "lead-x"
    entry(raw, "people", "rep-liu-yang")["roles"] = ["salesrep"]
    entry(raw, "org_units", "group-south-1")["parent"] = "region-west"
    entry(raw, "stages", "stocking_start")["owner"] = "warehouse"
    entry(raw, "teams", "tech-structural")["document_types"].append("energy_test_data")
    problems = problems_of(raw)
    assert len(problems) == 5
    for named in ("'rep-zhang-wei'", "'rep-liu-yang'", "'group-south-1'", "'stocking_start'"):
        assert any(named in problem for problem in problems), named


def test_a_broken_entry_does_not_make_its_reports_unknown(raw: dict[str, Any]) -> None:
    # gl-li-na's role typo must not also produce "manager 'gl-li-na' is not a person".
    entry(raw, "people", "gl-li-na")["roles"] = ["grouplead"]
    (problem,) = problems_of(raw)
    assert "'gl-li-na': roles[0]: 'grouplead'" in problem


def test_error_message_lists_the_problems_and_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "org.yaml"
    broken.write_text("people: [\n", encoding="utf-8")
    with pytest.raises(OrgDirectoryError, match="not valid YAML") as caught:
        load_org_directory(broken)
    assert str(broken) in str(caught.value)


def test_directory_built_from_models_is_checked_too(org: OrgDirectory) -> None:
    orphan = org.person("rep-zhang-wei").model_copy(update={"manager": "lead-x"})
    with pytest.raises(ValidationError, match="manager 'lead-x' is not a person"):
        OrgDirectory(
            people=(orphan,),
            org_units=org.org_units,
            teams=(),
            stages=org.stages,
            document_types=(),
        )


def test_directory_entries_are_frozen(org: OrgDirectory) -> None:
    with pytest.raises(ValidationError):
        org.person("rep-zhang-wei").name = "改名"  # type: ignore[misc]
