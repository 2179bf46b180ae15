"""The one door to the Kubernetes API.

The official `kubernetes` client is synchronous, so every call runs in a bounded thread pool and
the event loop never waits on the network. Every failure is translated here, once, into a short
`KubeError` the agent can act on (`not found`, `forbidden`, `conflict`, `timed out`,
`unreachable`); the full response stays in the log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
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


class Kube:
    """Typed API groups plus `call`, which runs one API method off the event loop."""

    def __init__(self, *, api_client: client.ApiClient, cluster: str, timeout: float, workers: int) -> None:
        self.api_client = api_client
        self.cluster = cluster
        self.timeout = timeout
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")

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
