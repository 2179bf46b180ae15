"""The one door to the Kubernetes API.

The official `kubernetes` client is synchronous, so every call runs in a bounded thread pool and
the event loop never waits on the network. The hot reads go through the client's REST layer and
answer the API's JSON as dicts (`json_list`): the typed API classes validate every argument and
build a model object for every field of every item, which costs more than the request itself, and
importing them costs a start more than the rest of the gateway. The typed API groups are there
for the other calls and are imported the first time one is used. Every failure is translated here, once, into a short
`KubeError` the agent can act on (`not found`, `forbidden`, `conflict`, `timed out`,
`unreachable`); the full response stays in the log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlparse

import urllib3.exceptions
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gateway.errors import KubeError

log = logging.getLogger(__name__)

T = TypeVar("T")


class KubeConfigError(RuntimeError):
    """No usable cluster configuration; raised at start, not per call."""


def load_api_client(*, kubeconfig: str | None, context: str | None) -> tuple[client.ApiClient, str]:
    """Build an API client from a kubeconfig (or in-cluster) and name the cluster it reaches."""
    configuration = client.Configuration()
    try:
        if kubeconfig is None and context is None and _in_cluster():
            config.load_incluster_config(client_configuration=configuration)
            cluster = "in-cluster"
        else:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            cluster = context or _current_context(kubeconfig) or urlparse(configuration.host).netloc
    except (ConfigException, OSError, TypeError) as exc:
        where = kubeconfig or "~/.kube/config"
        raise KubeConfigError(f"no usable Kubernetes configuration in {where}: {exc}") from exc
    # One attempt per call: the agent gets a prompt answer and decides whether to retry.
    configuration.retries = False
    return client.ApiClient(configuration), cluster


def _in_cluster() -> bool:
    return "KUBERNETES_SERVICE_HOST" in os.environ


def _current_context(kubeconfig: str | None) -> str | None:
    try:
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError):
        return None
    name = active.get("name") if active else None
    return str(name) if name else None


G = TypeVar("G")


class _ApiGroup(Generic[G]):
    """A typed API group of the client (`CoreV1Api`...) as the tools name its methods.

    `kube.core.read_namespaced_pod` is a stand-in with the method's name; `Kube.call` runs it in the
    pool, where the group is built the first time (its module, and the models its signatures name,
    imported then) and kept. Importing `CoreV1Api` costs about half a second of CPU: done on the
    event loop, the first describe of a process would stall every other call in flight.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, kube: Kube, owner: type | None = None) -> G:
        return cast(G, _Methods(kube, self._name))


class _Methods:
    """The methods of one API group, each run against the group `Kube` builds in its pool."""

    def __init__(self, kube: Kube, group: str) -> None:
        self._kube = kube
        self._group = group

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def run(**kwargs: Any) -> Any:
            return getattr(self._kube.api_group(self._group), method)(**kwargs)

        run.__name__ = run.__qualname__ = method
        return run


JsonRead = Callable[..., Any]
"""A read through the REST layer: keyword arguments as the typed method takes them, the API's JSON back."""


class Kube:
    """Typed API groups (built in the pool on first use), raw JSON reads, and `call`, which runs either
    off the event loop."""

    def __init__(self, *, api_client: client.ApiClient, cluster: str, timeout: float, workers: int) -> None:
        self.api_client = api_client
        self.cluster = cluster
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")
        self._groups: dict[str, Any] = {}

    core: _ApiGroup[client.CoreV1Api] = _ApiGroup("CoreV1Api")
    apps: _ApiGroup[client.AppsV1Api] = _ApiGroup("AppsV1Api")
    batch: _ApiGroup[client.BatchV1Api] = _ApiGroup("BatchV1Api")
    autoscaling: _ApiGroup[client.AutoscalingV2Api] = _ApiGroup("AutoscalingV2Api")
    networking: _ApiGroup[client.NetworkingV1Api] = _ApiGroup("NetworkingV1Api")
    discovery: _ApiGroup[client.DiscoveryV1Api] = _ApiGroup("DiscoveryV1Api")

    def api_group(self, name: str) -> Any:
        """The client's API group `name` (e.g. `CoreV1Api`), built on first use; called in the pool."""
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = getattr(client, name)(self.api_client)
        return group

    def json_list(self, path: str, *, name: str) -> JsonRead:
        """A list read of `path` (e.g. `/api/v1/namespaces/{namespace}/pods`) that answers the API's JSON.

        It takes the typed list method's arguments and is named after it (`name`), so logs and
        recorded calls read the same; for `call`, like a typed method.
        """

        def read(
            *,
            _request_timeout: float,
            namespace: str | None = None,
            label_selector: str | None = None,
            field_selector: str | None = None,
            limit: int | None = None,
            _continue: str | None = None,
        ) -> Any:
            query = {
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": _continue,
            }
            path_params = {"namespace": namespace} if namespace is not None else None
            return self._get_json(path, path_params, query, _request_timeout)

        read.__name__ = read.__qualname__ = name
        return read

    def _get_json(
        self, path: str, path_params: dict[str, str] | None, query: Mapping[str, object], timeout: float
    ) -> Any:
        """GET through the client's REST layer (its auth, TLS and pool); a non-2xx answer raises `ApiException`."""
        method, url, headers, body, post_params = self.api_client.param_serialize(
            method="GET",
            resource_path=path,
            path_params=path_params,
            query_params=[(key, value) for key, value in query.items() if value is not None],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(
            method, url, header_params=headers, body=body, post_params=post_params, _request_timeout=timeout
        )
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=data.decode(errors="replace"), data=None)
        return json.loads(data)

    async def call(self, method: Callable[..., T], /, **kwargs: Any) -> T:
        """Run `method(**kwargs)` in the pool with a request timeout; raise `KubeError` on failure.

        The timeout is the gateway's `kube_timeout` unless the caller passes `_request_timeout`.
        """
        bound = functools.partial(method, **{"_request_timeout": self.timeout, **kwargs})
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, bound)
        except ApiException as exc:
            raise _from_api_exception(exc, kwargs) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._transport_error(exc) from None

    def _transport_error(self, exc: BaseException) -> KubeError:
        """Name a network failure; a refused connection is not a timeout, though urllib3 nests them."""
        cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason else exc
        log.warning("Kubernetes API call failed: %s", cause)
        if isinstance(cause, urllib3.exceptions.NewConnectionError | ConnectionError):
            return KubeError("the Kubernetes API is unreachable")
        if isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
            return KubeError(f"the Kubernetes API did not answer within {self.timeout:g}s")
        return KubeError("the Kubernetes API is unreachable")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api_client.close()


_STATUS_WORDS = {
    400: "rejected as invalid",
    401: "unauthorized: the gateway's credentials were rejected",
    403: "forbidden",
    404: "not found",
    409: "conflict",
    410: "gone",
    422: "invalid",
    429: "throttled by the API server, retry later",
}


def _from_api_exception(exc: ApiException, kwargs: dict[str, Any]) -> KubeError:
    status = int(exc.status or 0)
    message = ""
    try:
        body = json.loads(exc.body or "{}")
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
    except (ValueError, TypeError):
        pass
    log.info("Kubernetes API %s: %s", status, message or exc.reason)
    word = _STATUS_WORDS.get(status, "server error" if status >= 500 else f"HTTP {status}")
    if not message:
        target = kwargs.get("name")
        message = f"{target}" if target else str(exc.reason or "")
    return KubeError(f"Kubernetes API {word} ({status}): {message}".rstrip(": "), status=status)
