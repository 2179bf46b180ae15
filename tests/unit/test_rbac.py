"""`k8s-mcp-gateway rbac`: the gateway's RBAC follows the catalog and the policy data, nothing else.

The committed deploy/rbac.yaml must be exactly what the command prints for policies/data.json
(run `make rbac` after changing either). The end-to-end suite applies that file to the sandbox
cluster and proves the API server enforces it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import cli
from gateway.binaries import REPO_ROOT
from gateway.catalog import Catalog
from tests.fakes.opa import policy_copy

RBAC_YAML = REPO_ROOT / "deploy" / "rbac.yaml"
SUBJECT = {"kind": "ServiceAccount", "name": "k8s-mcp-gateway", "namespace": "k8s-mcp-gateway"}

READ = ["get", "list"]
NAMESPACED_RULES = {
    ("", "configmaps"): READ,
    ("", "events"): ["list"],
    ("", "persistentvolumeclaims"): READ,
    ("", "pods"): ["delete", "get", "list"],
    ("", "pods/log"): ["get"],
    ("", "services"): READ,
    ("apps", "daemonsets"): READ,
    ("apps", "deployments"): ["get", "list", "patch"],
    ("apps", "deployments/scale"): ["patch"],
    ("apps", "replicasets"): READ,
    ("apps", "statefulsets"): READ,
    ("autoscaling", "horizontalpodautoscalers"): READ,
    ("batch", "cronjobs"): READ,
    ("batch", "jobs"): READ,
    ("discovery.k8s.io", "endpointslices"): ["list"],
    ("networking.k8s.io", "ingresses"): READ,
}
CLUSTER_RULES = {("", "namespaces"): ["list"], ("", "nodes"): ["get", "list", "patch"]}
VOLUMES = {("", "persistentvolumes"): READ}
FIXED_NAMESPACE_ROLE = "k8s-mcp-gateway-fixed-namespace"


def rbac(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What `k8s-mcp-gateway rbac ARGS` prints."""
    cli.main(["rbac", *args])
    return capsys.readouterr().out


def generated(capsys: pytest.CaptureFixture[str], tmp_path: Path, **config: Any) -> tuple[str, list[dict[str, Any]]]:
    """The command's text and objects for the project's policy data with `config` patched in."""
    data = policy_copy(tmp_path / "policy", config) / "data.json"
    text = rbac(capsys, "--policy-data", str(data))
    return text, [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def role(objects: list[dict[str, Any]], name: str, kind: str = "ClusterRole") -> dict[tuple[str, str], list[str]]:
    """A (Cluster)Role's rules as {(group, resource): verbs}, one group and resource per rule."""
    [found] = [o for o in find(objects, kind) if o["metadata"]["name"] == name]
    rules: dict[tuple[str, str], list[str]] = {}
    for rule in found["rules"]:
        [group], [resource] = rule["apiGroups"], rule["resources"]
        assert (group, resource) not in rules
        rules[group, resource] = rule["verbs"]
    return rules


def needed_by(text: str, resource: str) -> list[str]:
    """The tools the comment above the first rule on `resource` names."""
    lines = text.splitlines()
    rule = lines.index(f'    resources: ["{resource}"]') - 1
    comment = list(itertools.takewhile(lambda line: line.startswith("  # "), reversed(lines[:rule])))
    return " ".join(line.removeprefix("  # ") for line in reversed(comment)).split(", ")


def test_the_committed_manifest_is_what_the_generator_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO_ROOT)

    printed = rbac(capsys)
    cli.main(["rbac", "--output", str(tmp_path / "rbac.yaml")])

    assert printed == RBAC_YAML.read_text(encoding="utf-8"), "deploy/rbac.yaml is stale: run `make rbac`"
    assert (tmp_path / "rbac.yaml").read_text(encoding="utf-8") == printed


def test_the_shipped_policy_binds_the_tool_verbs_only_in_its_namespaces() -> None:
    objects = [doc for doc in yaml.safe_load_all(RBAC_YAML.read_text()) if doc]

    assert role(objects, "k8s-mcp-gateway-namespaced") == NAMESPACED_RULES
    assert role(objects, "k8s-mcp-gateway") == CLUSTER_RULES
    assert find(objects, "Role") == []
    text = RBAC_YAML.read_text()
    assert needed_by(text, "endpointslices") == ["list_services", "describe_service"]
    assert needed_by(text, "replicasets") == [
        "list_replicasets",
        "describe_replicaset",
        "rollout_history",
        "rollout_undo",
    ]
    assert {name for name in needed_by(text, "events") if name.startswith("describe_")} == {
        entry.name for entry in Catalog() if entry.name.startswith("describe_") and entry.name != "describe_pv"
    }
    bindings = find(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["default", "staging"]
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "k8s-mcp-gateway-namespaced",
        }
        assert binding["subjects"] == [SUBJECT]
    [cluster_binding] = find(objects, "ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == "k8s-mcp-gateway"
    assert cluster_binding["subjects"] == [SUBJECT]


def test_nothing_beyond_what_the_tools_call() -> None:
    """The grants an attacker would want first are absent, whatever the catalog's comments say.

    ConfigMaps are read (their tools show keys and sizes, never values), so RBAC lets the gateway
    read their values: they must hold no secret, as Kubernetes itself advises.
    """
    objects = [doc for doc in yaml.safe_load_all(RBAC_YAML.read_text()) if doc]
    rules = [rule for o in find(objects, "ClusterRole") for rule in o["rules"]]
    resources = {resource for rule in rules for resource in rule["resources"]}
    verbs = {verb for rule in rules for verb in rule["verbs"]}
    writes = {resource for rule in rules if set(rule["verbs"]) - {"get", "list"} for resource in rule["resources"]}

    assert not resources & {"secrets", "pods/exec", "pods/attach", "pods/portforward", "*"}
    assert not resources & {"serviceaccounts/token", "roles", "rolebindings", "clusterroles", "clusterrolebindings"}
    assert verbs <= {"get", "list", "patch", "delete"}
    assert writes == {"deployments", "deployments/scale", "pods", "nodes"}
    assert [rule["resources"] for rule in rules if "delete" in rule["verbs"]] == [["pods"]]
    assert all("*" not in rule["apiGroups"] and "resourceNames" not in rule for rule in rules)


def test_a_star_binds_every_namespace_and_says_so_at_the_top(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, objects = generated(capsys, tmp_path, namespaces=["staging", "*"])

    assert find(objects, "RoleBinding") == []
    everywhere = [
        b for b in find(objects, "ClusterRoleBinding") if b["roleRef"]["name"] == "k8s-mcp-gateway-namespaced"
    ]
    assert [b["metadata"]["name"] for b in everywhere] == ["k8s-mcp-gateway-all-namespaces"]
    assert everywhere[0]["subjects"] == [SUBJECT]
    header = text[: text.index("\n---\n")]
    assert 'mcp.config.namespaces contains "*"' in header
    assert "CLUSTER-WIDE" in header
    assert "kube-system" in header


def test_namespaces_follow_the_policy_data_sorted_and_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, objects = generated(capsys, tmp_path, namespaces=["team-b", "team-a", "team-b"])

    assert [b["metadata"]["namespace"] for b in find(objects, "RoleBinding")] == ["team-a", "team-b"]
    assert [b["metadata"]["name"] for b in find(objects, "ClusterRoleBinding")] == ["k8s-mcp-gateway"]


def test_no_namespace_in_the_policy_data_binds_no_namespaced_verb(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, objects = generated(capsys, tmp_path, namespaces=[])

    assert find(objects, "RoleBinding") == []
    assert [b["roleRef"]["name"] for b in find(objects, "ClusterRoleBinding")] == ["k8s-mcp-gateway"]
    assert "none, so no namespaced tool can run" in text


@pytest.mark.parametrize(
    ("cluster_reads", "expected"),
    [
        (["nodes"], {("", "nodes"): READ}),
        ([], {}),
        # No tool reads secrets, and the approvals are the gateway's own: listing them grants nothing.
        (["namespaces", "secrets", "approvals"], {("", "namespaces"): ["list"]}),
        (["namespaces", "persistentvolumes"], {("", "namespaces"): ["list"], **VOLUMES}),
    ],
)
def test_cluster_scoped_reads_are_those_of_the_policy_data_that_a_tool_makes(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    cluster_reads: list[str],
    expected: dict[tuple[str, str], list[str]],
) -> None:
    _, objects = generated(capsys, tmp_path, cluster_reads=cluster_reads, cluster_writes=[])

    assert role(objects, "k8s-mcp-gateway") == expected
    assert role(objects, "k8s-mcp-gateway-namespaced") == NAMESPACED_RULES


@pytest.mark.parametrize(
    ("cluster_writes", "expected"),
    [
        # cordon and uncordon patch a node; their previews read it, even where no read tool may
        (["nodes"], {("", "nodes"): ["get", "patch"]}),
        ([], {}),
        # no tool writes namespaces or PersistentVolumes: listing them grants nothing
        (["namespaces", "persistentvolumes"], {}),
    ],
)
def test_cluster_scoped_writes_are_those_of_the_policy_data_that_a_tool_makes(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    cluster_writes: list[str],
    expected: dict[tuple[str, str], list[str]],
) -> None:
    text, objects = generated(capsys, tmp_path, cluster_reads=[], cluster_writes=cluster_writes)

    assert role(objects, "k8s-mcp-gateway") == expected
    if expected:
        assert needed_by(text, "nodes") == ["cordon_node", "uncordon_node"]


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"namespaces": "staging"}, "mcp.config.namespaces must be a list of strings"),
        ({"namespaces": ["staging", 7]}, "mcp.config.namespaces must be a list of strings"),
        (
            {"namespaces": ["staging", "../prod"]},
            """mcp.config.namespaces[1]: '../prod' is not a DNS-1123 label (or "*")""",
        ),
        ({"namespaces": ["Prod"]}, """mcp.config.namespaces[0]: 'Prod' is not a DNS-1123 label (or "*")"""),
        ({"cluster_reads": {"nodes": True}}, "mcp.config.cluster_reads must be a list of strings"),
        ({"cluster_writes": "nodes"}, "mcp.config.cluster_writes must be a list of strings"),
    ],
)
def test_a_malformed_setting_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: dict[str, Any], said: str
) -> None:
    data = policy_copy(tmp_path / "policy", config) / "data.json"

    with pytest.raises(SystemExit) as exited:
        cli.main(["rbac", "--policy-data", str(data)])

    assert str(exited.value) == f"{data}: {said}"
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("name", "content"),
    [("missing.json", None), ("broken.json", '{"mcp": '), ("list.json", "[]"), ("other.json", '{"mcp": "x"}')],
)
def test_an_unreadable_policy_data_file_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: str | None
) -> None:
    data = tmp_path / name
    if content is not None:
        data.write_text(content)

    with pytest.raises(SystemExit) as exited:
        cli.main(["rbac", "--policy-data", str(data), "--output", str(tmp_path / "rbac.yaml")])

    assert str(exited.value).startswith(f"{data}: ")
    assert "Traceback" not in str(exited.value)
    assert not (tmp_path / "rbac.yaml").exists()


def test_volume_events_are_read_in_default_through_its_binding_when_default_is_allowed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, objects = generated(capsys, tmp_path, cluster_reads=["persistentvolumes"], cluster_writes=[])

    assert role(objects, "k8s-mcp-gateway") == VOLUMES
    assert role(objects, "k8s-mcp-gateway-namespaced") == NAMESPACED_RULES
    assert find(objects, "Role") == []
    assert "describe_pv" in needed_by(text, "events")
    assert "for tools the policy data can allow: none." in text


def test_volume_events_outside_the_allowed_namespaces_get_a_role_of_their_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """describe_pv reads a volume's events where Kubernetes records them, in `default`: only that."""
    text, objects = generated(capsys, tmp_path, namespaces=["staging"], cluster_reads=["persistentvolumes"])

    assert role(objects, FIXED_NAMESPACE_ROLE, kind="Role") == {("", "events"): ["list"]}
    [fixed] = find(objects, "Role")
    assert fixed["metadata"]["namespace"] == "default"
    fixed_bindings = [b for b in find(objects, "RoleBinding") if b["metadata"]["name"] == FIXED_NAMESPACE_ROLE]
    assert [(b["metadata"]["namespace"], b["roleRef"]["kind"]) for b in fixed_bindings] == [("default", "Role")]
    assert fixed_bindings[0]["roleRef"]["name"] == FIXED_NAMESPACE_ROLE
    assert fixed_bindings[0]["subjects"] == [SUBJECT]
    namespaced = [b for b in find(objects, "RoleBinding") if b["roleRef"]["name"] == "k8s-mcp-gateway-namespaced"]
    assert [b["metadata"]["namespace"] for b in namespaced] == ["staging"]
    assert "for tools the policy data can allow: list events in default." in text


def test_no_fixed_namespace_grant_for_tools_the_policy_data_cannot_allow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without persistentvolumes in cluster_reads, describe_pv never runs: nothing in default for it."""
    _, objects = generated(capsys, tmp_path, namespaces=["staging"])

    assert find(objects, "Role") == []
    assert [b["metadata"]["namespace"] for b in find(objects, "RoleBinding")] == ["staging"]
