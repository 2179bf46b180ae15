# METADATA
# description: |
#   What the examples' tests share: calls shaped like the README's policy contract (version 1),
#   the callers, approvals, policy data with writes enabled, and the decision documents the
#   shipped policy answers with.
package mcp.examples.fixtures_test

import rego.v1

import data.mcp.config as shipped_config

# Wednesday 2026-11-25 09:30:00 UTC (10:30 in Europe/Berlin): the clock of the examples' tests
now_ns := 1795599000000000000

# ---------------------------------------------------------------------------------------------
# Callers
# ---------------------------------------------------------------------------------------------

_client := {"name": "claude-ai", "version": "0.1.0"}

alice := {"sub": "alice", "groups": ["sre"], "authenticated": true, "client": _client}

oscar := {"sub": "oscar", "groups": ["oncall"], "authenticated": true, "client": _client}

dave := {"sub": "dave", "groups": ["dev"], "authenticated": true, "client": _client}

lena := {"sub": "lena", "groups": ["sre-leads"], "authenticated": true, "client": _client}

mia := {"sub": "mia", "groups": ["sre-leads"], "authenticated": true, "client": _client}

# ---------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------

_actions := {
	"list_pods": {"verb": "list", "group": "", "resource": "pods", "subresource": "", "write": false},
	"restart_deployment": {
		"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "",
		"write": true,
	},
	"scale_deployment": {
		"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "scale",
		"write": true,
	},
}

_tools := {
	"list_pods": {"name": "list_pods", "read_only": true, "destructive": false, "idempotent": true},
	"restart_deployment": {"name": "restart_deployment", "read_only": false, "destructive": true, "idempotent": false},
	"scale_deployment": {"name": "scale_deployment", "read_only": false, "destructive": true, "idempotent": true},
}

digest := "sha256:5e1f0000000000000000000000000000000000000000000000000000000000bb"

# the input of `principal` calling `tool` on `namespace` with `arguments` (the namespace added)
call(principal, tool, namespace, arguments) := {
	"version": 1,
	"request": {"id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "time": "2026-11-25T09:30:00Z", "transport": "http"},
	"principal": principal,
	"tool": _tools[tool],
	"arguments": object.union(arguments, {"namespace": namespace}),
	"action": object.union(_actions[tool], {
		"namespace": namespace,
		"name": object.get(arguments, "deployment_name", null),
		"cluster_scoped": false,
	}),
	"gateway": {"mode": "readwrite", "dry_run": false, "cluster": "kind-dev", "namespaces": null},
	"action_digest": digest,
	"approval": null,
}

restart(principal, namespace) := call(principal, "restart_deployment", namespace, {"deployment_name": "web"})

scale(principal, namespace, replicas) := call(principal, "scale_deployment", namespace, {
	"deployment_name": "web",
	"replicas": replicas,
})

read_pods(principal, namespace) := call(principal, "list_pods", namespace, {})

# `request` carrying `approval`
carrying(request, approval) := object.union(request, {"approval": approval})

# ---------------------------------------------------------------------------------------------
# Approvals of the call `request`, valid at now_ns
# ---------------------------------------------------------------------------------------------

_approval(request, kind, approvers) := {
	"id": "apr-7",
	"kind": kind,
	"state": "approved",
	"requested_by": request.principal.sub,
	"approved_by": [{"sub": p.sub, "groups": p.groups} | some p in approvers],
	"created_at": "2026-11-25T09:25:00Z",
	"expires_at": "2026-11-25T09:40:00Z",
	"action_digest": digest,
}

# `request` carrying a review by `approvers` (callers, as above)
reviewed(request, approvers) := carrying(request, _approval(request, "review", approvers))

# `request` carrying its caller's own confirmation
confirmed(request) := carrying(request, _approval(request, "user_confirmation", [request.principal]))

# ---------------------------------------------------------------------------------------------
# Policy data and decisions
# ---------------------------------------------------------------------------------------------

# policies/data.json with writes enabled
readwrite := object.union(shipped_config, {"mode": "readwrite", "grants": [open_grant]})

# a write grant for every caller, tool and namespace: the examples decide who writes, not the shipped grants
open_grant := {"who": "*", "tools": ["*"], "namespaces": ["*"]}

# `decision` without its hints (guidance_test.rego tests the hints of the shipped policy)
without_hints(decision) := object.remove(decision, ["hints"])

# readwrite, with no approval needed anywhere: only the example under test can deny a write
no_approvals := object.union(readwrite, {"approval": {
	"default": {"required": false},
	"namespaces": {"staging": {"required": false}},
}})

# readwrite, with prod added to the namespace allowlist
with_prod := object.union(readwrite, {"namespaces": ["default", "staging", "prod"]})

# readwrite over every namespace ("*"), approvals as in policies/data.json
everywhere := object.union(readwrite, {"namespaces": ["*"]})

obligations := {"max_log_lines": 500, "dry_run": false}

no_approval := {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}

allowed := {"allow": true, "reasons": [], "approval": no_approval, "obligations": obligations}

denied(reasons) := {"allow": false, "reasons": reasons, "approval": no_approval, "obligations": obligations}

# the shipped default approval rule: a review by group:sre-leads
leads_review := {
	"required": true, "approvers": ["group:sre-leads"], "count": 1,
	"ttl_seconds": 900, "kinds": ["review"],
}

leads_review_text := "approval required: 1 approval from group:sre-leads"

needs(rule, reasons) := {"allow": false, "reasons": reasons, "approval": rule, "obligations": obligations}
