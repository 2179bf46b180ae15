"""Every tool's answer from the real apiserver and its seeded data is what its advertised `outputSchema` says.

Each tool is called at least once the way an SRE would, and its structured content is checked with
`jsonschema` against the schema from `tools/list` (the client session checks it too). The generic
reads are checked the same way, and a Secret asked for through them makes no API request.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from k8s_mcp_sandbox import application
from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster
from tests.catalog import ALL_TOOLS, WRITE_TOOLS
from tests.gateways import Served, error_text

pytestmark = pytest.mark.e2e

STAGING = {"namespace": "staging"}
SHIPPED_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_namespaces", {}),
    ("list_pods", STAGING),
    ("describe_deployment", {"deployment_name": "web", **STAGING}),
    ("list_deployments", STAGING),
    ("get_node_status", {}),
    ("list_events", {**STAGING, "type": "Warning"}),
    ("list_statefulsets", STAGING),
    ("describe_statefulset", {"statefulset_name": "postgres", **STAGING}),
    ("list_daemonsets", STAGING),
    ("describe_daemonset", {"daemonset_name": "log-shipper", **STAGING}),
    ("list_replicasets", STAGING),
    ("list_jobs", STAGING),
    ("describe_job", {"job_name": application.FAILED_JOB, **STAGING}),
    ("list_cronjobs", STAGING),
    ("describe_cronjob", {"cronjob_name": "db-backup", **STAGING}),
    ("list_services", STAGING),
    ("describe_service", {"service_name": "api", **STAGING}),
    ("list_ingresses", STAGING),
    ("describe_ingress", {"ingress_name": "shop", **STAGING}),
    ("list_hpas", STAGING),
    ("describe_hpa", {"hpa_name": "web", **STAGING}),
    ("list_pvcs", STAGING),
    ("describe_pvc", {"pvc_name": application.PVC_NAME, **STAGING}),
    ("list_configmaps", STAGING),
    ("describe_configmap", {"configmap_name": "web-config", **STAGING}),
    ("rollout_status", {"deployment_name": "web", **STAGING}),
    ("rollout_history", {"deployment_name": "web", **STAGING}),
    ("list_resources", {"group": "apps", "version": "v1", "kind": "Deployment", **STAGING}),
    ("get_resource", {"group": "apps", "version": "v1", "kind": "deployments", "name": "web", **STAGING}),
    ("list_resources", {"group": "", "version": "v1", "kind": "Namespace"}),
    ("list_my_approvals", {}),
    ("my_permissions", {}),
    ("list_contexts", {}),
]


async def checked(served: Served, calls: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """Make `calls` on `served`; assert each answer fits its tool's advertised schema; the tools called."""
    async with served.client() as client:
        schemas = {tool.name: tool.output_schema for tool in await client.list_tools()}
        for tool, arguments in calls:
            result = await client.call_tool(tool, arguments, raise_on_error=False)
            assert not result.is_error, (tool, error_text(result))
            errors = list(Draft202012Validator(schemas[tool]).iter_errors(result.structured_content))
            assert [e.message for e in errors] == [], tool
    return {tool for tool, _ in calls}


async def test_every_read_answers_what_its_schema_says(served: Served) -> None:
    async with served.client() as client:
        pods = (await client.call_tool("list_pods", STAGING)).structured_content
        sets = (await client.call_tool("list_replicasets", STAGING)).structured_content
    assert pods is not None
    assert sets is not None
    pod, replicaset = pods["pods"][0]["name"], sets["replicasets"][0]["name"]
    called = await checked(
        served,
        [
            *SHIPPED_CALLS,
            ("describe_pod", {"pod_name": pod, **STAGING}),
            ("get_pod_logs", {"pod_name": pod, **STAGING}),
            ("describe_replicaset", {"replicaset_name": replicaset, **STAGING}),
        ],
    )
    assert called == set(ALL_TOOLS) - {"list_pvs", "describe_pv", "get_approval"} - set(WRITE_TOOLS)


async def test_the_volume_reads_answer_what_their_schemas_say(volume_reader: Served) -> None:
    async with volume_reader.client() as client:
        volumes = (await client.call_tool("list_pvs", {})).structured_content
    assert volumes is not None
    await checked(volume_reader, [("list_pvs", {}), ("describe_pv", {"pv_name": volumes["pvs"][0]["name"]})])


@pytest.mark.usefixtures("restore_web")
async def test_the_writes_and_their_pending_approvals_answer_what_their_schemas_say(writer: Served) -> None:
    web = {"deployment_name": "web", **STAGING}
    async with writer.client() as client:
        pods = (await client.call_tool("list_pods", STAGING)).structured_content
    assert pods is not None
    called = await checked(
        writer,
        [
            ("restart_deployment", {**web, "dry_run": True}),
            ("scale_deployment", {**web, "replicas": 3}),
            ("rollout_undo", {"deployment_name": "checkout", **STAGING, "dry_run": True}),
            ("delete_pod", {"pod_name": pods["pods"][0]["name"], **STAGING, "dry_run": True}),
            ("cordon_node", {"node_name": "node-1", "dry_run": True}),  # pending: nodes need a review
            ("uncordon_node", {"node_name": "node-1", "dry_run": True}),
        ],
    )
    assert called == set(WRITE_TOOLS)
    async with writer.client() as client:
        pending = await client.call_tool(
            "scale_deployment", {"deployment_name": "web", "namespace": "default", "replicas": 4}
        )
    assert pending.structured_content is not None
    assert pending.structured_content["status"] == "pending_approval"
    await checked(writer, [("get_approval", {"approval_id": pending.structured_content["approval_id"]})])


@pytest.mark.parametrize("kind", ["Secret", "secrets", "SECRET"])
async def test_a_secret_through_the_generic_reads_makes_no_api_request(
    cluster: LocalCluster, stdio_gateway: Served, kind: str
) -> None:
    mark = cluster.audit.mark()
    async with stdio_gateway.client() as client:
        refused = await client.call_tool(
            "list_resources", {"group": "core", "version": "v1", "kind": kind, **STAGING}, raise_on_error=False
        )
        sentinel = await client.call_tool("list_namespaces", {}, raise_on_error=False)
    assert error_text(refused) == "denied by the gateway: secrets are never read through the gateway"
    assert not sentinel.is_error
    cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="namespaces")
    assert cluster.audit.count(since=mark, user=GATEWAY_USER) == 1
