"""Kubernetes failures reach the agent as short tool errors, never as tracebacks or crashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import KubeError
from tests.catalog import KUBE_METHOD, arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.http import Reply, StubHttpServer
from tests.fakes.kube import passthrough_kube, write_kubeconfig
from tests.fakes.opa import OpaStub
from tests.gateways import TRACEBACK_MARKERS, Harness

CANNED_ERRORS = [
    KubeError('Kubernetes API not found (404): pods "web-1" not found', status=404),
    KubeError("Kubernetes API forbidden (403): the gateway may not list pods", status=403),
    KubeError("Kubernetes API conflict (409): the object has been modified", status=409),
    KubeError("the Kubernetes API did not answer within 10s"),
    KubeError("the Kubernetes API is unreachable"),
]


def assert_short(message: str) -> None:
    assert len(message) < 300
    for marker in TRACEBACK_MARKERS:
        assert marker not in message


@pytest.mark.parametrize("error", CANNED_ERRORS, ids=lambda e: str(e.status or e))
@pytest.mark.parametrize("tool", ["describe_pod", "scale_deployment"])
async def test_a_kube_error_is_a_short_tool_error(
    gateway: Harness, opa_stub: OpaStub, error: KubeError, tool: str
) -> None:
    gateway.kube.fail(KUBE_METHOD[tool], error)

    message = await gateway.error(tool, arguments_for(tool))

    assert message == str(error)
    assert_short(message)
    assert gateway.kube.methods == [KUBE_METHOD[tool]]
    record = gateway.last_call()
    assert (record["outcome"], record["allow"], record["error"]) == ("error", True, str(error))


async def test_a_failure_in_a_follow_up_call_is_also_a_tool_error(gateway: Harness) -> None:
    gateway.kube.fail("list_namespaced_event", KubeError("Kubernetes API forbidden (403): events", status=403))

    message = await gateway.error("describe_pod", {"pod_name": "web-1"})

    assert message == "Kubernetes API forbidden (403): events"
    assert gateway.kube.methods == ["read_namespaced_pod", "list_namespaced_event"]


@pytest.mark.parametrize(
    "error", [RuntimeError("boom at 0xdeadbeef"), KeyError("items"), ZeroDivisionError()], ids=type
)
async def test_an_unexpected_exception_is_an_internal_error_without_details(gateway: Harness, error: Exception) -> None:
    gateway.kube.fail("list_namespaced_pod", error)

    message = await gateway.error("list_pods")

    assert message == "internal error in list_pods; see the gateway log"
    assert "boom" not in message
    assert_short(message)
    record = gateway.last_call()
    assert record["outcome"] == "error"
    assert record["error"].startswith("internal error")
    assert "boom" not in record["error"]


async def test_the_gateway_keeps_serving_after_an_internal_error(gateway: Harness) -> None:
    gateway.kube.fail("list_namespaced_pod", RuntimeError("boom"))
    await gateway.error("list_pods")

    await gateway.ok("list_deployments")

    assert gateway.kube.methods == ["list_namespaced_pod", "list_namespaced_deployment"]


# --------------------------------------------------------------------------------------------
# The real kube layer, against a loopback HTTP server playing the API server
# --------------------------------------------------------------------------------------------

STATUS_BODY = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}

API_REPLIES: dict[str, Reply] = {
    "not-found": Reply(status=404, body={**STATUS_BODY, "message": 'pods "not-found" not found', "code": 404}),
    "forbidden": Reply(status=403, body={**STATUS_BODY, "message": "pods is forbidden: no RBAC", "code": 403}),
    "conflict": Reply(status=409, body={**STATUS_BODY, "message": "the object has been modified", "code": 409}),
    "broken": Reply(status=500, body={**STATUS_BODY, "message": "etcdserver: leader changed", "code": 500}),
    "bare-404": Reply(status=404, body=None),
    "slow": Reply(status=200, body={"kind": "Pod"}, delay=2.0),
}


@pytest.fixture
def api_server() -> Iterator[StubHttpServer]:
    def reply(_method: str, path: str) -> Reply:
        return API_REPLIES[path.split("?", maxsplit=1)[0].rsplit("/", 1)[-1]]

    server = StubHttpServer(reply).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def real_kube_gateway(
    open_gateway: GatewayFactory, opa_stub: OpaStub, api_server: StubHttpServer, tmp_path: Path
) -> Harness:
    """A gateway whose kube layer is the real one, talking to `api_server` through a kubeconfig."""
    kube = passthrough_kube(write_kubeconfig(tmp_path / "kubeconfig", server=api_server.url))
    assert kube.cluster == "test-context"
    return await open_gateway(opa_url=opa_stub.url, kube=kube)


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        ("not-found", 'Kubernetes API not found (404): pods "not-found" not found'),
        ("forbidden", "Kubernetes API forbidden (403): pods is forbidden: no RBAC"),
        ("conflict", "Kubernetes API conflict (409): the object has been modified"),
        ("broken", "Kubernetes API server error (500): etcdserver: leader changed"),
        ("bare-404", "Kubernetes API not found (404): bare-404"),
    ],
)
async def test_api_errors_are_translated_once_at_the_kube_boundary(
    real_kube_gateway: Harness, api_server: StubHttpServer, pod: str, expected: str
) -> None:
    message = await real_kube_gateway.error("describe_pod", {"pod_name": pod, "namespace": "staging"})

    assert message == expected
    assert_short(message)
    assert api_server.requests == [("GET", f"/api/v1/namespaces/staging/pods/{pod}")]
    assert real_kube_gateway.last_call()["outcome"] == "error"


async def test_a_slow_api_server_times_out_once_with_a_clear_message(
    real_kube_gateway: Harness, api_server: StubHttpServer
) -> None:
    """The kube timeout bounds the call: one request, reported as a timeout (not as unreachable)."""
    message = await real_kube_gateway.error("describe_pod", {"pod_name": "slow"})

    assert message == "the Kubernetes API did not answer within 1s"
    assert api_server.requests == [("GET", "/api/v1/namespaces/default/pods/slow")]


async def test_an_unreachable_api_server_is_a_clear_tool_error(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path, unused_tcp_port: int
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server=f"https://127.0.0.1:{unused_tcp_port}")
    gateway = await open_gateway(opa_url=opa_stub.url, kube=passthrough_kube(kubeconfig))

    message = await gateway.error("list_pods")

    assert message == "the Kubernetes API is unreachable"
    assert gateway.kube.methods == ["list_namespaced_pod"]
    record = gateway.last_call()
    assert (record["outcome"], record["allow"]) == ("error", True)
