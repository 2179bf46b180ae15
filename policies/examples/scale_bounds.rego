# METADATA
# title: "Example: scale only within bounds"
# description: |
#   scale_deployment may ask for at most 10 replicas, and for a deployment whose usual size is
#   listed below, at most double that size. The input carries the requested count
#   (input.arguments.replicas), not the current one, so "at most double" is measured against the
#   usual sizes kept here. Scaling down is always within bounds.
#   decision is the shipped data.mcp.authz.decision with this file's deny reasons added
#   (layer.rego): any reason here denies the call and withdraws an approval offer.
package mcp.examples.scale_bounds

import rego.v1

import data.mcp.authz
import data.mcp.examples.layer

# the most replicas any deployment may be scaled to
_max_replicas := 10

# the usual size of deployments, by "namespace/name"
_usual_replicas := {
	"staging/web": 2,
	"default/web": 3,
}

# METADATA
# description: The decision document for one tool call, the shipped one with deny added.
# entrypoint: true
decision := layer.with_denials(authz.decision, deny)

# METADATA
# description: Why this example denies the call (empty when it does not).
# scope: document
deny contains "scale_deployment needs replicas as a whole number" if {
	_scale
	not _whole_number(input.arguments.replicas)
}

deny contains sprintf("scaling to %d replicas is above the limit of %d", [_requested, _max_replicas]) if {
	_requested > _max_replicas
}

deny contains sprintf("scaling %s to %d replicas more than doubles its usual %d", [target, _requested, usual]) if {
	target := sprintf("%s/%s", [input.arguments.namespace, input.arguments.deployment_name])
	usual := _usual_replicas[target]
	_requested > 2 * usual
}

_scale if input.tool.name == "scale_deployment"

_requested := input.arguments.replicas if {
	_scale
	_whole_number(input.arguments.replicas)
}

_whole_number(value) if {
	is_number(value)
	value == floor(value)
}
