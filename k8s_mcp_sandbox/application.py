"""The rest of the sandbox's shop application in `staging`: what an SRE reads besides pods.

Services `web`, `api` and `checkout` (the last without endpoints: its only pod never became
ready), the EndpointSlices of `web` and `api` (`api` has one not-ready endpoint), Ingress `shop`,
HPA `web` (autoscaling/v2), StatefulSet `postgres` with its claim `data-postgres-0` bound to the
PersistentVolume `pv-staging-postgres-data`, DaemonSet `log-shipper` (1 of 2 ready: node-2 is
NotReady), CronJob `db-backup` with its finished Job, the failed Job `report-export`
(BackoffLimitExceeded) and ConfigMap `web-config`, which holds `CONFIGMAP_VALUE`: no gateway
answer may ever contain it. Statuses are written as their controllers would.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kubernetes.client import (
    ApiClient,
)

from k8s_mcp_sandbox import objects
from k8s_mcp_sandbox.objects import Manifest

STAGING = "staging"
WEB_ENDPOINT_SLICE = "web-7f2kq"
API_ENDPOINT_SLICE = "api-m4x9d"
PV_NAME = "pv-staging-postgres-data"
PVC_NAME = "data-postgres-0"
CONFIGMAP_NAME = "web-config"
CONFIGMAP_VALUE = "cm-sandbox-payments-token-do-not-show"
"""A credential wrongly kept in a ConfigMap; no gateway answer may contain it."""
FINISHED_JOB = "db-backup-29410950"
FAILED_JOB = "report-export"


@dataclass(frozen=True, slots=True)
class Backend:
    """A pod behind a Service, as its EndpointSlice lists it."""

    name: str
    ip: str
    node: str
    ready: bool


STAGING = "staging"
SERVICES = {"web": (80, 80), "api": (8080, 8080), "checkout": (80, 8080)}
"""Service -> (port, target port). `checkout` selects only the pod stuck in its init container."""


def _object(api_version: str, kind: str, name: str, app: str, **fields: Any) -> Manifest:
    """An object of the application in staging, labelled with the app it belongs to."""
    metadata = {"name": name, "namespace": STAGING, "labels": {"app": app}}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def _pods_of(app: str, spec: Manifest) -> Manifest:
    """The selector and pod template of a controller whose pods carry `app=<app>`."""
    return {"selector": {"matchLabels": {"app": app}}, "template": {"metadata": {"labels": {"app": app}}, "spec": spec}}


def _service(name: str, port: int, target_port: int) -> Manifest:
    return _object(
        "v1",
        "Service",
        name,
        name,
        spec={
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}],
        },
    )


def _endpoint_slice(name: str, app: str, backends: Sequence[Backend]) -> Manifest:
    """The slice the EndpointSlice controller would keep for a Service over these pods."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": STAGING,
            "labels": {
                "kubernetes.io/service-name": app,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": SERVICES[app][1], "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [pod.ip],
                "conditions": {"ready": pod.ready, "serving": pod.ready, "terminating": False},
                "nodeName": pod.node,
                "targetRef": {"kind": "Pod", "namespace": STAGING, "name": pod.name},
            }
            for pod in backends
        ],
    }


def _ingress() -> Manifest:
    host = "shop.staging.example.com"

    def route(path: str, service: str) -> Manifest:
        backend = {"service": {"name": service, "port": {"number": SERVICES[service][0]}}}
        return {"path": path, "pathType": "Prefix", "backend": backend}

    return _object(
        "networking.k8s.io/v1",
        "Ingress",
        "shop",
        "shop",
        spec={
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": "shop-staging-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [route("/", "web"), route("/api", "api"), route("/checkout", "checkout")]},
                }
            ],
        },
    )


def _hpa() -> Manifest:
    return _object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "web",
        "web",
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    )


def _hpa_status(at: datetime) -> Manifest:
    since = objects.rfc3339(at - timedelta(hours=3))

    def condition(kind: str, status: str, reason: str, message: str) -> Manifest:
        return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since}

    return {
        "currentReplicas": 3,
        "desiredReplicas": 3,
        "lastScaleTime": since,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": 41, "averageValue": "41m"}},
            }
        ],
        "conditions": [
            condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
            condition(
                "ScalingActive", "True", "ValidMetricFound", "the HPA was able to compute a replica count from cpu"
            ),
            condition(
                "ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range"
            ),
        ],
    }


def _statefulset() -> Manifest:
    container = {
        "name": "postgres",
        "image": "postgres:16.4",
        "ports": [{"name": "sql", "containerPort": 5432, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "postgres"]}, "periodSeconds": 10},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }
    claim = {
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }
    return _object(
        "apps/v1",
        "StatefulSet",
        "postgres",
        "postgres",
        spec={
            "replicas": 1,
            "serviceName": "postgres",
            **_pods_of("postgres", {"containers": [container], "automountServiceAccountToken": False}),
            "volumeClaimTemplates": [claim],
        },
    )


STATEFULSET_STATUS: Manifest = {
    "replicas": 1,
    "readyReplicas": 1,
    "currentReplicas": 1,
    "updatedReplicas": 1,
    "availableReplicas": 1,
    "currentRevision": "postgres-6d5c8b7f9",
    "updateRevision": "postgres-6d5c8b7f9",
    "collisionCount": 0,
}


def _daemonset() -> Manifest:
    container = {
        "name": "fluent-bit",
        "image": "cr.fluentbit.io/fluent/fluent-bit:3.2.4",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    }
    tolerations = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]
    return _object(
        "apps/v1",
        "DaemonSet",
        "log-shipper",
        "log-shipper",
        spec={
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            **_pods_of(
                "log-shipper",
                {"containers": [container], "tolerations": tolerations, "automountServiceAccountToken": False},
            ),
        },
    )


DAEMONSET_STATUS: Manifest = {
    "desiredNumberScheduled": 2,
    "currentNumberScheduled": 2,
    "numberMisscheduled": 0,
    "numberReady": 1,
    "updatedNumberScheduled": 2,
    "numberAvailable": 1,
    "numberUnavailable": 1,
}


def _pvc() -> Manifest:
    return _object(
        "v1",
        "PersistentVolumeClaim",
        PVC_NAME,
        "postgres",
        spec={
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "volumeName": PV_NAME,
            "resources": {"requests": {"storage": "10Gi"}},
        },
    )


PVC_STATUS: Manifest = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}


def _pv(claim: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": PV_NAME, "labels": {"type": "local"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "hostPath": {"path": "/var/lib/sandbox/volumes/staging-postgres-data", "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": STAGING,
                "name": PVC_NAME,
                "uid": claim.metadata.uid,
            },
        },
    }


def _job_template(container: str, image: str) -> Manifest:
    return {
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                }
            ],
        }
    }


def _cronjob() -> Manifest:
    return _object(
        "batch/v1",
        "CronJob",
        "db-backup",
        "db-backup",
        spec={
            "schedule": "30 2 * * *",
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"backoffLimit": 2, "template": _job_template("backup", "postgres:16.4")}},
        },
    )


def _job(name: str, template: Manifest, *, owner: Manifest | None) -> Manifest:
    job = _object("batch/v1", "Job", name, name.rsplit("-", 1)[0], spec={"backoffLimit": 2, "template": template})
    if owner is not None:
        job["metadata"]["ownerReferences"] = [owner]
    return job


def _job_condition(kind: str, reason: str, message: str, at: datetime) -> Manifest:
    when = objects.rfc3339(at)
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": when,
        "lastTransitionTime": when,
    }


def _jobs(cronjob: Any, at: datetime) -> list[tuple[Manifest, Manifest]]:
    """The CronJob's finished Job and a failed one, with the statuses the Job controller writes."""
    backup_start, export_start = at - timedelta(hours=6), at - timedelta(hours=1)
    backup_end = backup_start + timedelta(minutes=4)
    finished = {
        "startTime": objects.rfc3339(backup_start),
        "completionTime": objects.rfc3339(backup_end),
        "succeeded": 1,
        "ready": 0,
        "terminating": 0,
        "conditions": [
            _job_condition(kind, "CompletionsReached", "Reached expected number of succeeded pods", backup_end)
            for kind in ("SuccessCriteriaMet", "Complete")
        ],
    }
    failed = {
        "startTime": objects.rfc3339(export_start),
        "failed": 3,
        "ready": 0,
        "terminating": 0,
        "conditions": [
            _job_condition(kind, "BackoffLimitExceeded", "Job has reached the specified backoff limit", at)
            for kind in ("FailureTarget", "Failed")
        ],
    }
    backup = _job(
        FINISHED_JOB, _job_template("backup", "postgres:16.4"), owner=objects.owner(cronjob, "CronJob", "batch/v1")
    )
    export = _job(FAILED_JOB, _job_template("export", "ghcr.io/example/report-export:0.9.1"), owner=None)
    return [(backup, finished), (export, failed)]


def _cronjob_status(at: datetime) -> Manifest:
    return {
        "lastScheduleTime": objects.rfc3339(at - timedelta(hours=6)),
        "lastSuccessfulTime": objects.rfc3339(at - timedelta(hours=6) + timedelta(minutes=4)),
    }


NGINX_CONF = """server {
    listen 80;
    location / { root /usr/share/nginx/html; }
    location /healthz { return 200 'ok'; }
}
"""


def _configmap() -> Manifest:
    return _object(
        "v1",
        "ConfigMap",
        CONFIGMAP_NAME,
        "web",
        data={
            "nginx.conf": NGINX_CONF,
            "payments.env": f"PAYMENTS_API_URL=https://payments.example.com\nPAYMENTS_API_TOKEN={CONFIGMAP_VALUE}\n",
        },
        binaryData={"favicon.ico": base64.b64encode(bytes(range(64))).decode()},
    )


def seed_application(api_client: ApiClient, at: datetime, *, backends: Mapping[str, Sequence[Backend]]) -> None:
    """Create or reset the application's objects in staging; `backends` are the pods behind the
    Services `web` and `api`, which their EndpointSlices list."""
    for name, (port, target_port) in SERVICES.items():
        objects.apply(api_client, _service(name, port, target_port))
    for slice_name, app in ((WEB_ENDPOINT_SLICE, "web"), (API_ENDPOINT_SLICE, "api")):
        objects.apply(api_client, _endpoint_slice(slice_name, app, backends[app]))
    ingress_status = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    objects.apply(api_client, _ingress(), status=ingress_status)
    objects.apply(api_client, _hpa(), status=_hpa_status(at), observed=True)
    objects.apply(api_client, _statefulset(), status=STATEFULSET_STATUS, observed=True)
    objects.apply(api_client, _daemonset(), status=DAEMONSET_STATUS, observed=True)
    claim = objects.apply(api_client, _pvc(), status=PVC_STATUS)
    objects.apply(api_client, _pv(claim), status={"phase": "Bound"})
    cronjob = objects.apply(api_client, _cronjob(), status=_cronjob_status(at))
    for job, status in _jobs(cronjob, at):
        objects.apply(api_client, job, status=status, immutable=True, status_once=True)
    objects.apply(api_client, _configmap())


def application_events(at: datetime) -> list[Manifest]:
    """What the Job and CronJob controllers recorded."""
    export = objects.involved("Job", STAGING, FAILED_JOB, api_version="batch/v1")
    backup = objects.involved("CronJob", STAGING, "db-backup", api_version="batch/v1")
    return [
        objects.event(
            export,
            "backoff-limit",
            "Warning",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            component="job-controller",
            first=at - timedelta(minutes=50),
            count=1,
            at=at,
        ),
        objects.event(
            backup,
            "created",
            "Normal",
            "SuccessfulCreate",
            f"Created job {FINISHED_JOB}",
            component="cronjob-controller",
            first=at - timedelta(hours=6),
            count=1,
            at=at,
        ),
    ]
