# METADATA
# title: "Example: two approvers for prod"
# description: |
#   A write in prod needs at least two distinct approvers, whatever the policy data says: the
#   prod approval rule of data.mcp.config (its namespaces.prod entry over its default entry) is
#   kept, with "required" forced on and "count" raised to at least 2. decision is the shipped
#   data.mcp.authz.decision evaluated under that data, so the shipped approval rules (who may
#   approve, no self-approval, expiry, the action digest) check the approvals, and the approval
#   offer of a prod write asks for two. Prod must still be in data.mcp.config.namespaces and
#   writes enabled there: the shipped rules stay the floor.
package mcp.examples.prod_two_approvers

import rego.v1

import data.mcp.authz
import data.mcp.config

_min_approvers := 2

# METADATA
# description: The decision document for one tool call, under the prod rule raised to two approvers.
# entrypoint: true
decision := shipped if {
	shipped := authz.decision with config as _config
}

# the policy data with its prod approval rule raised
_config := object.union(config, {"approval": {"namespaces": {"prod": _prod_rule}}})

_prod_rule := object.union(_prod_rule_in_data, {"required": true, "count": _prod_count})

# the rule the data gives prod: its own entry over the default entry
_prod_rule_in_data := object.union(
	object.get(config, ["approval", "default"], {}),
	object.get(config, ["approval", "namespaces", "prod"], {}),
)

default _prod_count := 2

_prod_count := n if {
	n := _prod_rule_in_data.count
	is_number(n)
	n > _min_approvers
}
