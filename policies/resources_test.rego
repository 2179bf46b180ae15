# Tests of authz.rego for the reads beyond pods, deployments, nodes and events: StatefulSets,
# DaemonSets, ReplicaSets, Jobs, CronJobs, Services, Ingresses, HPAs, PersistentVolumeClaims,
# ConfigMaps and the rollout reads are allowed in an allowed namespace and denied elsewhere;
# PersistentVolumes are cluster-scoped and follow cluster_reads. Their actions join the shared
# fixtures of authz_test.rego (catalog_actions), so visible_tools_test.rego lists them too. The
# generic reads (list_resources, get_resource) name any resource discovery resolves, never Secrets.
package mcp.authz_test # regal ignore:directory-package-mismatch

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data # regal ignore:unresolved-import

resource_actions := {
	"list_statefulsets": {
		"verb": "list", "group": "apps", "resource": "statefulsets", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_statefulset": {
		"verb": "get", "group": "apps", "resource": "statefulsets", "subresource": "",
		"namespace": "default", "name": "postgres", "cluster_scoped": false, "write": false,
	},
	"list_daemonsets": {
		"verb": "list", "group": "apps", "resource": "daemonsets", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_daemonset": {
		"verb": "get", "group": "apps", "resource": "daemonsets", "subresource": "",
		"namespace": "default", "name": "log-shipper", "cluster_scoped": false, "write": false,
	},
	"list_replicasets": {
		"verb": "list", "group": "apps", "resource": "replicasets", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_replicaset": {
		"verb": "get", "group": "apps", "resource": "replicasets", "subresource": "",
		"namespace": "default", "name": "checkout-5b7f9c6d8", "cluster_scoped": false, "write": false,
	},
	"list_jobs": {
		"verb": "list", "group": "batch", "resource": "jobs", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_job": {
		"verb": "get", "group": "batch", "resource": "jobs", "subresource": "",
		"namespace": "default", "name": "report-export", "cluster_scoped": false, "write": false,
	},
	"list_cronjobs": {
		"verb": "list", "group": "batch", "resource": "cronjobs", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_cronjob": {
		"verb": "get", "group": "batch", "resource": "cronjobs", "subresource": "",
		"namespace": "default", "name": "db-backup", "cluster_scoped": false, "write": false,
	},
	"list_services": {
		"verb": "list", "group": "", "resource": "services", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_service": {
		"verb": "get", "group": "", "resource": "services", "subresource": "",
		"namespace": "default", "name": "checkout", "cluster_scoped": false, "write": false,
	},
	"list_ingresses": {
		"verb": "list", "group": "networking.k8s.io", "resource": "ingresses", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_ingress": {
		"verb": "get", "group": "networking.k8s.io", "resource": "ingresses", "subresource": "",
		"namespace": "default", "name": "shop", "cluster_scoped": false, "write": false,
	},
	"list_hpas": {
		"verb": "list", "group": "autoscaling", "resource": "horizontalpodautoscalers", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_hpa": {
		"verb": "get", "group": "autoscaling", "resource": "horizontalpodautoscalers", "subresource": "",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": false,
	},
	"list_pvcs": {
		"verb": "list", "group": "", "resource": "persistentvolumeclaims", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_pvc": {
		"verb": "get", "group": "", "resource": "persistentvolumeclaims", "subresource": "",
		"namespace": "default", "name": "data-postgres-0", "cluster_scoped": false, "write": false,
	},
	"list_pvs": {
		"verb": "list", "group": "", "resource": "persistentvolumes", "subresource": "",
		"namespace": null, "name": null, "cluster_scoped": true, "write": false,
	},
	"describe_pv": {
		"verb": "get", "group": "", "resource": "persistentvolumes", "subresource": "",
		"namespace": null, "name": "pv-staging-postgres-data", "cluster_scoped": true, "write": false,
	},
	"list_configmaps": {
		"verb": "list", "group": "", "resource": "configmaps", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_configmap": {
		"verb": "get", "group": "", "resource": "configmaps", "subresource": "",
		"namespace": "default", "name": "web-config", "cluster_scoped": false, "write": false,
	},
	"rollout_status": {
		"verb": "get", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": false,
	},
	"rollout_history": {
		"verb": "get", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": false,
	},
}

# the namespaced reads after the first eight: workloads, network, storage, config, rollouts
resource_reads := [
	"list_statefulsets", "describe_statefulset", "list_daemonsets", "describe_daemonset",
	"list_replicasets", "describe_replicaset", "list_jobs", "describe_job",
	"list_cronjobs", "describe_cronjob", "list_services", "describe_service",
	"list_ingresses", "describe_ingress", "list_hpas", "describe_hpa",
	"list_pvcs", "describe_pvc", "list_configmaps", "describe_configmap",
	"rollout_status", "rollout_history",
]

pv_reads := ["describe_pv", "list_pvs"]

test_success_resource_reads_in_allowed_namespaces if {
	every tool in resource_reads {
		every namespace in ["default", "staging"] {
			authz.decision == allowed with input as call_in(tool, namespace)
		}
	}
}

test_fail_resource_reads_outside_the_allowlist if {
	every tool in resource_reads {
		without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
			with input as call_in(tool, "prod")
		without_hints(authz.decision) == denied([`namespace "kube-system" is not in the allowlist`])
			with input as call_in(tool, "kube-system")
	}
}

test_fail_resource_reads_outside_the_gateway_allowlist if {
	every tool in resource_reads {
		without_hints(authz.decision) == denied([`namespace "default" is not in the gateway's allowlist`])
			with input as call(tool, {"gateway": {"namespaces": ["staging"]}})
	}
}

test_fail_persistent_volumes_are_not_a_shipped_cluster_read if {
	every tool in pv_reads {
		authz.decision == denied([`cluster-scoped resource "persistentvolumes" is not in the cluster read allowlist`])
			with input as call(tool, {})
	}
}

test_success_persistent_volumes_when_cluster_reads_list_them if {
	config := object.union(policy_data, {"cluster_reads": ["namespaces", "nodes", "persistentvolumes"]})
	every tool in pv_reads {
		authz.decision == allowed with input as call(tool, {}) with policy_data as config
	}
}

test_fail_an_allowed_namespace_does_not_open_a_cluster_read if {
	in_staging := {"action": {"namespace": "staging"}, "gateway": {"namespaces": ["staging"]}}
	authz.decision == denied([`cluster-scoped resource "persistentvolumes" is not in the cluster read allowlist`])
		with input as call("list_pvs", in_staging)
}

test_fail_secrets_whatever_the_spelling if {
	reasons := ["secrets are never read through the gateway"]
	every group in ["", "core", "v1", "example.com"] {
		every resource in ["secrets", "Secret", "secret", "SECRETS", " secrets"] {
			every verb in ["get", "list"] {
				patch := {"action": {"group": group, "resource": resource, "verb": verb}}
				without_hints(authz.decision) == denied(reasons) with input as call("list_pods", patch)
			}
		}
	}
}

test_success_the_generic_read_of_another_resource if {
	patch := {"action": {"group": "policy", "resource": "poddisruptionbudgets"}}
	authz.decision == allowed with input as call("list_pods", patch)
}
