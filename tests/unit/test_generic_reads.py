"""The generic read pair: the policy judges the kind discovery resolved, never Secrets, never the object's data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.kube import PDB, SECRET_SENTINEL
from tests.fakes.opa import OpaStub
from tests.gateways import Harness

PDBS = {"group": "policy", "version": "v1"}


@pytest.mark.parametrize("kind", ["PodDisruptionBudget", "poddisruptionbudget", "poddisruptionbudgets"])
async def test_the_policy_sees_the_resolved_group_and_plural(gateway: Harness, opa_stub: OpaStub, kind: str) -> None:
    listed = await gateway.ok("list_resources", {**PDBS, "kind": kind, "namespace": "default"})
    action = opa_stub.decision_inputs[-1]["action"]
    assert (action["group"], action["resource"], action["namespace"]) == ("policy", "poddisruptionbudgets", "default")
    assert (action["verb"], action["cluster_scoped"]) == ("list", False)
    assert listed["resource"] == "poddisruptionbudgets"


async def test_a_row_is_concise_and_never_the_objects_data(gateway: Harness, opa_stub: OpaStub) -> None:
    row = await gateway.ok("get_resource", {**PDBS, "kind": "PodDisruptionBudget", "name": "web"})
    assert row["owner"] == ["Deployment/web"]
    assert row["labels"] == PDB["metadata"]["labels"]
    assert opa_stub.decision_inputs[-1]["action"]["name"] == "web"
    configmap = await gateway.ok(
        "get_resource", {"group": "", "version": "v1", "kind": "ConfigMap", "name": "settings"}
    )
    assert "data" not in configmap
    assert SECRET_SENTINEL not in str(configmap)


@pytest.mark.parametrize(
    "arguments",
    [
        {"group": "", "version": "v1", "kind": "Secret"},
        {"group": "", "version": "v1", "kind": "secrets"},
        {"group": "core", "version": "v1", "kind": "SECRETS"},
        {"group": "core", "version": "v1", "kind": "secret", "name": "db-creds"},
    ],
)
async def test_secrets_are_refused_before_any_request(gateway: Harness, opa_stub: OpaStub, arguments: Any) -> None:
    tool = "get_resource" if "name" in arguments else "list_resources"
    said = await gateway.error(tool, arguments)
    assert said == "denied by the gateway: secrets are never read through the gateway"
    assert gateway.kube.calls == []
    assert opa_stub.decision_inputs == []
    assert gateway.last_call()["outcome"] == "gateway_denied"


async def test_a_kind_spelled_as_a_path_is_refused_by_validation(gateway: Harness) -> None:
    said = await gateway.error("list_resources", {"group": "", "version": "v1", "kind": "v1/Secret"})
    assert said.startswith("invalid arguments: kind: must be a kind")
    assert gateway.kube.calls == []


async def test_a_cluster_scoped_kind_takes_no_namespace(gateway: Harness, opa_stub: OpaStub) -> None:
    classes = {"group": "storage.k8s.io", "version": "v1", "kind": "StorageClass"}
    await gateway.ok("get_resource", {**classes, "name": "fast"})
    action = opa_stub.decision_inputs[-1]["action"]
    assert (action["cluster_scoped"], action["namespace"], action["resource"]) == (True, None, "storageclasses")
    said = await gateway.error("list_resources", {**classes, "namespace": "default"})
    assert said == "invalid arguments: namespace: StorageClass is cluster-scoped; omit namespace"


async def test_an_unknown_kind_is_named_and_not_asked_about(gateway: Harness, opa_stub: OpaStub) -> None:
    said = await gateway.error("list_resources", {**PDBS, "kind": "Nonsense"})
    assert said == "invalid arguments: kind: policy/v1 serves no resource named 'Nonsense'"
    assert opa_stub.decision_inputs == []
