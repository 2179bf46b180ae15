# METADATA
# title: "Example: rights per principal"
# description: |
#   Who may write what: group:sre may restart and scale in staging, group:oncall may restart
#   (only) in prod, everyone else is read-only. The grants only narrow: the shipped rules stay
#   the floor, so a granted write still needs writes enabled, its namespace on the allowlist and
#   the approval the policy data asks for. With policies/data.json's approval rules, staging takes
#   a user confirmation (or a review by group:sre), and prod, which has no entry, takes a review
#   by group:sre-leads. The data must enable writes and list prod:
#     "mode": "readwrite", "namespaces": ["default", "staging", "prod"]
#   decision is the shipped data.mcp.authz.decision with this file's deny reasons added
#   (layer.rego): any reason here denies the call and withdraws an approval offer.
package mcp.examples.principal_rights

import rego.v1

import data.mcp.authz
import data.mcp.examples.layer

# the writes each group may make: a tool in a namespace
_grants := {
	{"group": "sre", "tool": "restart_deployment", "namespace": "staging"},
	{"group": "sre", "tool": "scale_deployment", "namespace": "staging"},
	{"group": "oncall", "tool": "restart_deployment", "namespace": "prod"},
}

# METADATA
# description: The decision document for one tool call, the shipped one with deny added.
# entrypoint: true
decision := layer.with_denials(authz.decision, deny)

# METADATA
# description: Why this example denies the call (empty when it does not).
deny contains sprintf("%s may not call %s in %s: writes are granted only to %s", [
	json.marshal(object.get(input, ["principal", "sub"], null)),
	json.marshal(object.get(input, ["tool", "name"], null)),
	json.marshal(object.get(input, ["action", "namespace"], null)),
	_grants_text,
]) if {
	input.action.write == true
	not _granted
}

_granted if {
	is_array(input.principal.groups)
	some grant in _grants
	grant.group in input.principal.groups
	grant.tool == input.tool.name
	grant.namespace == input.action.namespace
}

_grants_text := concat(", ", sort([sprintf("group:%s (%s in %s)", [grant.group, grant.tool, grant.namespace]) |
	some grant in _grants
]))
