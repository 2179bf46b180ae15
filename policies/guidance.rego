# Hints and permissions, part of package mcp.authz (see authz.rego).
#
# What the policy tells the caller beyond allow or deny, so that an agent learns what it may do
# instead of guessing: the decision's optional `hints` (a denied namespace names the namespaces
# this caller may use for the tool; a denied write says what writes need and who may make them;
# list_namespaces gets the namespaces this caller may use; my_permissions gets `permissions`),
# and `permissions`, a bounded summary of what this caller may do. Hints never decide a call, and
# a caller the policy does not admit gets none.
package mcp.authz

import rego.v1

# METADATA
# title: What this caller may do
# description: |
#   For an input with a principal and the gateway state (a call's input or the listing input):
#   the effective mode, the namespaces reads may use ("*": any), the cluster-scoped resources
#   that may be read, and each write this caller is granted (tool, namespace and the approval it
#   needs), at most _permissions_cap of them; `truncated` says when some were left out.
#   Undefined for a caller the policy does not admit.
# entrypoint: true
permissions := {
	"mode": _effective_mode,
	"namespaces": _capped(sort(_read_namespaces)),
	"cluster_reads": _capped(sort({resource | some resource in _cluster_reads; is_string(resource)})),
	"writes": _capped(_granted_writes),
	"truncated": _permissions_truncated,
} if {
	_request_ok
}

_permissions_cap := 50

_capped(values) := array.slice(values, 0, _permissions_cap)

default _permissions_truncated := false

_permissions_truncated if count(_read_namespaces) > _permissions_cap

_permissions_truncated if count(_granted_writes) > _permissions_cap

default _effective_mode := "readonly"

_effective_mode := "readwrite" if _writes_enabled

# every (tool, namespace) a grant gives this caller where the namespace is usable, with its approval
default _granted_writes := []

_granted_writes := [write |
	some entry in sort({[tool, ns] |
		some grant in _caller_grants
		some tool in grant.tools
		is_string(tool)
		some ns in grant.namespaces
		_usable(ns)
	})
	rule := object.get(_approval_rules, entry[1], _approval_base)
	write := {"tool": entry[0], "namespace": entry[1], "approval": _approval_summary(rule)}
] if {
	_writes_enabled
}

# a namespace the allowlists admit, or "*" when they admit any
_usable(ns) if _namespace_allowed(ns)

_usable("*") if _any_namespace

# the approval a write under the effective approval `rule` needs, as the decision would announce it
_approval_summary(rule) := {"required": false} if not _required_of(rule)

_approval_summary(rule) := {
	"required": true,
	"approvers": _approvers_of(rule),
	"count": _count_of(rule),
	"kinds": _kinds_of(rule),
} if {
	_required_of(rule)
}

# the namespaces reads may use: every listed name both allowlists admit, and "*" when any is admitted
_read_namespaces := {ns |
	some ns in _listed_namespaces
	_namespace_allowed(ns)
} | {"*" | _any_namespace}

_listed_namespaces contains ns if {
	some names in [_policy_namespaces, _gateway_namespaces, [ns | some grant in _grants; some ns in grant.namespaces]]
	some ns in names
	ns != "*"
}

_any_namespace if {
	"*" in _policy_namespaces
	not _gateway_restricts_namespaces
}

# the namespaces this call's tool may use: where reads go, or where a grant lets this caller write
_call_namespaces := _read_namespaces if not _is_write

_call_namespaces := {ns |
	some ns in _read_namespaces
	some grant in _caller_grants
	_grant_covers(grant, _tool_name, ns)
} if {
	_is_write
}

# ---------------------------------------------------------------------------------------------
# The decision's hints
# ---------------------------------------------------------------------------------------------

default _hints_member := {}

_hints_member := {"hints": _hints} if {
	_request_ok
	count(_hints) > 0
}

_hints["namespaces"] := sort(_call_namespaces) if _namespaces_hint_wanted

_hints["writes"] := sort(_write_hints) if _writes_hint_wanted

_hints["permissions"] := permissions if _permissions_hint_wanted

# a namespace denial, or a namespace listing
_namespaces_hint_wanted if {
	_action.cluster_scoped == false
	_namespace
	not _namespace_allowed(_namespace)
}

_namespaces_hint_wanted if {
	_is_write
	_action.cluster_scoped == false
	_namespace
	not _write_granted
}

_namespaces_hint_wanted if _namespaces_read(_action)

_writes_hint_wanted if {
	_is_write
	count(_write_hints) > 0
	count(_denials) > 0
}

_permissions_hint_wanted if {
	_permissions_read(_action)
	count(_denials) == 0
}

_write_hints contains sprintf(`writes need "mode": "readwrite" in the policy data (%s)`, [_data_key("mode")]) if {
	_policy_mode == "readonly"
}

_write_hints contains "writes need the gateway started with K8S_MCP_MODE=readwrite" if _gateway_mode == "readonly"

_write_hints contains sprintf("%s may call %s in %s", [grant.who, _tool_name, concat(", ", sort(names))]) if {
	some grant in _grants
	_matches(_tool_name, grant.tools)
	names := [ns | some ns in grant.namespaces; _usable(ns)]
	count(names) > 0
}

_write_hints contains sprintf("no grant in %s covers %s: nobody may make this write", [
	_data_key("grants"),
	json.marshal(_tool_name),
]) if {
	not _tool_granted_to_anyone
}

_tool_granted_to_anyone if {
	some grant in _grants
	_matches(_tool_name, grant.tools)
}

_namespaces_read(action) if {
	action.group == ""
	action.resource == "namespaces"
	action.write == false
}

# my_permissions reads the caller's own permissions: the gateway's resource, allowed to every admitted caller
_permissions_read(action) if {
	action.group == _gateway_group
	action.resource == "permissions"
	action.write == false
}

_cluster_read_allowed(action) if _permissions_read(action)

_cluster_read_allowed(action) if _contexts_read(action)

# list_contexts reads the kubeconfig contexts the gateway serves: its own resource, like the above
_contexts_read(action) if {
	action.group == _gateway_group
	action.resource == "contexts"
	action.write == false
}
