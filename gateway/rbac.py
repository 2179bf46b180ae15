"""The gateway's Kubernetes RBAC, generated from the catalog and the policy data.

OPA decides every call; RBAC bounds what the gateway's ServiceAccount could do if the gateway or
its policy were wrong. So the grants come from the two sources the policy itself reads, and from
nothing else:

- *which verbs on which resources*: the catalog. Each tool's action as `ActionTemplate.bind`
  sends it to the policy (a `get` whose name argument is optional is also a `list`), plus the
  other calls its handler makes (`Entry.extra_calls`: the describe tools list events).
- *in which namespaces*: `mcp.config.namespaces` of the policy data. One RoleBinding per listed
  namespace; `"*"` binds the same role cluster-wide, and the generated file says so at its top.
- *which cluster-scoped reads*: `mcp.config.cluster_reads`, as far as a catalog tool reads them.

`k8s-mcp-gateway rbac` prints the manifest and `make rbac` writes it to deploy/rbac.yaml; a test
fails when the committed file is not what this module generates.

    PolicyDataError (ValueError)   the policy data file is unreadable, or a setting has the wrong shape
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.catalog import Catalog, Entry
from gateway.validation import DNS1123_LABEL

SERVICE_ACCOUNT = "k8s-mcp-gateway"
GATEWAY_NAMESPACE = "k8s-mcp-gateway"
NAMESPACED_ROLE = "k8s-mcp-gateway-namespaced"
CLUSTER_ROLE = "k8s-mcp-gateway"
"""The cluster-scoped reads. Earlier manifests bound every verb cluster-wide under this name, so
applying the generated file over them shrinks that role in place instead of leaving it behind."""
ALL_NAMESPACES_BINDING = "k8s-mcp-gateway-all-namespaces"
ALL_NAMESPACES = "*"
READ_VERBS = frozenset({"get", "list", "watch"})

RuleKey = tuple[str, str]
"""(API group, resource or resource/subresource), as an RBAC rule names them."""


class PolicyDataError(ValueError):
    """The policy data cannot say which namespaces or cluster reads to grant."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyScope:
    """What the policy data allows at most: the namespaces and the cluster-scoped reads."""

    namespaces: tuple[str, ...]
    cluster_reads: frozenset[str]

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces


@dataclass(slots=True)
class Grants:
    """Verbs by rule, and the tools that need each rule (for the comment above it)."""

    verbs: dict[RuleKey, set[str]] = field(default_factory=dict)
    tools: dict[RuleKey, list[str]] = field(default_factory=dict)

    def add(self, key: RuleKey, verbs: Iterable[str], tool: str) -> None:
        self.verbs.setdefault(key, set()).update(verbs)
        needed_by = self.tools.setdefault(key, [])
        if tool not in needed_by:
            needed_by.append(tool)


def load_policy_scope(path: Path) -> PolicyScope:
    """`mcp.config.namespaces` and `mcp.config.cluster_reads` of a policy data file.

    A missing setting is empty, as the policy's strict fallback treats it; a setting of the wrong
    shape is an error naming it, never a silent narrowing or widening.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyDataError(f"{path}: cannot read the policy data: {exc}") from None
    mcp = data.get("mcp") if isinstance(data, dict) else None
    config = mcp.get("config") if isinstance(mcp, dict) else None
    if not isinstance(config, dict):
        raise PolicyDataError(f"{path}: mcp.config must be an object")
    namespaces = _strings(path, config, "namespaces")
    for index, name in enumerate(namespaces):
        if name != ALL_NAMESPACES and not DNS1123_LABEL.fullmatch(name):
            raise PolicyDataError(f'{path}: mcp.config.namespaces[{index}]: {name!r} is not a DNS-1123 label (or "*")')
    return PolicyScope(
        namespaces=tuple(sorted(set(namespaces))), cluster_reads=frozenset(_strings(path, config, "cluster_reads"))
    )


def _strings(path: Path, config: dict[str, Any], key: str) -> list[str]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyDataError(f"{path}: mcp.config.{key} must be a list of strings")
    return value


def action_verbs(entry: Entry) -> set[str]:
    """The verbs a tool's action can carry: a `get` with an optional name is also a `list`."""
    action = entry.action
    if action.name_arg is None:
        return {action.bind({})["verb"]}
    verbs = {action.bind({action.name_arg: "name"})["verb"]}
    if not entry.arguments.model_fields[action.name_arg].is_required():
        verbs.add(action.bind({})["verb"])
    return verbs


def catalog_grants(catalog: Catalog, scope: PolicyScope) -> tuple[Grants, Grants]:
    """(namespaced, cluster-scoped) grants: every call the catalog's tools make, within `scope`."""
    namespaced, cluster = Grants(), Grants()
    for entry in catalog:
        action = entry.action
        resource = f"{action.resource}/{action.subresource}" if action.subresource else action.resource
        calls = [((action.group, resource), action_verbs(entry))]
        calls += [((call.group, call.resource), {call.verb}) for call in entry.extra_calls]
        for key, verbs in calls:
            if not action.cluster_scoped:
                namespaced.add(key, verbs, entry.name)
            elif key[1] in scope.cluster_reads and verbs <= READ_VERBS:
                cluster.add(key, verbs, entry.name)
    return namespaced, cluster


def render(catalog: Catalog, scope: PolicyScope, *, source: str) -> str:
    """deploy/rbac.yaml for `catalog` under the policy data `scope` read from `source`."""
    namespaced, cluster = catalog_grants(catalog, scope)
    documents = [_header(scope, cluster, source=source), _namespaced_role(namespaced)]
    if scope.all_namespaces:
        documents.append(_all_namespaces_binding())
    else:
        documents += [_role_binding(namespace) for namespace in scope.namespaces]
    documents += [_cluster_role(cluster), _cluster_role_binding()]
    return "---\n".join(documents)


def _header(scope: PolicyScope, cluster: Grants, *, source: str) -> str:
    reads = ", ".join(sorted(resource for _, resource in cluster.verbs)) or "none"
    warning: list[str] = []
    if scope.all_namespaces:
        where = [f"# - namespaced verbs: in every namespace, through the ClusterRoleBinding {ALL_NAMESPACES_BINDING};"]
        warning = [
            '# !!! mcp.config.namespaces contains "*": the namespaced verbs below are bound CLUSTER-WIDE,',
            "# !!! in every namespace including kube-system. Kubernetes no longer limits where the",
            "# !!! gateway acts; only the policy does.",
            "#",
        ]
    else:
        listed = ", ".join(scope.namespaces) or "none, so no namespaced tool can run"
        where = [
            "# - namespaced verbs: a RoleBinding in each namespace of mcp.config.namespaces, that is",
            f"#   {listed};",
        ]
    lines = [
        *warning,
        f"# GENERATED by `make rbac` (k8s-mcp-gateway rbac --policy-data {source}): do not edit.",
        f"# Change the catalog (gateway/catalog.py) or the policy data ({source}) and regenerate;",
        "# a test fails when this file differs from what the generator writes.",
        "#",
        f"# Least privilege for the ServiceAccount {GATEWAY_NAMESPACE}/{SERVICE_ACCOUNT}. OPA decides",
        "# whether a tool call may run; RBAC bounds what the gateway could do even if the gateway or",
        "# its policy were wrong:",
        "# - the verbs are those the catalog's tools send (their action, and the other calls their",
        "#   handlers make) and nothing else;",
        *where,
        f"# - cluster-scoped reads: those of mcp.config.cluster_reads that a tool makes: {reads}.",
        "#",
        "# `kubectl apply` does not delete: after removing a namespace from the policy data, delete",
        '# its RoleBinding too (README.md, "Running against your cluster").',
        "",
    ]
    return "\n".join(lines)


def _metadata(name: str, namespace: str | None = None) -> list[str]:
    lines = ["metadata:", f"  name: {name}"]
    if namespace is not None:
        lines.append(f"  namespace: {namespace}")
    return [*lines, "  labels:", f"    app.kubernetes.io/name: {SERVICE_ACCOUNT}"]


def _rules(grants: Grants) -> list[str]:
    if not grants.verbs:
        return ["rules: []"]
    lines = ["rules:"]
    for group, resource in sorted(grants.verbs):
        lines += [
            f"  # {', '.join(grants.tools[group, resource])}",
            f"  - apiGroups: {json.dumps([group])}",
            f"    resources: {json.dumps([resource])}",
            f"    verbs: {json.dumps(sorted(grants.verbs[group, resource]))}",
        ]
    return lines


def _binding_tail(kind: str, role: str) -> list[str]:
    return [
        "roleRef:",
        "  apiGroup: rbac.authorization.k8s.io",
        f"  kind: {kind}",
        f"  name: {role}",
        "subjects:",
        "  - kind: ServiceAccount",
        f"    name: {SERVICE_ACCOUNT}",
        f"    namespace: {GATEWAY_NAMESPACE}",
    ]


def _document(comment: Iterable[str], kind: str, body: list[str]) -> str:
    lines = [f"# {line}" for line in comment]
    lines += ["apiVersion: rbac.authorization.k8s.io/v1", f"kind: {kind}", *body]
    return "\n".join(lines) + "\n"


def _namespaced_role(grants: Grants) -> str:
    comment = [
        "The verbs the tools use inside a namespace. A ClusterRole only so that one definition",
        "serves every binding; a RoleBinding to it grants nothing outside the RoleBinding's namespace.",
    ]
    return _document(comment, "ClusterRole", [*_metadata(NAMESPACED_ROLE), *_rules(grants)])


def _role_binding(namespace: str) -> str:
    comment = [f"{namespace}: listed in mcp.config.namespaces."]
    body = [*_metadata(SERVICE_ACCOUNT, namespace), *_binding_tail("ClusterRole", NAMESPACED_ROLE)]
    return _document(comment, "RoleBinding", body)


def _all_namespaces_binding() -> str:
    comment = ['!!! mcp.config.namespaces contains "*": the namespaced verbs in EVERY namespace.']
    body = [*_metadata(ALL_NAMESPACES_BINDING), *_binding_tail("ClusterRole", NAMESPACED_ROLE)]
    return _document(comment, "ClusterRoleBinding", body)


def _cluster_role(grants: Grants) -> str:
    comment = [
        "The cluster-scoped reads of mcp.config.cluster_reads that a tool makes. It carries the name",
        "of the cluster-wide role of earlier versions, so applying this file shrinks that role in place.",
    ]
    return _document(comment, "ClusterRole", [*_metadata(CLUSTER_ROLE), *_rules(grants)])


def _cluster_role_binding() -> str:
    body = [*_metadata(CLUSTER_ROLE), *_binding_tail("ClusterRole", CLUSTER_ROLE)]
    return _document([], "ClusterRoleBinding", body)
