"""Human approvals for writes: requested by a call, decided by people, used exactly once.

A write the policy allows only with an approval becomes a pending request bound to its action
digest, its requester and its cluster (`flow`). People approve or deny it (`service`, called by
the CLI and later by an HTTP route), or the person at the MCP client confirms it where the policy
accepts that. The call made again with the request's id carries it to OPA, which decides whether
it is valid; the gateway only makes it single-use (`store`).

    model     Approval, Approver, Grant: the request and who decided it
    store     ApprovalStore (the interface) and SqliteApprovalStore (the default)
    service   ApprovalService: list, show, approve, deny, expire; every step audited
    flow      ApprovalFlow: the guard's hook for calls that need or carry an approval
    tools     get_approval, list_my_approvals: the agent's read tools
"""
