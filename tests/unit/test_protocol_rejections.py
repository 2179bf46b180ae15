"""A `tools/call` the MCP layer rejects before the guard sees it is still answered, and audited.

No MCP client sends these, so the tests speak raw JSON-RPC to a real stdio gateway. Its OPA and
its cluster are addresses where nothing listens: a rejected call must reach neither.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.fakes.kube import write_kubeconfig
from tests.gateways import raw_stdio, read_audit, served_env

INVALID_PARAMS = -32602

REJECTED: dict[str, tuple[dict[str, Any] | None, str | None, Any, str]] = {
    "arguments a list": ({"name": "list_pods", "arguments": []}, "list_pods", [], "params.arguments: "),
    "arguments a string": (
        {"name": "scale_deployment", "arguments": "replicas=0"},
        "scale_deployment",
        "replicas=0",
        "params.arguments: ",
    ),
    "name missing": ({"arguments": {"namespace": "prod"}}, None, {"namespace": "prod"}, "params.name: "),
    "name not a string": ({"name": 7, "arguments": {}}, None, {}, "params.name: "),
    "params missing": (None, None, None, "params: Field required"),
}


async def test_a_malformed_tools_call_is_answered_with_an_error_and_audited(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server=f"https://127.0.0.1:{unused_tcp_port}")
    env = served_env(tmp_path, opa=f"http://127.0.0.1:{unused_tcp_port}", kubeconfig=kubeconfig)
    answers = []

    async with raw_stdio(env, tmp_path) as raw:
        await raw.initialize()
        for request_id, (params, *_) in enumerate(REJECTED.values(), start=2):
            await raw.send({"id": request_id, "method": "tools/call", **({"params": params} if params else {})})
            answers.append(await raw.response_to(request_id))
        # The session survives them, and the next well-formed call is decided as usual.
        await raw.send({"id": 99, "method": "tools/call", "params": {"name": "list_pods", "arguments": {}}})
        decided = await raw.response_to(99)
        assert await raw.close() == 0

    assert [answer["error"]["code"] for answer in answers] == [INVALID_PARAMS] * len(REJECTED)
    assert decided["result"]["content"][0]["text"] == "denied: policy unavailable"
    *records, last = [r for r in read_audit(Path(env["K8S_MCP_AUDIT_PATH"])) if r["event"] == "tool_call"]
    assert last["outcome"] == "policy_unavailable"
    assert len(records) == len(REJECTED)
    for record, (_, tool, arguments, problem) in zip(records, REJECTED.values(), strict=True):
        uuid.UUID(record["request_id"])
        assert (record["tool"], record["arguments"], record["outcome"]) == (tool, arguments, "invalid")
        assert (record["allow"], record["action"], record["decision_id"]) == (False, None, None)
        assert record["error"].startswith("invalid tools/call request: " + problem)
        assert (record["transport"], record["principal"]["client"]["name"]) == ("stdio", "raw-client")
