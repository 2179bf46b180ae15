"""The SRE tools, one module per Kubernetes resource.

A tool is an async function whose first parameter is the `Kube` client (injected by the server)
and whose other parameters are the agent's arguments, typed with the rules of
`gateway.validation`. Tools know Kubernetes and nothing about policy: by the time one runs, the
guard has validated its arguments, asked OPA and written the audit trail.
"""
