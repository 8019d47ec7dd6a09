"""The salesops command as a user types it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from salesops.auth import TokenIssuer
from salesops.settings import DEV_JWT_SECRET, REPO_ROOT


def salesops(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesops.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_token_mints_a_development_token_for_a_person_of_the_directory() -> None:
    result = salesops("token", "--user", "rep-zhang-wei")
    assert result.returncode == 0, result.stderr
    assert "development secret" in result.stderr
    assert (
        TokenIssuer(DEV_JWT_SECRET, "salesops").subject_of(result.stdout.strip()) == "rep-zhang-wei"
    )


def test_token_refuses_someone_not_in_the_directory() -> None:
    result = salesops("token", "--user", "nobody")
    assert result.returncode == 2
    assert "nobody" in result.stderr


def test_contracts_export_writes_one_schema_per_event_and_an_asyncapi_document(
    tmp_path: Path,
) -> None:
    result = salesops("contracts", "export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert "asyncapi.yaml" in names
    assert "sales.customers.decision_state_changed.v1.schema.json" in names
    assert "sales.collaboration.ticket_timed_out.v1.schema.json" in names


def test_org_check_accepts_the_sample_and_names_the_entry_of_a_broken_file(tmp_path: Path) -> None:
    assert salesops("org", "check").returncode == 0
    broken = tmp_path / "org.yaml"
    broken.write_text(
        (REPO_ROOT / "deploy" / "org.yaml")
        .read_text()
        .replace("manager: gl-li-na", "manager: gl-nobody", 1)
    )
    result = salesops("org", "check", str(broken), str(REPO_ROOT / "deploy" / "policy.yaml"))
    assert result.returncode == 1
    assert "gl-nobody" in result.stderr


def test_serve_without_a_database_url_fails_fast_naming_the_variable() -> None:
    result = salesops("serve", "customers")
    assert result.returncode == 2
    assert "SALESOPS_DATABASE_URL is not set" in result.stderr
