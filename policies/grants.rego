# Write grants, part of package mcp.authz (see authz.rego).
#
# A write runs only for a caller that
# a grant in data.mcp.config.grants names, for that tool in that namespace. A grant only adds a
# right on top of the three rules: the call still needs writes enabled, its namespace on the
# allowlist and the approval the data asks for. No grant, or no grants key: nobody writes.
package mcp.authz

import rego.v1

# data.mcp.config.grants: [{"who": "group:NAME" | "user:NAME" | "*", "tools": [...], "namespaces": [...]}];
# "*" in tools or namespaces matches any. A malformed grant grants nothing.
default _grants := []

_grants := [grant |
	some grant in _config.grants
	_grant_well_formed(grant)
] if {
	is_array(_config.grants)
}

_grant_well_formed(grant) if {
	is_string(grant.who)
	regex.match(`^((user|group):.+|\*)$`, grant.who)
	is_array(grant.tools)
	is_array(grant.namespaces)
}

# the grants that name this caller: by its sub, one of its groups, or "*"
_caller_grants := [grant |
	some grant in _grants
	_names_caller(grant.who)
]

_names_caller("*")

_names_caller(who) if {
	_principal_ok
	who == sprintf("user:%s", [input.principal.sub])
}

_names_caller(who) if {
	some group in _strings(object.get(input, ["principal", "groups"], []))
	who == sprintf("group:%s", [group])
}

_grant_covers(grant, tool, ns) if {
	_matches(tool, grant.tools)
	_matches(ns, grant.namespaces)
}

_matches(value, values) if value in values

_matches(_, values) if "*" in values

_tool_name := object.get(input, ["tool", "name"], null)

_write_granted if {
	some grant in _caller_grants
	_grant_covers(grant, _tool_name, _namespace)
}

_action_denials contains sprintf("no write grant (%s) lets %s call %s in namespace %s", [
	_data_key("grants"),
	json.marshal(object.get(input, ["principal", "sub"], null)),
	json.marshal(_tool_name),
	json.marshal(_namespace),
]) if {
	_is_write
	_action.cluster_scoped == false
	_namespace
	not _write_granted
}
