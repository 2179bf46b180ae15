# METADATA
# title: k8s-mcp-gateway authorization
# description: |
#   Decides every Kubernetes tool call of k8s-mcp-gateway (policy contract version 1,
#   README.md, "The policy contract"). Three safety rules: read-only by default, a namespace
#   allowlist (plus allowlists of cluster-scoped reads and writes), and a human approval bound
#   to the exact action for every write. Before them, the caller: one without a verified credential is
#   admitted on stdio only (the local, configured principal), unless the data sets
#   allow_unauthenticated_http. Settings come from data.mcp.config (policies/data.json); a key
#   missing from the data falls back to the strictest value. A staged rule (data.mcp.config.rollout)
#   either denies or, in warn mode, only warns.
package mcp.authz

import rego.v1

# METADATA
# title: Decision for one tool call
# description: |
#   The decision document of contract version 1, defined for any input: allow, sorted
#   human-readable reasons (empty when allowed), the approval the call still needs
#   (required false and zero values unless a write lacks a valid approval), the
#   obligations the gateway applies before running the call, and sorted warnings from the
#   staged rules in warn mode (only when there is one: absent means none), and hints that guide
#   the caller (guidance.rego; only when there is one: absent means none).
# entrypoint: true
decision := object.union_n([
	{
		"allow": _allow,
		"reasons": sort(_reasons),
		"approval": _approval_requirement,
		"obligations": {
			"max_log_lines": _max_log_lines,
			"dry_run": _dry_run,
		},
	},
	_warnings_member,
	_hints_member,
])

# METADATA
# title: Tools shown by tools/list
# description: |
#   For the listing input, the sorted names of the catalog's tools that could be allowed for
#   this principal and gateway: a write is hidden while the effective mode is readonly, a
#   cluster-scoped tool is shown only for a read of a listed resource, a namespaced tool only
#   when at least one namespace is reachable. A write that needs approval is shown.
#   A courtesy only: every call is decided again by decision.
# entrypoint: true
visible_tools := sort(_visible_names | {name |
	some cluster in _listed_clusters

	# regal ignore:with-outside-test-context
	some name in _visible_names with input.gateway.cluster as cluster
})

# the tools that could be allowed on input.gateway.cluster
_visible_names contains entry.tool.name if {
	_request_ok
	some entry in _catalog
	is_string(entry.tool.name)
	_visible(entry.action)
}

# ---------------------------------------------------------------------------------------------
# Policy data (data.mcp.config), each setting with its strict fallback
# ---------------------------------------------------------------------------------------------

# _config, the data this call is decided by, is the top-level data with the call's cluster's
# entry over it (clusters.rego)

default _policy_mode := "readonly"

_policy_mode := "readwrite" if _config.mode == "readwrite"

default _policy_namespaces := []

_policy_namespaces := _config.namespaces if is_array(_config.namespaces)

default _cluster_reads := []

_cluster_reads := _config.cluster_reads if is_array(_config.cluster_reads)

# cluster-scoped resources that may be written (cordon and uncordon patch nodes); none unless listed
default _cluster_writes := []

_cluster_writes := _config.cluster_writes if is_array(_config.cluster_writes)

# callers without a verified credential on HTTP (K8S_MCP_AUTH=none, loopback only); off unless
# the data says exactly true
default _unauthenticated_http_allowed := false

_unauthenticated_http_allowed if _config.allow_unauthenticated_http == true

default _max_log_lines := 500

_max_log_lines := n if {
	n := _config.obligations.max_log_lines
	_whole_number(n)
	n >= 1
}

# ---------------------------------------------------------------------------------------------
# The gateway's own state (input.gateway): the stricter of it and the policy wins
# ---------------------------------------------------------------------------------------------

default _gateway_mode := "readonly"

_gateway_mode := "readwrite" if input.gateway.mode == "readwrite"

# true when the gateway sends its own namespace allowlist (anything but null or absent)
default _gateway_restricts_namespaces := false

_gateway_restricts_namespaces if input.gateway.namespaces != null

default _writes_enabled := false

_writes_enabled if {
	_policy_mode == "readwrite"
	_gateway_mode == "readwrite"
}

default _dry_run := false

_dry_run if _config.dry_run == true

_dry_run if input.gateway.dry_run == true

# ---------------------------------------------------------------------------------------------
# The input document
# ---------------------------------------------------------------------------------------------

_supported_version := 1

_read_verbs := {"get", "list", "watch"}

# Note: `not f(input.x)` is undefined, not true, when input.x is undefined; so every check of
# an input field below is a rule with a default, or reads the field with object.get.

default _version_ok := false

_version_ok if input.version == _supported_version

default _principal_ok := false

_principal_ok if _non_empty_string(input.principal.sub)

# stdio's principal is configured by whoever started the gateway and trusted as local; any other
# transport (HTTP, or none named) needs a verified credential unless the data admits the caller
default _authenticated := false

# true only, never "true" or 1
_authenticated if input.principal.authenticated == true

default _caller_admitted := false

_caller_admitted if _authenticated

_caller_admitted if input.request.transport == "stdio"

_caller_admitted if _unauthenticated_http_allowed

default _request_ok := false

_request_ok if {
	_version_ok
	_principal_ok
	_caller_admitted
}

_action := input.action if is_object(input.action)

# the namespace a namespaced action targets; undefined unless a non-empty string
_namespace := ns if {
	ns := _action.namespace
	_non_empty_string(ns)
}

_is_write if _action.write == true

# ---------------------------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------------------------

default _allow := false

_allow if {
	count(_denials) == 0
	not _approval_missing
}

_reasons := _denials | _approval_reasons

# every reason the call cannot run, approval aside
_denials := _input_denials | _action_denials

_input_denials contains "the input is not a version 1 policy input (input.version must be 1)" if not _version_ok

_input_denials contains "the input names no caller (input.principal.sub must be a non-empty string)" if {
	not _principal_ok
}

_input_denials contains "the input has no action (input.action must be an object)" if not _action

_input_denials contains _unauthenticated_reason if not _caller_admitted

_unauthenticated_reason := "the caller is not authenticated, and unauthenticated callers are admitted on stdio only"

_action_denials contains "action.write must be true or false" if {
	_action
	not is_boolean(object.get(_action, "write", null))
}

_action_denials contains "action.cluster_scoped must be true or false" if {
	_action
	not is_boolean(object.get(_action, "cluster_scoped", null))
}

_action_denials contains "action.resource must be a non-empty string" if {
	_action
	not _non_empty_string(object.get(_action, "resource", null))
}

_action_denials contains sprintf("action.verb %s is not a read verb, but action.write is false", [verb]) if {
	_action.write == false
	not _verb_matches(_action)
	verb := json.marshal(object.get(_action, "verb", null))
}

# Rule 1: read-only by default.

_action_denials contains sprintf(`writes are disabled: the policy mode%s is "readonly"`, [_on_cluster("mode")]) if {
	_is_write
	_policy_mode == "readonly"
}

_action_denials contains `writes are disabled: the gateway runs in "readonly" mode` if {
	_is_write
	_gateway_mode == "readonly"
}

# Rule 2: the namespace allowlist, for namespaced actions.

_action_denials contains "the action is namespaced but names no namespace" if {
	_action.cluster_scoped == false
	not _namespace
}

_action_denials contains sprintf("namespace %s is not a valid namespace name", [ns]) if {
	_action.cluster_scoped == false
	_namespace
	not _valid_namespace_name(_namespace)
	ns := json.marshal(_namespace)
}

_action_denials contains sprintf("namespace %s is not in the allowlist%s", [ns, _on_cluster("namespaces")]) if {
	_action.cluster_scoped == false
	_namespace
	not _in_policy_allowlist(_namespace)
	ns := json.marshal(_namespace)
}

_action_denials contains sprintf("namespace %s is not in the gateway's allowlist", [ns]) if {
	_action.cluster_scoped == false
	_namespace
	not _in_gateway_allowlist(_namespace)
	ns := json.marshal(_namespace)
}

# Never Secrets, by any verb and in any group, however the resource is spelled: the generic
# reads (list_resources, get_resource) name the resource discovery resolved, and no tool needs them.

_action_denials contains "secrets are never read through the gateway" if {
	resource := object.get(_action, "resource", null)
	is_string(resource)
	lower(trim_space(resource)) in {"secret", "secrets"}
}

# Rule 2b: cluster-scoped actions are reads and writes of listed resources only. No namespace
# allowlist can admit them; a write of a listed resource needs the default approval rule's
# approval (data.mcp.config.approval.default: no namespace entry applies).

_action_denials contains sprintf("cluster-scoped resource %s is not in the cluster write allowlist%s", [
	resource,
	_on_cluster("cluster_writes"),
]) if {
	_action.cluster_scoped == true
	_is_write
	not _cluster_write_listed(_action)
	resource := json.marshal(object.get(_action, "resource", null))
}

_action_denials contains sprintf("cluster-scoped resource %s is not in the cluster read allowlist%s", [
	resource,
	_on_cluster("cluster_reads"),
]) if {
	_action.cluster_scoped == true
	_action.write == false
	not _cluster_read_allowed(_action)
	resource := json.marshal(_action.resource)
}

# Staged rules (below) that are enforced.

_action_denials contains sprintf("%s (rule %s)", [finding.message, finding.rule]) if {
	some finding in _staged
	not _warn_only(finding.rule)
}

# ---------------------------------------------------------------------------------------------
# Staged rules: data.mcp.config.rollout names each one "warn" or "enforce"
# ---------------------------------------------------------------------------------------------

# What the staged rules find in this call: {"rule": name, "message": why it denies the call}.
# Enforced, a finding denies the call like any other reason; in warn mode the call is decided as
# if the rule did not exist and the decision carries the finding as a warning.

# authenticated_writes: a write needs a caller whose identity the gateway verified (an HTTP
# caller with a valid token); the configured stdio principal and system:anonymous can only read
_staged contains {"rule": "authenticated_writes", "message": message} if {
	_is_write
	not _authenticated
	caller := json.marshal(object.get(input, ["principal", "sub"], null))
	message := sprintf("writes need a caller with a verified identity, and %s is not authenticated", [caller])
}

default _rollout := {}

_rollout := _config.rollout if is_object(_config.rollout)

# "warn" only when the data says exactly that: a rule it does not name, or any other value, is enforced
_warn_only(rule) if _rollout[rule] == "warn"

_warnings contains sprintf("%s (rule %s, warn mode: denied once enforced)", [finding.message, finding.rule]) if {
	some finding in _staged
	_warn_only(finding.rule)
}

default _warnings_member := {}

_warnings_member := {"warnings": sort(_warnings)} if count(_warnings) > 0

# ---------------------------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------------------------

default _catalog := []

_catalog := input.catalog if is_array(input.catalog)

_visible(action) if {
	_action_well_formed(action)
	_mode_allows(action)
	action.cluster_scoped == true
	_cluster_read_allowed(action)
}

_visible(action) if {
	_action_well_formed(action)
	_mode_allows(action)
	action.cluster_scoped == true
	_cluster_write_listed(action)
}

_visible(action) if {
	_action_well_formed(action)
	_mode_allows(action)
	action.cluster_scoped == false
	_some_namespace_reachable
}

_action_well_formed(action) if {
	is_boolean(action.write)
	is_boolean(action.cluster_scoped)
	_non_empty_string(action.resource)
	_verb_matches(action)
}

_mode_allows(action) if action.write == false

_mode_allows(action) if {
	action.write == true
	_writes_enabled
}

# a namespace is reachable when the policy allowlist and the gateway's both admit it; any valid
# name stands for "*", so "default" is tried beside every listed name
_some_namespace_reachable if {
	candidates := ({"default"} | {ns | some ns in _policy_namespaces}) | {ns | some ns in _gateway_namespaces}
	some ns in candidates
	_namespace_allowed(ns)
}

default _gateway_namespaces := []

_gateway_namespaces := input.gateway.namespaces if is_array(input.gateway.namespaces)

# ---------------------------------------------------------------------------------------------
# Shared predicates
# ---------------------------------------------------------------------------------------------

_namespace_allowed(ns) if {
	_valid_namespace_name(ns)
	_in_policy_allowlist(ns)
	_in_gateway_allowlist(ns)
}

# a Kubernetes namespace name: an RFC 1123 label, matched as is (no normalisation)
_valid_namespace_name(ns) if {
	is_string(ns)
	regex.match(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, ns)
	count(ns) <= 63
}

# exact match; "*" in the policy data admits any namespace
_in_policy_allowlist(ns) if ns in _policy_namespaces

_in_policy_allowlist(_) if "*" in _policy_namespaces

# exact match; a gateway that sends no allowlist (null) adds no restriction
_in_gateway_allowlist(_) if not _gateway_restricts_namespaces

_in_gateway_allowlist(ns) if ns in _gateway_namespaces

_cluster_read_allowed(action) if {
	action.write == false
	action.resource in _cluster_reads
}

_cluster_write_listed(action) if {
	action.write == true
	action.resource in _cluster_writes
}

# a write may use any verb; a read must use a read verb
_verb_matches(action) if action.write == true

_verb_matches(action) if {
	action.write == false
	action.verb in _read_verbs
}

_non_empty_string(value) if {
	is_string(value)
	value != ""
}

_whole_number(value) if {
	is_number(value)
	value == floor(value)
}

_strings(values) := [value | some value in values; is_string(value)] if is_array(values)

else := []

_plural(1, singular, _) := singular

_plural(n, _, plural) := plural if n != 1
