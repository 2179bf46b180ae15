"""`k8s-mcp-gateway demo`: the three rules at work on a cluster that needs nothing of yours.

Starts a real etcd + kube-apiserver on loopback (seeded with a few namespaces, deployments, pods,
nodes and events), a real OPA with the project's policies, and the gateway over streamable HTTP
as its own least-privilege ServiceAccount. Then it runs a short MCP session as an agent would and
prints each call, the policy's decision and its reasons, taken from the gateway's audit trail:
reads allowed and denied, a write refused while the policy is read-only, and, once the security
team enables writes, the whole approval flow: the write comes back pending, a second person
approves it through the approvals API, the agent's retry runs it once and a replay is refused.
It puts the cluster and the policy data back, prints how to connect your own MCP client to the
same stack and waits for Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from fastmcp import Client
from kubernetes.client import AppsV1Api

from gateway.auth import issue_tokens
from gateway.binaries import BinaryNotFoundError
from k8s_mcp_sandbox.cluster import ClusterStartError, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.process import ManagedProcess, ProcessStartError, free_port
from k8s_mcp_sandbox.project import POLICY_DIR
from k8s_mcp_sandbox.seed import CRASHLOOP_POD


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    tool: str
    arguments: dict[str, Any]


SCRIPT: tuple[Step, ...] = (
    Step("An allowed read: pods in an allowlisted namespace", "list_pods", {"namespace": "staging"}),
    Step(
        "An allowed read: the last lines the crash-looping container wrote before it died",
        "get_pod_logs",
        {"pod_name": CRASHLOOP_POD[1], "namespace": CRASHLOOP_POD[0], "tail_lines": 3, "previous": True},
    ),
    Step("Namespace allowlist: prod is not on it", "list_pods", {"namespace": "prod"}),
    Step("Validation: a smuggled path never reaches the policy or the cluster", "list_pods", {"namespace": "../prod"}),
    Step(
        "Read-only by default: a write is refused",
        "scale_deployment",
        {"deployment_name": "web", "namespace": "staging", "replicas": 5},
    ),
)
POLICY_RELOAD_TIMEOUT = 15.0
SCALE_WEB = {"deployment_name": "web", "namespace": "staging", "replicas": 5}
AGENT = ("demo-agent", ["sre"])
APPROVER = ("carol", ["sre"])
"""A second person in group sre, which the shipped policy names as approvers of staging writes."""


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class Stack:
    cluster: LocalCluster
    opa: OpaServer
    policy_dir: Path
    base_url: str
    token: str
    """The agent's bearer token."""
    approver_token: str
    audit_path: Path
    env: dict[str, str]

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url}/mcp"


@contextmanager
def running_stack(workdir: Path) -> Iterator[Stack]:
    """Cluster, OPA and a gateway subprocess; all stopped on exit, whatever happens."""
    started = time.monotonic()
    # OPA watches a copy of the policies, which the script edits as a security team would.
    policy_dir = Path(shutil.copytree(POLICY_DIR, workdir / "policies"))
    with LocalCluster() as cluster, OpaServer(paths=(policy_dir,), log_dir=workdir, watch=True) as opa:
        cluster.seed()
        port = free_port()
        audit_path = workdir / "audit.jsonl"
        env = {
            **opa.environment(),
            "K8S_MCP_KUBECONFIG": str(cluster.gateway_kubeconfig),
            "K8S_MCP_CONTEXT": "sandbox",
            "K8S_MCP_AUDIT_PATH": str(audit_path),
            # The gateway lets the policy decide about writes; the policy ships read-only.
            "K8S_MCP_MODE": "readwrite",
        }
        # HTTP callers show a bearer token: fresh ones, for the agent and for the person who approves.
        token_file = workdir / "tokens.json"
        tokens = issue_tokens(token_file, dict([AGENT, APPROVER]))
        gateway = ManagedProcess(name="gateway", log_path=workdir / "gateway.log")
        gateway.start(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env={
                **os.environ,
                **env,
                "K8S_MCP_TRANSPORT": "http",
                "K8S_MCP_HOST": "127.0.0.1",
                "K8S_MCP_PORT": str(port),
                "K8S_MCP_AUTH": "tokens",
                "K8S_MCP_AUTH_TOKEN_FILE": str(token_file),
            },
        )
        try:
            gateway.wait_http_ready(f"http://127.0.0.1:{port}/healthz", timeout=30)
            _out(f"Stack up in {time.monotonic() - started:.1f}s (apiserver {cluster.server}, OPA {opa.url}).")
            base_url = f"http://127.0.0.1:{port}"
            yield Stack(cluster, opa, policy_dir, base_url, tokens[AGENT[0]], tokens[APPROVER[0]], audit_path, env)
        finally:
            gateway.stop()


def _last_record(audit_path: Path) -> dict[str, Any]:
    records = [json.loads(line) for line in audit_path.read_text().splitlines() if line.strip()]
    calls = [r for r in records if r.get("event") == "tool_call"]
    return calls[-1] if calls else {}


def _summary(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if "pods" in data:
        return ", ".join(f"{p['name']} {p['phase']} ready {p['ready']} restarts {p['restarts']}" for p in data["pods"])
    if "log" in data:
        return f"{data['lines']} log lines: " + " | ".join(data["log"].splitlines())
    if "replicas" in data:
        return f"{data['namespace']}/{data['deployment']} scaled to {data['replicas']} replicas"
    return text[:200]


def _pending(answer: dict[str, Any]) -> None:
    """A write that needs an approval did not run: the request, who approves it, what it would change."""
    _out(f"  ⏸ pending approval, not run: {answer['message']}")
    _out(f"    status       {answer['status']}, approval_id {answer['approval_id']}, expires {answer['expires_at']}")
    _out(f"    approvers    {', '.join(answer['approvers'])} ({answer['count']} needed), not the requester")
    _out(f"    preview      {'; '.join(answer['preview']['summary'])}")
    _out(f"    next step    {answer['next_step']}")


async def _call(client: Client[Any], stack: Stack, step: Step) -> dict[str, Any]:
    """Make the step's call and print how it ended; return its structured result (empty on an error)."""
    args = ", ".join(f"{k}={v!r}" for k, v in step.arguments.items())
    _out(f"\n{step.title}\n  → {step.tool}({args})")
    result = await client.call_tool(step.tool, step.arguments, raise_on_error=False)
    text = result.content[0].text if result.content and hasattr(result.content[0], "text") else ""
    answer = result.structured_content or {}
    record = _last_record(stack.audit_path)
    if result.is_error:
        _out(f"  ✘ {record.get('outcome', 'error')}: {text}")
    elif answer.get("status") == "pending_approval":
        _pending(answer)
    else:
        _out(f"  ✔ allowed: {_summary(text)}")
    if record.get("decision_id"):
        _out(f"    OPA decision {record['decision_id']} allow={record['allow']} reasons={record['reasons']}")
    else:
        _out("    no policy query: refused before OPA")
    return answer


async def _set_policy_mode(stack: Stack, client: Client[Any], mode: str) -> None:
    """Edit the policy data file OPA watches, then wait until OPA's answers follow the edit.

    The file is replaced in one rename, so OPA never reads half of it. OPA has reloaded when the
    policy's own listing shows the write tools (readwrite) or hides them (readonly).
    """
    data_file = stack.policy_dir / "data.json"
    data = json.loads(data_file.read_text())
    data["mcp"]["config"]["mode"] = mode
    edited = stack.policy_dir.parent / "data.json.edit"
    edited.write_text(json.dumps(data, indent=2))
    edited.replace(data_file)
    deadline = time.monotonic() + POLICY_RELOAD_TIMEOUT
    while ("scale_deployment" in {tool.name for tool in await client.list_tools()}) != (mode == "readwrite"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"OPA did not reload {data_file} within {POLICY_RELOAD_TIMEOUT}s; see opa.log")
        await asyncio.sleep(0.05)


async def _decide_over_http(stack: Stack, approval_id: str, *, who: str, token: str) -> None:
    """One approval through the gateway's approvals API, as `who`, and its answer."""
    path = f"/approvals/{approval_id}/approve"
    body = {"reason": "staging load test"}
    _out(f"  → POST {path} as {who}  {json.dumps(body)}")
    async with httpx.AsyncClient(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = await http.post(path, json=body)
    said = answer.json()
    if answer.is_success:
        _out(f"  ✔ {answer.status_code}: {said['message']}")
    else:
        _out(f"  ✘ {answer.status_code} {said['error']}: {said['error_description']}")


def _replicas(stack: Stack) -> int:
    """staging/web's desired replicas, read as the cluster admin (not through the gateway)."""
    with stack.cluster.admin_client() as admin:
        replicas: int = AppsV1Api(admin).read_namespaced_deployment("web", "staging").spec.replicas
    return replicas


async def run_script(stack: Stack) -> None:
    async with Client(stack.gateway_url, auth=stack.token) as client:
        tools = await client.list_tools()
        names = ", ".join(tool.name for tool in tools)
        _out(f"\ntools/list shows {len(tools)} tools (writes are hidden while the policy is read-only): {names}")
        for step in SCRIPT:
            await _call(client, stack, step)
        _out(
            '\nThe security team sets "mode": "readwrite" in the policy data file; OPA, watching it,'
            " reloads it (no restart, and no REST write: OPA's API serves only the gateway's queries):"
        )
        await _set_policy_mode(stack, client, "readwrite")
        _out(f"  tools/list now shows {len(await client.list_tools())} tools")
        title = "Writes enabled by the security team: the same write now needs a human approval"
        approval_id = (await _call(client, stack, Step(title, "scale_deployment", SCALE_WEB)))["approval_id"]
        _out(
            f"\nA second person approves it: {APPROVER[0]} (group {APPROVER[1][0]}) through the gateway's approvals"
            " API, with her own bearer token, so the gateway verifies who approves (the CLI, for operators on"
            " the gateway's host, would trust the --principal it is given). The requester may not:"
        )
        await _decide_over_http(stack, approval_id, who=f"{AGENT[0]} (the requester)", token=stack.token)
        await _decide_over_http(stack, approval_id, who=APPROVER[0], token=stack.approver_token)
        carried = {**SCALE_WEB, "approval_id": approval_id}
        await _call(
            client, stack, Step("The agent's retry with approval_id runs the write, once", "scale_deployment", carried)
        )
        _out(f"  staging/web now has {_replicas(stack)} replicas (read as the cluster admin)")
        await _call(client, stack, Step("A replay of the same approval is refused", "scale_deployment", carried))
        with stack.cluster.admin_client() as admin:
            AppsV1Api(admin).patch_namespaced_deployment_scale("web", "staging", {"spec": {"replicas": 3}})
        await _set_policy_mode(stack, client, "readonly")
        _out(
            f"\nThe demo puts it back: staging/web has {_replicas(stack)} replicas again (scaled as the cluster admin),"
            f' and the policy data says "mode": "readonly" (tools/list shows {len(await client.list_tools())} tools).'
        )


def _connect_help(stack: Stack) -> str:
    env = " ".join(f"{k}={v}" for k, v in stack.env.items())
    desktop = {
        "mcpServers": {
            "kubernetes": {
                "command": str(Path(sys.executable).with_name("k8s-mcp-gateway")),
                "args": ["serve"],
                "env": stack.env,
            }
        }
    }
    return (
        "\nConnect your own MCP client to this stack:\n"
        f"  streamable HTTP: {stack.gateway_url}\n"
        f"    with header    Authorization: Bearer {stack.token}   (demo-agent, group sre)\n"
        f"  approvals API:   {stack.base_url}/approvals   (GET; POST /approvals/ID/approve or /deny)\n"
        f"    as carol       Authorization: Bearer {stack.approver_token}   (group sre: approves staging writes)\n"
        f"  stdio:           {env} {Path(sys.executable).with_name('k8s-mcp-gateway')} serve\n"
        f"  Claude Desktop (claude_desktop_config.json):\n{json.dumps(desktop, indent=2)}\n"
        f"  audit trail:     {stack.audit_path}\n"
        "Press Ctrl-C to stop everything."
    )


class _CtrlC:
    """The demo's SIGINT handler, installed before the stack starts.

    While the stack starts or waits at the prompt, Ctrl-C raises KeyboardInterrupt, which unwinds
    through `running_stack`. While the script runs in the event loop, it cancels the script
    instead, and KeyboardInterrupt is raised once the loop is back: an interrupt never lands in
    the middle of handing the loop its script.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._in_loop = False
        self._script: asyncio.Task[None] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        if not self._in_loop:
            raise KeyboardInterrupt
        if self._script is not None:
            self._script.get_loop().call_soon_threadsafe(self._script.cancel)

    def run(self, runner: asyncio.Runner, stack: Stack) -> None:
        """Run the script in `runner`'s loop; raise KeyboardInterrupt if Ctrl-C cut it short."""
        self._in_loop = True
        try:
            runner.run(self._cancellable(stack))
        except asyncio.CancelledError:
            if not self.pressed:
                raise
        finally:
            self._in_loop, self._script = False, None
        if self.pressed:
            raise KeyboardInterrupt

    async def _cancellable(self, stack: Stack) -> None:
        self._script = asyncio.current_task()
        if not self.pressed:
            await run_script(stack)


def run_demo(*, once: bool) -> None:
    """Start the stack, run the script, then keep the stack up until Ctrl-C (unless `once`).

    Ctrl-C at any point, while the stack starts, during the script or at the prompt, unwinds
    through `running_stack`, the one place that stops the gateway, OPA and the cluster. The
    script's event loop is made before the stack starts and closed after it stops.
    """
    ctrl_c = _CtrlC()
    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        with (
            asyncio.Runner() as runner,
            tempfile.TemporaryDirectory(prefix="k8s-mcp-demo-") as tmp,
            running_stack(Path(tmp)) as stack,
        ):
            ctrl_c.run(runner, stack)
            if once:
                return
            _out(_connect_help(stack))
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        _out("\nStopped: the gateway, OPA and the cluster are down.")
    except (BinaryNotFoundError, ClusterStartError, ProcessStartError) as exc:
        raise SystemExit(f"the demo could not start its stack: {exc}") from None
    finally:
        signal.signal(signal.SIGINT, previous)
