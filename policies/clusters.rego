# Policy data per cluster, part of package mcp.authz (see authz.rego).
#
# One gateway may serve several kubeconfig contexts (K8S_MCP_CONTEXTS), and a call names the one
# it runs against in input.gateway.cluster. data.mcp.config.clusters maps a context name to policy
# data of its own, for the calls on that cluster: each key it sets replaces the top-level key, and
# an object is merged key by key (a cluster's approval.namespaces.prod replaces that one entry). A
# cluster without an entry is decided by the top-level data alone. So one policy can let a
# staging cluster take writes that a production cluster refuses, or narrow one cluster's
# namespaces, while the three rules hold on every cluster.
package mcp.authz

import rego.v1

default _base_config := {}

# data.mcp.config is policies/data.json, which Regal does not see
_base_config := data.mcp.config if is_object(data.mcp.config)

# the data of the cluster this call runs against, less any nested clusters key; {} without one
default _cluster_config := {}

_cluster_config := object.remove(entry, ["clusters"]) if {
	entry := _base_config.clusters[input.gateway.cluster]
	is_object(entry)
}

# the policy data this call is decided by
_config := object.union(_base_config, _cluster_config)

# where a setting of this call's data comes from, for reasons and hints that name it
_data_key(key) := sprintf("data.mcp.config.clusters[%s].%s", [json.marshal(input.gateway.cluster), key]) if {
	_cluster_sets(key)
} else := sprintf("data.mcp.config.%s", [key])

# " on cluster \"NAME\"" when this call's cluster sets `key`, else ""
_on_cluster(key) := sprintf(" on cluster %s", [json.marshal(input.gateway.cluster)]) if {
	_cluster_sets(key)
} else := ""

_cluster_sets(key) if key in object.keys(_cluster_config)

# the clusters the listing input names besides input.gateway.cluster (input.gateway.clusters):
# a tool is listed when it could be allowed on any of them
_listed_clusters := {cluster | some cluster in _strings(object.get(input, ["gateway", "clusters"], null))}
