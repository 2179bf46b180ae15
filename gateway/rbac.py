"""The gateway's Kubernetes RBAC, generated from the catalog and the policy data.

OPA decides every call; RBAC bounds what the gateway's ServiceAccount could do if the gateway or
its policy were wrong. So the grants come from the two sources the policy itself reads, and from
nothing else:

- *which verbs on which resources*: the catalog. Each tool's action as `ActionTemplate.bind`
  sends it to the policy (a `get` whose name argument is optional is also a `list`), plus the
  other calls its handler and its preview make (`Entry.extra_calls`: the describe tools list
  events, the service tools EndpointSlices, `rollout_history` ReplicaSets, the write previews
  get the deployment). The approval tools call the gateway's own store, not Kubernetes.
- *in which namespaces*: `mcp.config.namespaces` of the policy data. One RoleBinding per listed
  namespace; `"*"` binds the same role cluster-wide, and the generated file says so at its top.
- *which cluster-scoped reads*: `mcp.config.cluster_reads`, as far as a catalog tool reads them.
- *which cluster-scoped writes*: `mcp.config.cluster_writes` (cordon and uncordon: `nodes`), as far
  as a catalog tool writes them, with the reads their previews make of the same resource.
- *calls to one fixed namespace* (`ApiCall.namespace`: a PersistentVolume's events, which
  Kubernetes records in `default`), of the tools the policy data can allow at all: in the
  namespaced role where that namespace is bound anyway, otherwise in a Role of their own there.

`k8s-mcp-gateway rbac` prints the manifest and `make rbac` writes it to deploy/rbac.yaml; a test
fails when the committed file is not what this module generates.

    PolicyDataError (ValueError)   the policy data file is unreadable, or a setting has the wrong shape
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.catalog import Catalog, Entry
from gateway.validation import DNS1123_LABEL

SERVICE_ACCOUNT = "k8s-mcp-gateway"
GATEWAY_NAMESPACE = "k8s-mcp-gateway"
NAMESPACED_ROLE = "k8s-mcp-gateway-namespaced"
FIXED_NAMESPACE_ROLE = "k8s-mcp-gateway-fixed-namespace"
"""The Role (and its RoleBinding) for the calls of `ApiCall.namespace` in a namespace not bound otherwise."""
CLUSTER_ROLE = "k8s-mcp-gateway"
"""The cluster-scoped reads. Earlier manifests bound every verb cluster-wide under this name, so
applying the generated file over them shrinks that role in place instead of leaving it behind."""
ALL_NAMESPACES_BINDING = "k8s-mcp-gateway-all-namespaces"
ALL_NAMESPACES = "*"
READ_VERBS = frozenset({"get", "list", "watch"})
COMMENT_WIDTH = 96

RuleKey = tuple[str, str]
"""(API group, resource or resource/subresource), as an RBAC rule names them."""


class PolicyDataError(ValueError):
    """The policy data cannot say which namespaces or cluster reads to grant."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyScope:
    """What the policy data allows at most: the namespaces, the cluster-scoped reads and writes."""

    namespaces: tuple[str, ...]
    cluster_reads: frozenset[str]
    cluster_writes: frozenset[str] = frozenset()

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces

    def binds(self, namespace: str) -> bool:
        """Whether the namespaced role is bound in `namespace`."""
        return self.all_namespaces or namespace in self.namespaces


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
    """`mcp.config.namespaces`, `mcp.config.cluster_reads` and `mcp.config.cluster_writes` of a policy data file.

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
        namespaces=tuple(sorted(set(namespaces))),
        cluster_reads=frozenset(_strings(path, config, "cluster_reads")),
        cluster_writes=frozenset(_strings(path, config, "cluster_writes")),
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


@dataclass(slots=True)
class CatalogGrants:
    """Every call the catalog's tools make within a `PolicyScope`, by where it is granted."""

    namespaced: Grants = field(default_factory=Grants)
    cluster: Grants = field(default_factory=Grants)
    fixed: dict[str, Grants] = field(default_factory=dict)
    """By namespace: the calls to a fixed namespace that the namespaced role is not bound in."""


def catalog_grants(catalog: Catalog, scope: PolicyScope) -> CatalogGrants:
    """The grants for every call the catalog's tools make, within `scope`."""
    grants = CatalogGrants()
    for entry in catalog:
        action = entry.action
        # The generic reads get no grant of their own: they reach only what the other tools' grants allow.
        if entry.uses != "kube" or (action.cluster_scoped and not _cluster_allowed(scope, action.resource, entry)):
            continue
        resource = f"{action.resource}/{action.subresource}" if action.subresource else action.resource
        calls: list[tuple[RuleKey, set[str], str | None]] = [((action.group, resource), action_verbs(entry), None)]
        calls += [((call.group, call.resource), {call.verb}, call.namespace) for call in entry.extra_calls]
        for key, verbs, namespace in calls:
            if namespace is not None and not scope.binds(namespace):
                grants.fixed.setdefault(namespace, Grants()).add(key, verbs, entry.name)
            elif namespace is not None or not action.cluster_scoped:
                grants.namespaced.add(key, verbs, entry.name)
            elif (key[1] in scope.cluster_reads and verbs <= READ_VERBS) or (
                action.write and key[1] in scope.cluster_writes
            ):
                grants.cluster.add(key, verbs, entry.name)
    return grants


def _cluster_allowed(scope: PolicyScope, resource: str, entry: Entry) -> bool:
    """Whether the policy data can allow a cluster-scoped tool at all."""
    if entry.action.write:
        return resource in scope.cluster_writes
    return resource in scope.cluster_reads and action_verbs(entry) <= READ_VERBS


def render(catalog: Catalog, scope: PolicyScope, *, source: str) -> str:
    """deploy/rbac.yaml for `catalog` under the policy data `scope` read from `source`."""
    grants = catalog_grants(catalog, scope)
    documents = [_header(scope, grants, source=source), _namespaced_role(grants.namespaced)]
    if scope.all_namespaces:
        documents.append(_all_namespaces_binding())
    else:
        documents += [_role_binding(namespace) for namespace in scope.namespaces]
    for namespace, fixed in sorted(grants.fixed.items()):
        documents += [_fixed_namespace_role(namespace, fixed), _fixed_namespace_binding(namespace)]
    documents += [_cluster_role(grants.cluster), _cluster_role_binding()]
    return "---\n".join(documents)


def _header(scope: PolicyScope, grants: CatalogGrants, *, source: str) -> str:
    cluster_calls = ", ".join(
        f"{verb} {resource}" for (_, resource), verbs in sorted(grants.cluster.verbs.items()) for verb in sorted(verbs)
    )
    elsewhere = ", ".join(
        f"{verb} {resource} in {namespace}"
        for namespace, fixed in sorted(grants.fixed.items())
        for (_, resource), verbs in sorted(fixed.verbs.items())
        for verb in sorted(verbs)
    )
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
        "#   handlers and previews make) and nothing else;",
        *where,
        "# - cluster-scoped calls: the reads of mcp.config.cluster_reads and the writes of",
        f"#   mcp.config.cluster_writes that a tool makes: {cluster_calls or 'none'};",
        "# - calls to one fixed namespace outside those (Kubernetes records a cluster-scoped object's",
        f"#   events in default), for tools the policy data can allow: {elsewhere or 'none'}.",
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
        needed_by = textwrap.wrap(", ".join(grants.tools[group, resource]), width=COMMENT_WIDTH)
        lines += [
            *(f"  # {line}" for line in needed_by),
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


def _fixed_namespace_role(namespace: str, grants: Grants) -> str:
    comment = [
        f"{namespace}: not in mcp.config.namespaces. Only the calls tools make here whatever namespace",
        "they act on: the events of the cluster-scoped objects they describe.",
    ]
    return _document(comment, "Role", [*_metadata(FIXED_NAMESPACE_ROLE, namespace), *_rules(grants)])


def _fixed_namespace_binding(namespace: str) -> str:
    body = [*_metadata(FIXED_NAMESPACE_ROLE, namespace), *_binding_tail("Role", FIXED_NAMESPACE_ROLE)]
    return _document([], "RoleBinding", body)


def _all_namespaces_binding() -> str:
    comment = ['!!! mcp.config.namespaces contains "*": the namespaced verbs in EVERY namespace.']
    body = [*_metadata(ALL_NAMESPACES_BINDING), *_binding_tail("ClusterRole", NAMESPACED_ROLE)]
    return _document(comment, "ClusterRoleBinding", body)


def _cluster_role(grants: Grants) -> str:
    comment = [
        "The cluster-scoped reads of mcp.config.cluster_reads and writes of mcp.config.cluster_writes",
        "that a tool makes (with the reads of a written kind its preview makes). It carries the name",
        "of the cluster-wide role of earlier versions, so applying this file shrinks that role in place.",
    ]
    return _document(comment, "ClusterRole", [*_metadata(CLUSTER_ROLE), *_rules(grants)])


def _cluster_role_binding() -> str:
    body = [*_metadata(CLUSTER_ROLE), *_binding_tail("ClusterRole", CLUSTER_ROLE)]
    return _document([], "ClusterRoleBinding", body)
