# METADATA
# title: "Example: no writes in kube-system"
# description: |
#   The cluster's own namespace is never written through the gateway, whatever the policy data
#   allows (even with "*" in data.mcp.config.namespaces). Reads stay as the shipped policy decides.
#   decision is the shipped data.mcp.authz.decision with this file's deny reasons added
#   (layer.rego): any reason here denies the call and withdraws an approval offer.
package mcp.examples.kube_system

import rego.v1

import data.mcp.authz
import data.mcp.examples.layer

# METADATA
# description: The decision document for one tool call, the shipped one with deny added.
# entrypoint: true
decision := layer.with_denials(authz.decision, deny)

# METADATA
# description: Why this example denies the call (empty when it does not).
deny contains "writes in kube-system are not allowed: the namespace belongs to the cluster's operators" if {
	input.action.write == true
	input.action.namespace == "kube-system"
}
