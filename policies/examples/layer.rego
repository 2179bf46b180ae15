# METADATA
# title: Layering extra deny reasons over the shipped decision
# description: |
#   How an example adds its own deny reasons to data.mcp.authz.decision without changing the
#   shipped policy. With no extra reason the shipped decision stands as it is. With any, the call
#   is denied and no approval is offered (an approval can never lift a denial); the reasons are
#   the extra ones plus the shipped ones that deny the call (the shipped "approval required"
#   reasons go with the withdrawn offer). The obligations stay as the shipped policy set them.
package mcp.examples.layer

import rego.v1

# METADATA
# description: The approval part of a decision that offers no approval.
no_approval := {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}

# METADATA
# description: |
#   `decision` (a contract version 1 decision document) with the set of strings `denials` added
#   as deny reasons; `decision` unchanged when `denials` is empty.
# scope: document
with_denials(decision, denials) := decision if count(denials) == 0

with_denials(decision, denials) := object.union(decision, {
	"allow": false,
	"reasons": sort(denials | _denying_reasons(decision)),
	"approval": no_approval,
}) if {
	count(denials) > 0
}

# a decision that only asks for an approval gives approval reasons, not denials
_denying_reasons(decision) := set() if decision.approval.required == true

_denying_reasons(decision) := {reason | some reason in decision.reasons} if decision.approval.required == false
