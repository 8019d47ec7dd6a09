"""The Kubernetes manifests (deploy/k8s), rendered and checked without a cluster.

Each overlay is rendered by ``kubectl kustomize`` (the kustomize built into kubectl), every
object is validated against the Kubernetes OpenAPI schemas by ``kubernetes-validate
--strict`` (schemas bundled in the package: no network, no cluster), and then the
properties the manifests promise are checked on the rendered objects, the form a cluster
would receive. Each check returns the problems it finds; a last test renders a deliberately
broken copy of the production overlay and expects every check, and the validator, to
report what was broken — so none of them passes by accident.
"""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from salesops.catalog import CATALOG
from salesops.settings import DEV_JWT_SECRET
from services.notifier.settings import NotifierSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "production")
NATS_HELM_VALUES = K8S / "nats-helm-values.yaml"

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

    A value from a ConfigMap is given as ``{"value": ...}`` like a literal (it is no secret);
    a value from a Secret keeps its ``valueFrom``. A ConfigMap that is not rendered adds
    nothing (config_problems reports it).
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
        env[variable["name"]] = {k: v for k, v in variable.items() if k != "name"}
    return env


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
        is_service = workload["metadata"]["name"] in services_of(objects)
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
    for name, deployment in services_of(objects).items():
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
    for name, deployment in services_of(objects).items():
        replicas = deployment["spec"].get("replicas", 1)
        if replicas < at_least or (at_most is not None and replicas > at_most):
            bounds = f"{at_least}..{at_most}" if at_most is not None else f">= {at_least}"
            problems.append(f"Deployment/{name}: {replicas} replicas, not {bounds}")
    return problems


def spread_problems(objects: list[Json]) -> list[str]:
    """Each service's pods spread over nodes: a hard topology spread or anti-affinity."""
    problems: list[str] = []
    for name, deployment in services_of(objects).items():
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
    for name, deployment in services_of(objects).items():
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
    kinds = ("Deployment", "StatefulSet", "Service", "ServiceAccount", "PodDisruptionBudget")
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
    ],
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_keeps_its_promises(overlay: str, check: Any) -> None:
    assert check(rendered(overlay)) == []


# --------------------------------------------------------------------------- production


def test_production_runs_two_replicas_of_each_service_over_several_nodes() -> None:
    objects = rendered("production")
    assert set(services_of(objects)) == set(CATALOG)
    assert replica_problems(objects, at_least=2) == []
    assert spread_problems(objects) == []


def test_production_settings() -> None:
    objects = rendered("production")
    services = set(CATALOG)
    assert settings_of(objects, "SALESOPS_ENVIRONMENT") == dict.fromkeys(services, "production")
    assert settings_of(objects, "SALESOPS_NATS_STREAM_REPLICAS") == dict.fromkeys(services, "3")


def test_production_commits_no_secret_and_documents_every_key() -> None:
    objects = rendered("production")
    assert of_kind(objects, "Secret") == []
    documentation = (K8S / "overlays" / "production" / "kustomization.yaml").read_text("utf-8")
    for deployment in services_of(objects).values():
        for variable in effective_env(main_container(deployment), objects).values():
            reference = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if reference is not None:
                assert reference["name"] in documentation, reference
                assert re.search(rf"\b{re.escape(reference['key'])}\b", documentation), reference


def test_production_uses_an_external_postgresql_and_the_nats_cluster_of_the_helm_values() -> None:
    objects = rendered("production")
    # Nothing of the development stack: PostgreSQL and NATS are outside the overlay.
    assert workloads(objects) == list(services_of(objects).values())
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


def test_dev_secrets_are_only_the_well_known_development_ones() -> None:
    objects = rendered("dev")
    jwt = named(objects, "Secret", _referenced_secret(objects, "SALESOPS_JWT_SECRET"))
    assert jwt is not None
    assert _secret_value(jwt, "jwt-secret") == DEV_JWT_SECRET


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
    ]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")

    broken = render(overlay)

    def reported(problems: list[str], *fragments: str) -> bool:
        return any(all(f in problem for f in fragments) for problem in problems)

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
    # ...and what was not broken still passes.
    assert not reported(hardening_problems(broken), "Deployment/notifier")
    assert not reported(replica_problems(broken, at_least=2), "Deployment/customers")
