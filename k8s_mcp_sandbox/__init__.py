"""A throwaway local stack for tests and the demo: OPA and a real Kubernetes control plane.

Everything here binds to loopback, lives in a temporary directory and is torn down on exit.
"""
