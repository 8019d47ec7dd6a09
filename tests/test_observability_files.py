"""deploy/prometheus and deploy/grafana: rules that parse (and fire when they should), a
dashboard that loads, and every metric they name is one the services really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from salesops.testing.apps import RunningService

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "salesops-dashboard.json"
DATASOURCE_UID = "salesops-prometheus"

#: Series Prometheus makes itself for every target.
SYNTHETIC = frozenset({"up"})
_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals (label values)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables ($job, $__rate_interval)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        followed_by = expr[match.end() :].lstrip()
        if followed_by.startswith("(") or match.group() in _PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        names.add(match.group())
    return names


def test_metric_names_finds_the_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(x_seconds_bucket{job=~"$job"}'
        "[$__rate_interval]))) > 1e3 and on (job) max(y_total offset 5m) unless z"
    )
    assert metric_names(expr) == {"x_seconds_bucket", "y_total", "z"}


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    rules = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"}, group.get("name")
        assert group["rules"], group["name"]
        rules += group["rules"]
    return rules


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """The PromQL of every panel, and of every variable (Grafana's ``label_values(m, label)``
    asks for the series ``m``)."""
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        found = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
        assert found, variable["definition"]
        queries.append(found.group(1))
    return queries


@pytest.fixture
async def exported(customers: RunningService) -> frozenset[str]:
    """Every series name a running service serves on /metrics (all share the same set)."""
    response = await customers.client.get("/metrics")
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.text):
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return frozenset(names)


def test_every_alert_is_complete(alert_rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names))
    for rule in alert_rules:
        assert re.fullmatch(r"Salesops[A-Z][A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0m")), rule["alert"]
    # What operations asked for: a stuck relay, growing consumer lag, dead letters.
    assert {"SalesopsRelayStuck", "SalesopsConsumerLagGrowing", "SalesopsDeadLetters"} <= set(names)


@pytest.mark.integration
async def test_alerts_and_dashboard_name_only_exported_metrics(
    exported: frozenset[str], alert_rules: list[dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    known = exported | SYNTHETIC
    for rule in alert_rules:
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, (rule["alert"], used - known)
    for query in dashboard_queries(dashboard):
        used = metric_names(query)
        assert used, query
        assert used <= known, (query, used - known)
    # And the dashboard shows every operational metric (and the HTTP ones).
    shown = set().union(*(metric_names(q) for q in dashboard_queries(dashboard)))
    operational = {n for n in exported if n.startswith("salesops_") and not n.endswith("_created")}
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in operational}
    shown_families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in shown}
    assert families <= shown_families, families - shown_families
    assert {"http_requests_total", "http_request_duration_seconds_bucket"} <= shown


def test_the_dashboard_is_a_grafana_dashboard_on_the_provisioned_datasource(
    dashboard: dict[str, Any],
) -> None:
    assert dashboard["uid"] == "salesops-operations"
    assert dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    for panel in panels:
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is not installed: `make test` installs it on Debian as root "
            "(apt-get install --no-install-recommends prometheus)"
        )
    return subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    rules = _promtool("check", "rules", ALERTS.name)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = _promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_alerts_fire_when_they_should_and_only_then() -> None:
    """The unit tests beside the rules: quiet on healthy series, firing on broken ones."""
    result = _promtool("test", "rules", "alerts.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_would_catch_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum by (job (up)\n"
    )
    result = _promtool("check", "rules", str(broken))
    assert result.returncode != 0
