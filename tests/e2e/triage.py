"""The triage of the seeded broken rollout, as an agent does it: one answer leading to the next.

The seeded `staging/checkout` rolled out revision 2 with the Recreate strategy; its new pod never
got past its init container, so the Service has no endpoints left. Every step uses only what an
earlier answer said (names, the selector, the owner), as an agent would, through the real policy
against a real apiserver; `tests/e2e/test_triage.py` runs it on each transport and
`tests/e2e/test_contexts.py` on each of two clusters behind one gateway.
"""

from __future__ import annotations

import json
from typing import Any

from fastmcp import Client

from k8s_mcp_sandbox import application, seed


class Agent:
    """One MCP session that asks in staging (on `context`, when given) and checks that nothing
    secret comes back."""

    def __init__(self, client: Client[Any], *, context: str | None = None) -> None:
        self.client = client
        self.chosen = {"context": context} if context is not None else {}

    async def ask(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(
            tool, {"namespace": "staging", **self.chosen, **arguments}, raise_on_error=False
        )
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        shown = json.dumps(result.structured_content)
        assert seed.SECRET_VALUE not in shown
        assert application.CONFIGMAP_VALUE not in shown
        return result.structured_content


async def triage(agent: Agent) -> None:
    """Find the failing ReplicaSet, its pod's init container, the events and the Service without
    endpoints, asserting each finding."""

    # Which deployment is not rolling out? Among the unready ones, the one whose rollout failed.
    deployments = (await agent.ask("list_deployments"))["deployments"]
    unready = [d["name"] for d in deployments if d["ready"] < d["replicas"]]
    statuses = {name: await agent.ask("rollout_status", deployment_name=name) for name in unready}
    [failed] = [name for name, status in statuses.items() if status["state"] == "failed"]
    assert failed == "checkout"
    assert "exceeded its progress deadline" in statuses[failed]["message"]

    # The failing ReplicaSet: the one of the current revision.
    history = await agent.ask("rollout_history", deployment_name=failed)
    [current] = [r for r in history["revisions"] if r["current"]]
    assert (current["revision"], current["ready"], current["replicas"]) == (2, 0, 1)
    replica_set = await agent.ask("describe_replicaset", replicaset_name=current["replicaset"])
    assert replica_set["owner"] == [f"Deployment/{failed}"]
    [created] = [e for e in replica_set["events"] if e["reason"] == "SuccessfulCreate"]

    # Its pod, found through the ReplicaSet's own selector, is stuck in an init container.
    [row] = (await agent.ask("list_pods", label_selector=replica_set["selector"]))["pods"]
    assert created["message"] == f"Created pod: {row['name']}"
    assert row["status"] == "Init:CrashLoopBackOff"
    pod = await agent.ask("describe_pod", pod_name=row["name"])
    assert pod["owner"] == [f"ReplicaSet/{current['replicaset']}"]
    [init] = [c for c in pod["init_containers"] if c["state"]["state"] != "terminated"]
    assert (init["name"], init["state"]["reason"], init["restarts"]) == ("migrate", "CrashLoopBackOff", 4)
    assert (init["last_state"]["reason"], init["last_state"]["exit_code"]) == ("Error", 1)
    assert [c["state"]["reason"] for c in pod["containers"]] == ["PodInitializing"]

    # The events say the same, and the init container's last run says why.
    assert any(e["reason"] == "BackOff" and "migrate" in e["message"] for e in pod["events"])
    warnings = (await agent.ask("list_events", type="Warning"))["events"]
    assert any(e["object"] == f"Pod/{row['name']}" and e["reason"] == "BackOff" for e in warnings)
    log = await agent.ask("get_pod_logs", pod_name=row["name"], container=init["name"], previous=True)
    assert "already exists" in log["log"]

    # The Service in front of the deployment has no endpoints left (Recreate scaled revision 1 to 0).
    services = (await agent.ask("list_services"))["services"]
    [service] = [s for s in services if s["selector"] == f"app={failed}"]
    assert service["endpoints"] == {"ready": 0, "not_ready": 0}
    assert (await agent.ask("describe_service", service_name=service["name"]))["slices"] == []
    previous = await agent.ask("describe_replicaset", replicaset_name=history["revisions"][0]["replicaset"])
    assert (previous["replicas"], previous["revision"]) == (0, 1)
