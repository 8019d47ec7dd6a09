"""The generated company: deterministic, valid, and shaped like the article's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from salesops.cli import main
from salesops.demo import FULL, SMALL, generate_company
from salesops.orgdir import Role, load_org_directory
from salesops.settings import REPO_ROOT


def test_the_same_seed_gives_the_same_directory_and_another_seed_another() -> None:
    first, again = generate_company(5), generate_company(5)
    assert first.org_yaml() == again.org_yaml()
    other = generate_company(6)
    assert other.org_yaml() != first.org_yaml()
    # Different people, not only the same people in another order.
    assert {p["name"] for p in other.mapping["people"]} != {
        p["name"] for p in first.mapping["people"]
    }


def test_the_full_company_has_137_people_in_the_articles_role_mix(tmp_path: Path) -> None:
    company = generate_company(137)
    path = tmp_path / "org.yaml"
    path.write_text(company.org_yaml(), encoding="utf-8")
    directory = load_org_directory(path)  # as every service loads it: every check applies
    assert len(directory.people) == 137 == FULL.headcount
    roles = Counter(role for person in directory.people for role in person.roles)
    assert roles == {
        Role.SALES_DIRECTOR: 1,
        Role.SALES_MANAGER: 6,
        Role.GROUP_LEAD: 16,
        Role.SALES_REP: 85,
        Role.TECH_DIRECTOR: 1,
        Role.TECH_LEAD: 3,
        Role.TECH_ENGINEER: 12,
        Role.LOGISTICS_LEAD: 1,
        Role.LOGISTICS: 6,
        Role.FINANCE_RISK: 4,
        Role.ADMIN: 2,
        Role.DEPARTMENT_HEAD: 4,  # sales, tech, logistics and finance each have one
    }
    kinds = Counter(str(unit.kind) for unit in directory.org_units)
    assert (kinds["hq"], kinds["region"], kinds["group"]) == (1, 6, 16)
    assert [unit.id for unit in directory.org_units if unit.kind == "region"] == [
        r.id for r in company.regions
    ]


def test_reporting_lines_run_rep_lead_manager_director_within_the_units() -> None:
    company = generate_company(21)
    directory = company.directory
    for region in company.regions:
        assert directory.person(region.manager).manager == company.sales_director
        assert directory.person(region.manager).org_unit == region.id
        for group in region.groups:
            lead = directory.person(group.lead)
            assert (lead.manager, lead.org_unit) == (region.manager, group.id)
            assert directory.org_unit(group.id).parent == region.id
            for rep in group.reps:
                person = directory.person(rep)
                assert (person.manager, person.org_unit) == (group.lead, group.id)
                # Whom the services ask: the rep's sales manager joins negotiations.
                manager = directory.first_with_role_above(rep, Role.SALES_MANAGER)
                assert manager is not None
                assert manager.id == region.manager


def test_tech_groups_own_every_document_and_escalate_to_the_tech_director() -> None:
    company = generate_company(3)
    directory = company.directory
    for doc in directory.document_types:
        group = directory.tech_group_for(doc.id)
        chain = [p.id for p in directory.escalation_chain("tech_answer", team_id=group.id)]
        assert chain[-1] == company.tech_director
        assert directory.person(chain[0]).has_role(Role.TECH_ENGINEER)
    stocking = [p.id for p in directory.escalation_chain("stocking_start")]
    assert stocking[-1] == company.logistics_lead
    rep = company.reps[0]
    receipt = [p.id for p in directory.escalation_chain("receipt_confirmation", rep)]
    assert receipt[:2] == [rep, company.group_of(rep).lead]


def test_every_address_is_fictitious_and_everyone_is_reachable() -> None:
    company = generate_company(8)
    for person in company.directory.people:
        assert person.email is not None
        assert person.email.endswith("@kangtuo-med.example.com")
        assert person.channels()[0] == person.preferred_channel
        if person.webhook_url:
            assert ".example.com/" in person.webhook_url
    channels = Counter(p.preferred_channel for p in company.directory.people)
    assert {"dingtalk", "wecom", "feishu", "email"} <= set(channels)


def test_a_small_company_is_valid_too_and_salesops_org_check_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    company = generate_company(2, SMALL)
    assert len(company.directory.people) == SMALL.headcount
    path = tmp_path / "org.yaml"
    path.write_text(company.org_yaml(), encoding="utf-8")
    assert main(["org", "check", str(path), str(REPO_ROOT / "deploy" / "policy.yaml")]) == 0
    assert f"{SMALL.headcount} people, valid" in capsys.readouterr().out
