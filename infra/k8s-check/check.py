#!/usr/bin/env python3
"""Offline checks of the rendered Kubernetes manifests (run by infra/k8s-check.sh).

    check.py --overlay NAME RENDERED.yaml   validate one rendered overlay
    check.py --self-test RENDERED.yaml      break a rendered overlay on purpose, expect failures

Per overlay:
  1. built-in kinds against the official Kubernetes OpenAPI schemas (kubernetes-validate, strict,
     Kubernetes K8S_VERSION);
  2. Strimzi and CloudNativePG objects, the OpenTelemetry Collector configuration and the Grafana
     dashboard against the hand-written JSON schemas in k8s/schemas/ (prometheus-operator objects
     are validated by validate-prometheus-operator.mjs against schemas generated from the
     upstream CRDs; the shell script runs it);
  3. policies: every container has limits, runs as non-root with a read-only root file system and
     no privilege escalation; long-running containers have probes; cross-references (HPA, PDB,
     Service, NetworkPolicy, PodMonitor and metrics port per Deployment, Secrets that exist or
     are generated, Kafka and Postgres settings that agree with the CRs).
Prints one line per failure and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "k8s" / "schemas"
K8S_VERSION = "1.30.0"

# Kinds validated against hand-written schemas, with the schema file.
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): "strimzi-kafka.schema.json",
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): "strimzi-kafkanodepool.schema.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "strimzi-kafkatopic.schema.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.schema.json",
}
# Validated by validate-prometheus-operator.mjs (schemas generated from the upstream CRDs).
PROMETHEUS_OPERATOR_KINDS = {"PrometheusRule", "ServiceMonitor", "PodMonitor"}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# Secrets the SRE creates by hand (docs/deploy.md); every other secretKeyRef must name a Secret a
# CloudNativePG Cluster in the same render generates.
EXTERNAL_SECRETS = {"tuan-jwt", "tuan-users-discovery", "tuan-users-phone-codes", "tuan-users-sms", "tuan-payments-wechat"}
# Outside providers each service calls over HTTPS (port 443, ipBlock peers only).
OUTSIDE_PROVIDERS = {
    "users": "the SMS gateway (TUAN_USERS__SMS__URL)",
    "payments": "WeChat Pay (TUAN_PAYMENTS__WECHAT__BASE_URL)",
}
# Ports where an outside provider calls a service back (through the ingress controller only).
CALLBACK_PORTS = {"payments": 8480}
INGRESS_CONTROLLER_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
SERVICES = {"users": 50051, "circles": 50052, "groupbuy": 50053, "payments": 50054, "gateway": 50050}
# Every service serves /metrics here (TUAN_METRICS_ADDR); Prometheus scrapes each pod (PodMonitor).
METRICS_PORT = 9464
# Who may scrape it: Prometheus' pods in the namespace `monitoring` (docs/deploy.md prerequisites).
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
TOPICS = {"tuan.users.v1", "tuan.circles.v1", "tuan.groupbuy.v1", "tuan.payments.v1", "tuan.deadletter.v1"}
# The metrics the services expose (plus kube-state-metrics') that rules and dashboards may use.
KNOWN_METRICS = {
    "tuan_rpc_requests_total", "tuan_rpc_duration_seconds_bucket", "tuan_rpc_duration_seconds_count",
    "tuan_rpc_duration_seconds_sum", "tuan_consumer_lag", "tuan_outbox_backlog",
    "tuan_outbox_oldest_age_seconds", "tuan_dead_letters_total", "tuan_saga_oldest_unfinished_seconds",
    "tuan_consumer_events_total", "tuan_dead_letters_waiting", "tuan_db_pool_connections", "tuan_sagas",
    "tuan_holds_open", "tuan_holds_open_amount",
    "kube_deployment_status_replicas_available",
}
# What each overlay must guarantee about Kafka durability.
KAFKA_EXPECTATIONS = {"prod": {"replicas": 3, "min_insync": 2}, "dev": {"replicas": 1, "min_insync": 1}}


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked = 0

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")

    def ok(self) -> None:
        self.checked += 1


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def schema(file: str) -> dict:
    return json.loads((SCHEMAS / file).read_text())


def short(err: jsonschema.ValidationError) -> str:
    path = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"{path}: {err.message[:300]}"


# ---------------------------------------------------------------------------------------------
# 1 + 2: schemas


def validate_schemas(objs: list[dict], r: Report) -> None:
    for obj in objs:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in CRD_SCHEMAS:
            validator = jsonschema.Draft202012Validator(schema(CRD_SCHEMAS[key]))
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
            for e in errors:
                r.fail(name_of(obj), f"{CRD_SCHEMAS[key]}: {short(e)}")
            if not errors:
                r.ok()
        elif obj.get("kind") in PROMETHEUS_OPERATOR_KINDS:
            continue
        elif "." in str(obj.get("apiVersion", "")).split("/")[0] and not str(obj["apiVersion"]).split("/")[0].endswith(
            ".k8s.io"
        ):
            r.fail(name_of(obj), f"custom resource {obj['apiVersion']} has no schema (add one to k8s/schemas/)")
        else:
            try:
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                r.ok()
            except kubernetes_validate.ValidationError as e:
                path = "/".join(str(p) for p in e.path) or "(root)"
                r.fail(name_of(obj), f"Kubernetes {K8S_VERSION} schema: {path}: {e.message[:300]}")
            except kubernetes_validate.SchemaNotFoundError:
                r.fail(name_of(obj), f"no Kubernetes {K8S_VERSION} schema for {obj.get('apiVersion')}")


# ---------------------------------------------------------------------------------------------
# 3: policies


def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    spec = obj.get("spec", {})
    if kind == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    if kind in WORKLOAD_KINDS:
        return spec.get("template", {}).get("spec")
    return None


def pod_labels(obj: dict) -> dict:
    return obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})


def selects(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels", {}) if "matchLabels" in selector or "matchExpressions" in selector else selector
    if selector.get("matchExpressions"):
        return False  # not used here; treat as no match so a policy must be explicit
    return all(labels.get(k) == v for k, v in match.items())


def check_containers(obj: dict, r: Report) -> None:
    spec = pod_spec(obj)
    if spec is None:
        return
    where = name_of(obj)
    long_running = obj["kind"] not in {"Job", "CronJob"}
    pod_sc = spec.get("securityContext", {})
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        r.fail(where, "uses host namespaces")
    if spec.get("automountServiceAccountToken") is not False:
        r.fail(where, "automountServiceAccountToken must be false (no service talks to the API server)")
    containers = [("container", c) for c in spec.get("containers", [])]
    containers += [("initContainer", c) for c in spec.get("initContainers", [])]
    if not containers:
        r.fail(where, "no containers")
    for role, c in containers:
        cw = f"{where} {role} {c.get('name')}"
        sc = c.get("securityContext", {})
        limits = c.get("resources", {}).get("limits", {})
        requests = c.get("resources", {}).get("requests", {})
        for res in ("cpu", "memory"):
            if res not in limits:
                r.fail(cw, f"resources.limits.{res} missing")
            if res not in requests:
                r.fail(cw, f"resources.requests.{res} missing")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            r.fail(cw, "runAsNonRoot must be true (container or pod securityContext)")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            r.fail(cw, "runAsUser 0")
        if sc.get("readOnlyRootFilesystem") is not True:
            r.fail(cw, "securityContext.readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            r.fail(cw, "securityContext.allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            r.fail(cw, "privileged")
        if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
            r.fail(cw, "securityContext.capabilities.drop must contain ALL")
        image = c.get("image", "")
        tag = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
            r.fail(cw, f"image {image!r} must have a pinned tag or digest (not latest)")
        if role == "container" and long_running:
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    r.fail(cw, f"{probe} missing")
        for env in c.get("env", []):
            if re.search(r"SECRET|PASSWORD|TOKEN|DATABASE__URL", env.get("name", "")) and "value" in env:
                r.fail(cw, f"env {env['name']} has a literal value; use secretKeyRef")
    r.ok()


def check_app_deployment(dep: dict, objs: list[dict], r: Report) -> None:
    """A service Deployment (tier app): gRPC probes on its port, drain, and its companions."""
    where = name_of(dep)
    name = dep["metadata"]["name"]
    spec = pod_spec(dep)
    labels = pod_labels(dep)
    c = spec["containers"][0]
    port = SERVICES.get(name)
    if port is None:
        r.fail(where, f"unknown service {name} (known: {', '.join(SERVICES)})")
        return
    ports = {p.get("containerPort") for p in c.get("ports", [])}
    if port not in ports:
        r.fail(where, f"containerPort {port} missing")
    check_metrics_endpoint(dep, objs, r)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc = c.get(probe, {}).get("grpc")
        if not grpc or grpc.get("port") != port:
            r.fail(where, f"{probe} must be a gRPC probe on port {port}")
    if "replicas" in dep["spec"]:
        r.fail(where, "spec.replicas is set although an HPA owns the count (apply would reset scaling)")
    pre = c.get("lifecycle", {}).get("preStop")
    if not pre:
        r.fail(where, "lifecycle.preStop missing (endpoints must be removed before SIGTERM)")
    else:
        sleep = pre.get("sleep", {}).get("seconds", 0)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace < sleep + 10 + 15:
            r.fail(where, f"terminationGracePeriodSeconds {grace} < preStop {sleep} s + 10 s background drain + 15 s for RPCs")
    if dep["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") not in (0, "0", "0%"):
        r.fail(where, "rollingUpdate.maxUnavailable must be 0")
    if not spec.get("topologySpreadConstraints"):
        r.fail(where, "topologySpreadConstraints missing")
    sa = spec.get("serviceAccountName")
    if not any(o["kind"] == "ServiceAccount" and o["metadata"]["name"] == sa for o in objs):
        r.fail(where, f"ServiceAccount {sa!r} not in the render")
    hpa = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"].get("name") == name]
    if not hpa:
        r.fail(where, "no HorizontalPodAutoscaler targets it")
    elif hpa[0]["spec"].get("minReplicas", 1) > hpa[0]["spec"]["maxReplicas"]:
        r.fail(name_of(hpa[0]), "minReplicas > maxReplicas")
    if not any(o["kind"] == "PodDisruptionBudget" and selects(o["spec"]["selector"], labels) for o in objs):
        r.fail(where, "no PodDisruptionBudget selects its pods")
    if not any(o["kind"] == "Service" and o["spec"].get("selector") and selects(o["spec"]["selector"], labels) for o in objs):
        r.fail(where, "no Service selects its pods")
    policies = [o for o in objs if o["kind"] == "NetworkPolicy" and selects(o["spec"]["podSelector"], labels)]
    own = [p for p in policies if set(p["spec"].get("policyTypes", [])) >= {"Ingress", "Egress"} and (p["spec"].get("ingress") or p["spec"].get("egress"))]
    deny = [p for p in policies if set(p["spec"].get("policyTypes", [])) >= {"Ingress", "Egress"} and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    if not own:
        r.fail(where, "no NetworkPolicy with explicit ingress and egress rules selects its pods")
    if not deny:
        r.fail(where, "no default-deny NetworkPolicy selects its pods")
    for p in own:
        check_service_policy(name, port, p, objs, r)
    r.ok()


def check_metrics_endpoint(dep: dict, objs: list[dict], r: Report) -> None:
    """/metrics is served on every interface at the port named `metrics`, and a PodMonitor scrapes it."""
    where = name_of(dep)
    c = pod_spec(dep)["containers"][0]
    named = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if named.get("metrics") != METRICS_PORT:
        r.fail(where, f"container port `metrics` must be {METRICS_PORT} (Prometheus scrapes it)")
    addr = config_of(dep, objs).get("TUAN_METRICS_ADDR", "")
    if addr != f"0.0.0.0:{METRICS_PORT}":
        r.fail(where, f"TUAN_METRICS_ADDR {addr!r} must be 0.0.0.0:{METRICS_PORT} (the default binds 127.0.0.1: unreachable)")
    labels = pod_labels(dep)
    monitors = [o for o in objs if o["kind"] == "PodMonitor" and selects(o["spec"].get("selector", {}), labels)]
    endpoints = [e for m in monitors for e in m["spec"].get("podMetricsEndpoints", [])]
    if not any(e.get("port") == "metrics" and e.get("path", "/metrics") == "/metrics" for e in endpoints):
        r.fail(where, "no PodMonitor scrapes its port `metrics` at /metrics")
    elif not all(e.get("honorLabels") is True for e in endpoints):
        r.fail(where, "PodMonitor endpoints must set honorLabels: true (keep the exporter's service_name)")


def check_service_policy(name: str, port: int, policy: dict, objs: list[dict], r: Report) -> None:
    """Only the traffic the architecture needs: gateway in, Prometheus scrapes, own Postgres,
    Kafka, collector, DNS out."""
    where = name_of(policy)
    scraped = False
    for rule in policy["spec"].get("ingress", []):
        rule_ports = {p.get("port") for p in rule.get("ports", [])}
        peers = rule.get("from", [])
        if rule_ports == {METRICS_PORT}:
            if not peers or any(p != PROMETHEUS_PEER for p in peers):
                r.fail(where, f"ingress to {METRICS_PORT} must come from Prometheus' pods in namespace monitoring only")
            scraped = True
            continue
        if name in CALLBACK_PORTS and rule_ports == {CALLBACK_PORTS[name]}:
            if not peers or any(p != INGRESS_CONTROLLER_PEER for p in peers):
                r.fail(where, f"ingress to the callback port {CALLBACK_PORTS[name]} must come from the ingress controller only")
            continue
        if rule_ports != {port}:
            r.fail(where, f"ingress on ports {sorted(rule_ports)}; only {port} (and {METRICS_PORT} from Prometheus) is allowed")
        if name != "gateway":
            if not peers or any(p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") != "gateway" or "namespaceSelector" in p for p in peers):
                r.fail(where, "ingress must come from the gateway pods only")
    if not scraped:
        r.fail(where, f"no ingress rule lets Prometheus scrape port {METRICS_PORT}")
    allowed_egress = {53, 4317}
    if name != "gateway":
        allowed_egress |= {5432, 9092}
    # Outside providers a service calls over HTTPS, to addresses outside the cluster only.
    outside = OUTSIDE_PROVIDERS.get(name)
    if outside:
        allowed_egress.add(443)
    else:
        allowed_egress |= {p for s, p in SERVICES.items() if s != "gateway"}
    for rule in policy["spec"].get("egress", []):
        if not rule.get("to"):
            r.fail(where, "egress rule without 'to' allows every destination")
        for p in rule.get("ports", []) or [{"port": None}]:
            if p.get("port") not in allowed_egress:
                r.fail(where, f"egress to port {p.get('port')} is not needed by {name}")
        if 443 in {p.get("port") for p in rule.get("ports", [])} and any("ipBlock" not in peer for peer in rule["to"]):
            r.fail(where, f"egress to port 443 is for {outside or 'an outside provider'}, outside the cluster: ipBlock only")
        for peer in rule.get("to", []):
            pg = peer.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster")
            if pg and pg != f"tuan-{name}-pg":
                r.fail(where, f"egress to another service's database {pg}")


def check_secrets(objs: list[dict], r: Report) -> None:
    generated = {f"{o['metadata']['name']}-app" for o in objs if o["kind"] == "Cluster"}
    for o in objs:
        if o["kind"] == "Secret":
            r.fail(name_of(o), "a Secret is in the render: secrets are never committed (docs/deploy.md)")
        spec = pod_spec(o)
        if not spec:
            continue
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            refs = [e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
            refs += [e["secretRef"] for e in c.get("envFrom", []) if "secretRef" in e]
            for ref in refs:
                if ref["name"] not in EXTERNAL_SECRETS | generated:
                    r.fail(name_of(o), f"secret {ref['name']!r} is neither generated by a CloudNativePG Cluster here nor a documented external secret")
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if env.get("name") == "TUAN_DATABASE__URL":
                    svc = o["metadata"]["labels"].get("app.kubernetes.io/name")
                    if not ref or ref["name"] != f"tuan-{svc}-pg-app" or ref.get("key") != "uri":
                        r.fail(name_of(o), f"TUAN_DATABASE__URL must come from secret tuan-{svc}-pg-app key uri")
    r.ok()


def config_of(obj: dict, objs: list[dict]) -> dict:
    spec = pod_spec(obj)
    data: dict = {}
    for c in spec.get("containers", [])[:1]:
        for ref in c.get("envFrom", []):
            cm = ref.get("configMapRef", {}).get("name")
            found = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm]
            if not found:
                r_missing = f"ConfigMap {cm} missing"
                data.setdefault("__missing__", []).append(r_missing)
            for o in found:
                data.update(o.get("data", {}))
    return data


def check_kafka(objs: list[dict], overlay: str | None, r: Report) -> None:
    kafkas = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Kafka"}
    pools = [o for o in objs if o["kind"] == "KafkaNodePool"]
    topics = [o for o in objs if o["kind"] == "KafkaTopic"]
    if len(kafkas) != 1:
        r.fail("Kafka", f"expected one Kafka, found {len(kafkas)}")
        return
    kname, kafka = next(iter(kafkas.items()))
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"] and p["metadata"]["labels"].get("strimzi.io/cluster") == kname)
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"] and p["metadata"]["labels"].get("strimzi.io/cluster") == kname)
    for p in pools + topics:
        if p["metadata"].get("labels", {}).get("strimzi.io/cluster") != kname:
            r.fail(name_of(p), f"label strimzi.io/cluster must name the Kafka {kname}")
    if controllers % 2 == 0:
        r.fail("KafkaNodePool", f"{controllers} KRaft controllers: use an odd number for a quorum")
    cfg = kafka["spec"]["kafka"].get("config", {})
    expect = KAFKA_EXPECTATIONS.get(overlay or "")
    rf, isr = cfg.get("default.replication.factor", 1), cfg.get("min.insync.replicas", 1)
    if rf > brokers:
        r.fail(name_of(kafka), f"default.replication.factor {rf} > {brokers} brokers")
    names = {t["spec"].get("topicName", t["metadata"]["name"]) for t in topics}
    if names != TOPICS:
        r.fail("KafkaTopic", f"topics {sorted(names)} != {sorted(TOPICS)}")
    for t in topics:
        tw = name_of(t)
        reps = t["spec"]["replicas"]
        tisr = t["spec"].get("config", {}).get("min.insync.replicas", isr)
        if reps > brokers:
            r.fail(tw, f"replicas {reps} > {brokers} brokers")
        if reps > 1 and tisr >= reps:
            r.fail(tw, f"min.insync.replicas {tisr} >= replicas {reps}: one broker down stops every producer (acks=all)")
        if "retention.ms" not in t["spec"].get("config", {}):
            r.fail(tw, "retention.ms not set")
        if expect and (reps != expect["replicas"] or tisr != expect["min_insync"]):
            r.fail(tw, f"{overlay}: replicas {reps} / min.insync.replicas {tisr}, expected {expect['replicas']} / {expect['min_insync']}")
    if expect and (rf != expect["replicas"] or isr != expect["min_insync"]):
        r.fail(name_of(kafka), f"{overlay}: default.replication.factor {rf} / min.insync.replicas {isr}, expected {expect['replicas']} / {expect['min_insync']}")
    # The services' settings must agree with the cluster and the topics.
    by_topic = {t["spec"].get("topicName"): t for t in topics}
    for dep in objs:
        if dep["kind"] != "Deployment" or pod_labels(dep).get("tuan.io/kafka-client") != "true":
            continue
        svc = dep["metadata"]["name"]
        conf = config_of(dep, objs)
        for miss in conf.get("__missing__", []):
            r.fail(name_of(dep), miss)
        host = conf.get("TUAN_KAFKA__BROKERS", "").split(",")[0]
        if host != f"{kname}-kafka-bootstrap:9092":
            r.fail(name_of(dep), f"TUAN_KAFKA__BROKERS {host!r} is not {kname}-kafka-bootstrap:9092")
        topic = by_topic.get(f"{conf.get('TUAN_KAFKA__TOPIC_PREFIX', '')}tuan.{svc}.v1")
        if not topic:
            r.fail(name_of(dep), f"no KafkaTopic for tuan.{svc}.v1")
            continue
        if str(topic["spec"]["partitions"]) != conf.get("TUAN_KAFKA__PARTITIONS"):
            r.fail(name_of(dep), f"TUAN_KAFKA__PARTITIONS {conf.get('TUAN_KAFKA__PARTITIONS')} != KafkaTopic partitions {topic['spec']['partitions']}")
        if str(topic["spec"]["replicas"]) != conf.get("TUAN_KAFKA__REPLICATION_FACTOR"):
            r.fail(name_of(dep), f"TUAN_KAFKA__REPLICATION_FACTOR {conf.get('TUAN_KAFKA__REPLICATION_FACTOR')} != KafkaTopic replicas {topic['spec']['replicas']}")
    r.ok()


def check_postgres(objs: list[dict], r: Report) -> None:
    clusters = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Cluster"}
    for svc in (s for s in SERVICES if s != "gateway"):
        c = clusters.get(f"tuan-{svc}-pg")
        if not c:
            r.fail("Cluster", f"tuan-{svc}-pg missing: every service with events owns a database")
            continue
        spec = c["spec"]
        initdb = spec.get("bootstrap", {}).get("initdb", {})
        if initdb.get("database") != f"tuan_{svc}":
            r.fail(name_of(c), f"bootstrap.initdb.database must be tuan_{svc}")
        n, lo, hi = spec["instances"], spec.get("minSyncReplicas", 0), spec.get("maxSyncReplicas", 0)
        if lo > hi or (n > 1 and hi >= n) or (n == 1 and hi > 0):
            r.fail(name_of(c), f"sync replicas {lo}..{hi} do not fit {n} instances")
        if not any(o["kind"] == "NetworkPolicy" and selects(o["spec"]["podSelector"], {"cnpg.io/cluster": c["metadata"]["name"]}) for o in objs):
            r.fail(name_of(c), "no NetworkPolicy restricts who reaches its pods")
    r.ok()


def check_jobs(objs: list[dict], r: Report) -> None:
    migrating = set()
    for o in objs:
        if o["kind"] != "Job":
            continue
        spec = pod_spec(o)
        c = spec["containers"][0]
        if o["metadata"].get("labels", {}).get("tuan.io/role") != "migrate":
            r.fail(name_of(o), "label tuan.io/role=migrate missing (docs/deploy.md applies Jobs by it)")
        if "--migrate-only" not in (c.get("args") or []):
            r.fail(name_of(o), "args must contain --migrate-only")
        if spec.get("restartPolicy") != "Never":
            r.fail(name_of(o), "restartPolicy must be Never (backoffLimit counts the retries)")
        if "activeDeadlineSeconds" not in o["spec"]:
            r.fail(name_of(o), "activeDeadlineSeconds missing: a stuck migration must fail the release")
        if any(e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "tuan-jwt" for e in c.get("env", [])):
            r.fail(name_of(o), "a migration Job holds the token key: migrating verifies and mints no token")
        migrating.add(o["metadata"]["labels"].get("app.kubernetes.io/name"))
    for svc in (s for s in SERVICES if s != "gateway"):
        if svc not in migrating:
            r.fail("Job", f"no migration Job for {svc}")
        dep = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == svc]
        job = [o for o in objs if o["kind"] == "Job" and o["metadata"]["labels"].get("app.kubernetes.io/name") == svc]
        if dep and job and pod_spec(dep[0])["containers"][0]["image"] != pod_spec(job[0])["containers"][0]["image"]:
            r.fail(name_of(job[0]), "image differs from the Deployment's: the Job must migrate to the release being rolled out")
    r.ok()


PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "without", "histogram_quantile",
                "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "le", "abs", "clamp_min", "absent", "bool"}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "{}", expr)
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", n) and "_" in n}


def check_monitoring(objs: list[dict], r: Report) -> None:
    deploy_md = (ROOT / "docs" / "deploy.md").read_text() if (ROOT / "docs" / "deploy.md").exists() else ""
    anchors = set(re.findall(r'<a id="([^"]+)"', deploy_md))
    rules = [o for o in objs if o["kind"] == "PrometheusRule"]
    if not rules:
        r.fail("PrometheusRule", "none in the render")
    records = set()
    for o in rules:
        for g in o["spec"]["groups"]:
            for rule in g["rules"]:
                if "record" in rule:
                    records.add(rule["record"])
    for o in rules:
        for g in o["spec"]["groups"]:
            for rule in g["rules"]:
                label = rule.get("alert") or rule.get("record")
                unknown = metric_names(rule["expr"]) - KNOWN_METRICS - records
                if unknown:
                    r.fail(f"{name_of(o)} {label}", f"unknown metrics {sorted(unknown)}")
                if "alert" in rule:
                    if rule.get("labels", {}).get("severity") not in {"warning", "critical"}:
                        r.fail(f"{name_of(o)} {label}", "labels.severity must be warning or critical")
                    url = rule.get("annotations", {}).get("runbook_url", "")
                    anchor = url.split("#", 1)[-1] if "#" in url else ""
                    if not url.startswith("docs/deploy.md#") or anchor not in anchors:
                        r.fail(f"{name_of(o)} {label}", f"runbook_url {url!r} must point at an anchor in docs/deploy.md")
    dashboards = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    if not dashboards:
        r.fail("ConfigMap", "no Grafana dashboard ConfigMap (label grafana_dashboard=1)")
    validator = jsonschema.Draft202012Validator(schema("grafana-dashboard.schema.json"))
    for cm in dashboards:
        for key, text in cm.get("data", {}).items():
            try:
                dash = json.loads(text)
            except json.JSONDecodeError as e:
                r.fail(f"{name_of(cm)} {key}", f"not JSON: {e}")
                continue
            for e in validator.iter_errors(dash):
                r.fail(f"{name_of(cm)} {key}", f"grafana-dashboard.schema.json: {short(e)}")
            for p in dash.get("panels", []):
                for t in p.get("targets", []):
                    unknown = metric_names(t.get("expr", "")) - KNOWN_METRICS - records
                    if unknown:
                        r.fail(f"{name_of(cm)} {key} panel {p.get('title')!r}", f"unknown metrics {sorted(unknown)}")
    r.ok()


def check_otel(objs: list[dict], r: Report) -> None:
    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("otel-collector-config")]
    if len(cms) != 1:
        r.fail("ConfigMap", f"expected one otel-collector-config, found {len(cms)}")
        return
    where = name_of(cms[0])
    try:
        conf = yaml.safe_load(cms[0]["data"]["config.yaml"])
    except (KeyError, yaml.YAMLError) as e:
        r.fail(where, f"config.yaml unreadable: {e}")
        return
    for e in jsonschema.Draft202012Validator(schema("otel-collector-config.schema.json")).iter_errors(conf):
        r.fail(where, f"otel-collector-config.schema.json: {short(e)}")
    svc = conf.get("service", {})
    for ext in svc.get("extensions", []):
        if ext not in conf.get("extensions", {}):
            r.fail(where, f"service.extensions names undefined extension {ext}")
    for pname, p in svc.get("pipelines", {}).items():
        for section in ("receivers", "processors", "exporters"):
            for comp in p.get(section, []):
                if comp not in (conf.get(section) or {}):
                    r.fail(where, f"pipeline {pname} uses undefined {section[:-1]} {comp}")
        procs = p.get("processors", [])
        if procs and procs[0] != "memory_limiter":
            r.fail(where, f"pipeline {pname}: memory_limiter must be the first processor")
    grpc = conf.get("receivers", {}).get("otlp", {}).get("protocols", {}).get("grpc", {}).get("endpoint", "")
    if not grpc.endswith(":4317"):
        r.fail(where, "OTLP gRPC receiver must listen on 4317")
    deps = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "otel-collector"]
    if not deps:
        r.fail("Deployment", "otel-collector missing")
    else:
        vols = pod_spec(deps[0]).get("volumes", [])
        if not any(v.get("configMap", {}).get("name") == cms[0]["metadata"]["name"] for v in vols):
            r.fail(name_of(deps[0]), "does not mount the collector configuration")
    for dep in objs:
        if dep["kind"] == "Deployment" and pod_labels(dep).get("tuan.io/tier") == "app":
            endpoint = config_of(dep, objs).get("TUAN_TELEMETRY__OTLP_ENDPOINT")
            if endpoint != "http://otel-collector:4317":
                r.fail(name_of(dep), f"TUAN_TELEMETRY__OTLP_ENDPOINT {endpoint!r} is not the collector")
    r.ok()


def check_overlay(objs: list[dict], overlay: str | None, r: Report, schemas: bool = True) -> None:
    if schemas:
        validate_schemas(objs, r)
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    if len(namespaces) != 1:
        r.fail("Namespace", f"expected exactly one Namespace, found {len(namespaces)}")
    for o in objs:
        check_containers(o, r)
        if o["kind"] == "Deployment" and pod_labels(o).get("tuan.io/tier") == "app":
            check_app_deployment(o, objs, r)
    for svc in SERVICES:
        if not any(o["kind"] == "Deployment" and o["metadata"]["name"] == svc for o in objs):
            r.fail("Deployment", f"{svc} missing")
    check_secrets(objs, r)
    check_kafka(objs, overlay, r)
    check_postgres(objs, r)
    check_jobs(objs, r)
    check_monitoring(objs, r)
    check_otel(objs, r)


# ---------------------------------------------------------------------------------------------
# The binaries accept what the render gives them.

# What a Secret's key stands in for when the binaries check their settings: shaped like the
# real thing (a URL, a long random string), never the development defaults they refuse.
PLACEHOLDER_SECRET = "k8s-check-placeholder-0123456789abcdef0123456789"

# Secrets that must parse as what they are: keys (PEM) and WeChat Pay's 32-character APIv3 key.
# The shapes are the test keys of services/payments/tests/wechatpay (made for tests only).
_TEST_KEYS = ROOT / "services/payments/tests/wechatpay"
SHAPED_SECRETS = {
    "PRIVATE_KEY": lambda: (_TEST_KEYS / "merchant-key.pem").read_text(),
    "PUBLIC_KEY": lambda: (_TEST_KEYS / "platform-pub.pem").read_text(),
    "API_V3_KEY": lambda: "k8s-check-placeholder-32-chars-k",
}

# Refusals that are the truth about the manifests today, each with the text the binary must
# print (any other refusal, e.g. an unknown key, still fails the check).
KNOWN_REFUSALS: dict[str, tuple[str, str]] = {}


def container_env(obj: dict, objs: list[dict]) -> dict[str, str]:
    """The environment of the pod's first container: its ConfigMaps merged, then its own env,
    each Secret key replaced by a placeholder of the right shape."""
    env = {k: str(v) for k, v in config_of(obj, objs).items() if k != "__missing__"}
    for c in pod_spec(obj).get("containers", [])[:1]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if "value" in e:
                env[e["name"]] = str(e["value"])
            elif ref and e["name"] == "TUAN_DATABASE__URL":
                cluster = ref["name"].removesuffix("-app")
                svc = obj["metadata"]["labels"].get("app.kubernetes.io/name", "")
                env[e["name"]] = f"postgres://app:{PLACEHOLDER_SECRET}@{cluster}-rw:5432/tuan_{svc}?sslmode=require"
            elif ref:
                shaped = next((make for suffix, make in SHAPED_SECRETS.items() if e["name"].endswith(suffix)), None)
                env[e["name"]] = shaped() if shaped else PLACEHOLDER_SECRET
            else:  # fieldRef and the like: the pod's own name, namespace, ...
                env[e["name"]] = "k8s-check-pod"
    return env


def check_binaries(objs: list[dict], bin_dir: Path, r: Report, quiet: bool = False) -> None:
    """Runs each service's binary with `--check-config` in the environment the render gives
    its Deployment and its migration Job: a key it does not read, a value it cannot parse or a
    development setting fails here, as it would at start-up in the cluster."""
    import subprocess

    for o in objs:
        svc = o.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
        if o["kind"] not in ("Deployment", "Job") or svc not in SERVICES:
            continue
        binary = bin_dir / svc
        if not binary.is_file():
            r.fail(name_of(o), f"{binary} missing: build it with `cargo build --workspace --bins`")
            continue
        env = {"PATH": "/usr/bin:/bin", **container_env(o, objs)}
        # A migration Job needs only what migrating reads (no token key, no provider).
        mode = ["--check-config", "--migrate-only"] if o["kind"] == "Job" else ["--check-config"]
        done = subprocess.run([str(binary), *mode], env=env, capture_output=True, text=True, timeout=60)
        said = (done.stderr or done.stdout).strip()
        known = KNOWN_REFUSALS.get(svc)
        if done.returncode != 0 and known and known[0] in said:
            if not quiet:
                print(f"  KNOWN {name_of(o)}: {svc} refuses to start here: {known[1]}")
        elif done.returncode != 0:
            r.fail(name_of(o), f"{svc} --check-config refused the rendered settings: {said}")
    r.ok()


# ---------------------------------------------------------------------------------------------
# Self-test: every rule above must catch the mistake it is for.


def find(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def container(objs: list[dict], kind: str, name: str) -> dict:
    return pod_spec(find(objs, kind, name))["containers"][0]


def _del(d: dict, key: str) -> None:
    d.pop(key, None)


MUTATIONS = {
    "readiness probe removed": lambda o: _del(container(o, "Deployment", "users"), "readinessProbe"),
    "liveness probe removed": lambda o: _del(container(o, "Deployment", "otel-collector"), "livenessProbe"),
    "memory limit removed": lambda o: _del(container(o, "Job", "payments-migrate")["resources"]["limits"], "memory"),
    "runs as root": lambda o: (pod_spec(find(o, "Deployment", "circles"))["securityContext"].update(runAsNonRoot=False),
                               container(o, "Deployment", "circles")["securityContext"].pop("runAsNonRoot")),
    "writable root fs": lambda o: container(o, "Deployment", "gateway")["securityContext"].update(readOnlyRootFilesystem=False),
    "privilege escalation": lambda o: _del(container(o, "Deployment", "groupbuy")["securityContext"], "allowPrivilegeEscalation"),
    "latest image": lambda o: container(o, "Deployment", "users").update(image="registry.example.com/tuan/users:latest"),
    "secret committed": lambda o: o.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tuan-jwt", "namespace": "tuan"}, "stringData": {"secret": "x"}}),
    "literal password": lambda o: container(o, "Deployment", "users")["env"].append({"name": "TUAN_AUTH__JWT_SECRET", "value": "x"}),
    "unknown secret": lambda o: container(o, "Deployment", "users")["env"][0]["valueFrom"]["secretKeyRef"].update(name="tuan-pg-app"),
    "typo in k8s field": lambda o: container(o, "Deployment", "users").update(imagePullPolicyy="Always"),
    "HPA missing": lambda o: o.remove(find(o, "HorizontalPodAutoscaler", "payments")),
    "PDB missing": lambda o: o.remove(find(o, "PodDisruptionBudget", "users")),
    "replicas next to HPA": lambda o: find(o, "Deployment", "users")["spec"].update(replicas=3),
    "no preStop": lambda o: _del(container(o, "Deployment", "users"), "lifecycle"),
    "short grace period": lambda o: pod_spec(find(o, "Deployment", "users")).update(terminationGracePeriodSeconds=10),
    "wide-open ingress": lambda o: find(o, "NetworkPolicy", "users")["spec"]["ingress"].append({"ports": [{"port": 50051, "protocol": "TCP"}]}),
    "egress to another database": lambda o: find(o, "NetworkPolicy", "users")["spec"]["egress"][1]["to"][0]["podSelector"]["matchLabels"].update({"cnpg.io/cluster": "tuan-payments-pg"}),
    "default deny removed": lambda o: o.remove(find(o, "NetworkPolicy", "default-deny-app")),
    "topic replicas 2": lambda o: find(o, "KafkaTopic", "tuan-users-v1")["spec"].update(replicas=2),
    "min.insync = replicas": lambda o: find(o, "KafkaTopic", "tuan-payments-v1")["spec"]["config"].update({"min.insync.replicas": 3}),
    "unknown topic config": lambda o: find(o, "KafkaTopic", "tuan-users-v1")["spec"]["config"].update({"retention.msec": 1}),
    "zookeeper in KRaft": lambda o: find(o, "Kafka", "tuan-kafka")["spec"].update(zookeeper={"replicas": 3}),
    "bad listener type": lambda o: find(o, "Kafka", "tuan-kafka")["spec"]["kafka"]["listeners"][0].update(type="internel"),
    "node pool without cluster label": lambda o: find(o, "KafkaNodePool", "broker")["metadata"]["labels"].clear(),
    "partitions disagree": lambda o: find(o, "KafkaTopic", "tuan-circles-v1")["spec"].update(partitions=6),
    "cnpg integer parameter": lambda o: find(o, "Cluster", "tuan-users-pg")["spec"]["postgresql"]["parameters"].update(max_connections=300),
    "cnpg wrong database": lambda o: find(o, "Cluster", "tuan-users-pg")["spec"]["bootstrap"]["initdb"].update(database="app"),
    "cnpg too many sync replicas": lambda o: find(o, "Cluster", "tuan-groupbuy-pg")["spec"].update(maxSyncReplicas=3),
    "migration job without flag": lambda o: container(o, "Job", "users-migrate").update(args=[]),
    "token key in a migration job": lambda o: container(o, "Job", "groupbuy-migrate")["env"].append(
        {"name": "TUAN_AUTH__JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "tuan-jwt", "key": "secret"}}}),
    "otel pipeline undefined exporter": lambda o: next(c for c in o if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("otel-collector-config"))["data"].update(
        {"config.yaml": next(c for c in o if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("otel-collector-config"))["data"]["config.yaml"].replace("exporters: [debug]", "exporters: [jaeger]")}),
    "alert on unknown metric": lambda o: find(o, "PrometheusRule", "tuan-alerts")["spec"]["groups"][1]["rules"][0].update(expr="tuan_outbox_size > 1"),
    "alert without runbook": lambda o: find(o, "PrometheusRule", "tuan-alerts")["spec"]["groups"][1]["rules"][0]["annotations"].pop("runbook_url"),
    "gRPC probe on wrong port": lambda o: container(o, "Deployment", "users")["livenessProbe"]["grpc"].update(port=50052),
    "metrics on loopback": lambda o: next(c for c in o if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("payments-config"))["data"].update(
        TUAN_METRICS_ADDR="127.0.0.1:51054"),
    "metrics port not declared": lambda o: container(o, "Deployment", "groupbuy")["ports"].pop(),
    "no PodMonitor": lambda o: o.remove(find(o, "PodMonitor", "tuan-services")),
    "metrics open to every namespace": lambda o: find(o, "NetworkPolicy", "circles")["spec"]["ingress"][1]["from"][0].pop("podSelector"),
    "metrics not allowed in": lambda o: find(o, "NetworkPolicy", "gateway")["spec"]["ingress"].pop(),
    "payment callbacks open to every pod": lambda o: find(o, "NetworkPolicy", "payments")["spec"]["ingress"][1].update(
        {"from": [{"podSelector": {}}]}),
    "HTTPS egress to a pod": lambda o: find(o, "NetworkPolicy", "payments")["spec"]["egress"][-1].update(
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "users"}}}]}),
    "HTTPS egress from a service with no outside provider": lambda o: find(o, "NetworkPolicy", "circles")["spec"]["egress"].append(
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}),
}


def settings_of(objs: list[dict], svc: str) -> dict:
    """The data of the ConfigMap the service's Deployment reads its settings from."""
    ref = container(objs, "Deployment", svc)["envFrom"][0]["configMapRef"]["name"]
    return find(objs, "ConfigMap", ref).setdefault("data", {})


# Mistakes only the binaries can see: each must make a service's --check-config refuse.
BINARY_MUTATIONS = {
    "a key no service reads": lambda o: settings_of(o, "users").update({"TUAN_USERS__OPERATOR_PHONES": "[]"}),
    "gateway upstream key misspelt": lambda o: settings_of(o, "gateway").update({"TUAN_GATEWAY__UPSTREAMS__USERS": "http://users:50051"}),
    "a value that does not parse": lambda o: settings_of(o, "circles").update({"TUAN_KAFKA__PARTITIONS": "six"}),
    "environment misspelt": lambda o: settings_of(o, "groupbuy").update({"TUAN_ENVIRONMENT": "dev"}),
    "the simulated payment provider": lambda o: settings_of(o, "payments").update({"TUAN_PAYMENTS__PROVIDER_KIND": "simulated"}),
    "WeChat Pay notifications over plain HTTP": lambda o: settings_of(o, "payments").update(
        {"TUAN_PAYMENTS__WECHAT__NOTIFY_URL": "http://pay.tuan.example/wechatpay/notify"}),
    "the development SMS sender": lambda o: settings_of(o, "users").update({"TUAN_USERS__SMS__SENDER": "development"}),
}


def self_test(objs: list[dict], bin_dir: Path | None) -> int:
    base = Report()
    check_overlay(copy.deepcopy(objs), None, base, schemas=True)
    if bin_dir:
        check_binaries(objs, bin_dir, base, quiet=True)
    if base.failures:
        print("self-test: the unmodified render must pass first:", *base.failures, sep="\n  ")
        return 1
    missed = []
    for label, mutate in MUTATIONS.items():
        mutated = copy.deepcopy(objs)
        mutate(mutated)
        r = Report()
        check_overlay(mutated, None, r)
        status = "caught" if r.failures else "MISSED"
        detail = r.failures[0] if r.failures else ""
        print(f"  {status:6} {label:34} {detail[:150]}")
        if not r.failures:
            missed.append(label)
    for label, mutate in (BINARY_MUTATIONS.items() if bin_dir else []):
        mutated = copy.deepcopy(objs)
        mutate(mutated)
        r = Report()
        check_binaries(mutated, bin_dir, r, quiet=True)
        status = "caught" if r.failures else "MISSED"
        detail = r.failures[0] if r.failures else ""
        print(f"  {status:6} {label:34} {detail[:150]}")
        if not r.failures:
            missed.append(label)
    total = len(MUTATIONS) + (len(BINARY_MUTATIONS) if bin_dir else 0)
    if missed:
        print(f"self-test: {len(missed)} broken manifests passed the checks: {missed}")
        return 1
    print(f"self-test: all {total} deliberately broken manifests were rejected")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("rendered", type=Path)
    ap.add_argument("--overlay")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--prometheus-operator-json", type=Path, help="write the prometheus-operator objects here for the node validator")
    ap.add_argument("--binaries", type=Path, help="run each service binary in this directory with --check-config in its rendered environment")
    args = ap.parse_args()
    objs = load(args.rendered)
    if args.prometheus_operator_json:
        args.prometheus_operator_json.write_text(json.dumps([o for o in objs if o.get("kind") in PROMETHEUS_OPERATOR_KINDS]))
    if args.self_test:
        return self_test(objs, args.binaries)
    r = Report()
    check_overlay(objs, args.overlay, r)
    if args.binaries:
        check_binaries(objs, args.binaries, r)
    kinds: dict[str, int] = {}
    for o in objs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    if r.failures:
        for f in r.failures:
            print(f"  FAIL {f}")
        print(f"{args.overlay}: {len(r.failures)} problem(s) in {len(objs)} objects")
        return 1
    print(f"{args.overlay}: {len(objs)} objects valid ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
