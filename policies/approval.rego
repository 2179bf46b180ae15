# METADATA
# title: Approvals, rule 3 of k8s-mcp-gateway authorization
# description: |
#   Rule 3 of package mcp.authz (see authz.rego): a write needs a valid human approval bound to
#   this exact action. The effective approval rule is the namespace's entry in
#   data.mcp.config.approval.namespaces over data.mcp.config.approval.default over the strictest rule;
#   the approval the call carries (input.approval) is checked against it here. Also here: who may
#   read the gateway's approval requests (get_approval, list_my_approvals).
# scope: subpackages
package mcp.authz

import rego.v1

# the strictest rule, used for every key the policy data leaves out
_strict_approval_rule := {"required": true, "approvers": [], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}

_approval_kinds_known := {"review", "user_confirmation"}

default _approval_default := {}

_approval_default := rule if {
	rule := _config.approval.default
	is_object(rule)
}

_approval_base := object.union(_strict_approval_rule, _approval_default)

# the effective rule of each namespace data.mcp.config.approval.namespaces names: its entry over the base
_approval_rules[ns] := object.union(_approval_base, override) if {
	some ns, override in _config.approval.namespaces
	is_object(override)
}

# the effective rule of this call's namespace: its entry over the default entry over the strict rule
_approval_rule := object.get(_approval_rules, object.get(input, ["action", "namespace"], null), _approval_base)

_approval_required := _required_of(_approval_rule)

_approval_approvers := _approvers_of(_approval_rule)

_approval_count := _count_of(_approval_rule)

_approval_ttl := _ttl_of(_approval_rule)

_approval_kinds := _kinds_of(_approval_rule)

# each key of a rule, with the strict value when it is missing or malformed
_required_of(rule) := false if rule.required == false

else := true

_approvers_of(rule) := sort({approver |
	some approver in rule.approvers
	is_string(approver)
	regex.match(`^(user|group):.+$`, approver)
}) if {
	is_array(rule.approvers)
} else := []

_count_of(rule) := rule.count if {
	_whole_number(rule.count)
	rule.count >= 1
} else := 1

_ttl_of(rule) := rule.ttl_seconds if {
	_whole_number(rule.ttl_seconds)
	rule.ttl_seconds >= 1
} else := 900

_kinds_of(rule) := kinds if {
	is_array(rule.kinds)
	kinds := sort({kind | some kind in rule.kinds; kind in _approval_kinds_known})
	count(kinds) > 0
} else := ["review"]

# an otherwise allowed write that needs an approval it does not validly carry
_approval_missing if {
	count(_denials) == 0
	_is_write
	_approval_required
	not _approval_valid
}

default _approval_requirement := {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}

_approval_requirement := {
	"required": true,
	"approvers": _approval_approvers,
	"count": _approval_count,
	"ttl_seconds": _approval_ttl,
	"kinds": _approval_kinds,
} if {
	_approval_missing
}

_approval_reasons contains _approval_requirement_text if _approval_missing

_approval_reasons contains problem if {
	_approval_missing
	some problem in _approval_problems
}

_approval_requirement_text := sprintf("approval required: %v %s from %s%s", [
	_approval_count,
	_plural(_approval_count, "approval", "approvals"),
	_approvers_text,
	_kinds_text,
])

default _approvers_text := "an approver (none is configured)"

_approvers_text := concat(" or ", _approval_approvers) if count(_approval_approvers) > 0

default _kinds_text := ""

_kinds_text := sprintf(" (accepted kinds: %s)", [concat(", ", _approval_kinds)]) if _approval_kinds != ["review"]

# The approval the call carries. `null` or absent means none; anything else is checked.

_approval := input.approval if is_object(input.approval)

default _approval_valid := false

_approval_valid if {
	_approval
	count(_approval_problems) == 0
}

_approval_problems contains "the approval is malformed (input.approval must be an object or null)" if {
	input.approval != null
	not _approval
}

_approval_problems contains sprintf("the approval is not approved (state %s)", [state]) if {
	_approval
	not _approval.state == "approved"
	state := json.marshal(object.get(_approval, "state", null))
}

_approval_problems contains "the approval was granted for a different action (action digest mismatch)" if {
	_approval
	not _approval_digest_matches
}

_approval_problems contains sprintf("the approval was requested by %s, not by the caller", [requester]) if {
	_approval
	not _approval.requested_by == input.principal.sub
	requester := json.marshal(object.get(_approval, "requested_by", null))
}

_approval_problems contains sprintf("the approval expired at %s", [_approval.expires_at]) if {
	_approval_expires_ns <= time.now_ns()
}

_approval_problems contains "the approval has no valid expires_at (RFC 3339 time)" if {
	_approval
	not _approval_expires_ns
}

_approval_problems contains "the approval has no valid created_at (RFC 3339 time)" if {
	_approval
	not _approval_created_ns
}

# the policy of the moment bounds an approval's life: a shorter ttl applies to approvals already given
_approval_problems contains _outlives_ttl_text if {
	_approval_expires_ns - _approval_created_ns > _approval_ttl * 1000000000
}

_approval_problems contains sprintf("approval kind %s is not accepted here (accepted: %s)", [kind, accepted]) if {
	_approval
	not object.get(_approval, "kind", null) in _approval_kinds
	kind := json.marshal(object.get(_approval, "kind", null))
	accepted := concat(", ", _approval_kinds)
}

_approval_problems contains "the requester cannot approve their own request" if {
	_approval.kind == "review"
	some approver in _approved_by
	approver.sub == _approval.requested_by
}

_approval_problems contains sprintf("not enough approvals: %d of %v from %s", [
	count(_approval_matching_approvers),
	_approval_count,
	_approvers_text,
]) if {
	_approval.kind == "review"
	count(_approval_matching_approvers) < _approval_count
}

_approval_problems contains "the approval was not confirmed by the requester" if {
	_approval.kind == "user_confirmation"
	not _approval_confirmed_by_requester
}

_outlives_ttl_text := sprintf("the approval lasts longer than the policy's ttl of %v seconds", [_approval_ttl])

_approval_digest_matches if {
	_non_empty_string(input.action_digest)
	_approval.action_digest == input.action_digest
}

_approval_expires_ns := time.parse_rfc3339_ns(_approval.expires_at) if _valid_time(_approval.expires_at)

_approval_created_ns := time.parse_rfc3339_ns(_approval.created_at) if _valid_time(_approval.created_at)

# An RFC 3339 time that time.parse_rfc3339_ns parses without a built-in error (which OPA turns
# into an undefined value by default, but into a failed query with strict built-in errors):
# every field in range, a real calendar day, and a year that fits in int64 nanoseconds.
_valid_time(value) if {
	is_string(value)
	regex.match(_time_pattern, value)
	day := to_number(substring(value, 8, 2))
	day <= _days_in_month(to_number(substring(value, 0, 4)), to_number(substring(value, 5, 2)))
}

_time_pattern := concat("", [
	`^(19\d\d|2[01]\d\d|22[0-5]\d)`, # year 1900-2259, within int64 nanoseconds
	`-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])`, # month, day (then checked against the month)
	`T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?`, # time, optional fraction
	`(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`, # offset
])

_days_in_month(_, month) := 31 if month in {1, 3, 5, 7, 8, 10, 12}

_days_in_month(_, month) := 30 if month in {4, 6, 9, 11}

_days_in_month(year, 2) := 29 if _leap_year(year)

_days_in_month(year, 2) := 28 if not _leap_year(year)

_leap_year(year) if {
	year % 4 == 0
	year % 100 != 0
}

_leap_year(year) if year % 400 == 0

# approved_by, reduced to well-formed entries: {"sub": non-empty string, "groups": [string]}
default _approved_by := []

_approved_by := [{"sub": approver.sub, "groups": _strings(object.get(approver, "groups", []))} |
	some approver in _approval.approved_by
	_non_empty_string(approver.sub)
] if {
	is_array(_approval.approved_by)
}

# distinct approvers, other than the requester, that the rule allows
_approval_matching_approvers contains approver.sub if {
	some approver in _approved_by
	approver.sub != _approval.requested_by
	some allowed in _approval_approvers
	_approver_allowed(allowed, approver)
}

_approval_confirmed_by_requester if {
	some approver in _approved_by
	approver.sub == _approval.requested_by
}

_approver_allowed(allowed, approver) if allowed == sprintf("user:%s", [approver.sub])

_approver_allowed(allowed, approver) if {
	some group in approver.groups
	allowed == sprintf("group:%s", [group])
}

# ---------------------------------------------------------------------------------------------
# Reading approval requests: each principal reads its own
# ---------------------------------------------------------------------------------------------

_gateway_group := "k8s-mcp-gateway"

# a read of the gateway's own approval requests; they are not Kubernetes objects, so the namespace
# and cluster read allowlists do not govern them: this rule and the one below do
_approvals_read(action) if {
	action.group == _gateway_group
	action.resource == "approvals"
	action.write == false
}

_cluster_read_allowed(action) if _approvals_read(action)

# a named request (get_approval) arrives in input.approval; listing shows only the caller's own
_action_denials contains "an approval request can be read only by the principal who requested it" if {
	_approvals_read(_action)
	object.get(_action, "name", null) != null
	not _own_approval
}

_own_approval if {
	_principal_ok
	input.approval.requested_by == input.principal.sub
}
