"""k8s-mcp-gateway: Kubernetes SRE tools for AI agents, every call decided by OPA."""

__version__ = "0.1.0"
