"""A real Kubernetes control plane on loopback: etcd + kube-apiserver (+ a fake kubelet for logs).

Why not stub Kubernetes end to end: RBAC, admission, the status subresources, the TokenRequest
API, `pods/log` proxying and the audit log are exactly the behaviour the gateway depends on, and a
stub would only repeat our assumptions. So `LocalCluster` runs the pinned upstream binaries that
`cluster/build.sh` builds from Go modules into `.tools/bin`:

    etcd            client + peer on free 127.0.0.1 ports, data in the temp dir (no fsync)
    kube-apiserver  https://127.0.0.1:<free port>, RBAC, token file with one admin in
                    system:masters, ServiceAccount tokens signed by a key made here, audit log
                    at Metadata level (one line per request), kubelet CA = our sandbox CA
    fake kubelet    an HTTPS thread in this process that serves container logs (see kubelet.py)

There is no scheduler, controller-manager or kubelet: `seed.py` writes objects and their status
directly. Everything binds to 127.0.0.1 and lives in one temp dir that is removed on exit.

The gateway's identity is the real ServiceAccount `k8s-mcp-gateway/k8s-mcp-gateway` with the RBAC
from `deploy/rbac.yaml` (the manifest shipped for real clusters, generated from the catalog and
policies/data.json: RoleBindings only in the namespaces the policy allows); `gateway_kubeconfig`
holds a TokenRequest token for it, so the end-to-end suite runs with production permissions, not
admin.

Certificates (`pki.py`): one throwaway EC CA signs the apiserver's and the fake kubelet's serving
certificates, so every TLS hop is verified, the CA is known before the
apiserver starts, and nothing needs `--kubelet-insecure...`-style switches.

Teardown: `stop()` is idempotent and runs from `__exit__`, from `atexit`, and on SIGTERM (turned
into `SystemExit` while a cluster runs, if nobody else handles SIGTERM); Ctrl-C arrives as
KeyboardInterrupt and unwinds through `__exit__`. Children run in their own process groups and are
stopped as groups, so no etcd or apiserver outlives the cluster. Only SIGKILL of this process can
leave orphans.

    ClusterStartError (RuntimeError)      a binary is missing, or a process did not become ready
"""

from __future__ import annotations

import atexit
import base64
import ipaddress
import json
import os
import secrets
import shutil
import signal
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.client import ApiClient
from kubernetes.config import new_client_from_config

from gateway.binaries import BinaryNotFoundError, find_binary
from k8s_mcp_sandbox import objects, pki
from k8s_mcp_sandbox import seed as seed_data
from k8s_mcp_sandbox.kubelet import FakeKubelet
from k8s_mcp_sandbox.process import ManagedProcess, ProcessStartError, Service, free_port
from k8s_mcp_sandbox.project import DEPLOY_DIR

GATEWAY_MANIFESTS = ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml")
"""Applied from `deploy/` in this order; the same files `deploy/kustomization.yaml` lists."""

GATEWAY_NAMESPACE = "k8s-mcp-gateway"
GATEWAY_SERVICE_ACCOUNT = "k8s-mcp-gateway"
GATEWAY_USER = f"system:serviceaccount:{GATEWAY_NAMESPACE}:{GATEWAY_SERVICE_ACCOUNT}"
GATEWAY_CONTEXT = "sandbox"
ADMIN_USER = "sandbox-admin"
ADMIN_CONTEXT = "sandbox-admin"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
GATEWAY_TOKEN_SECONDS = 24 * 3600

_LOOPBACK = "127.0.0.1"
_PORT_ATTEMPTS = 3
_AUDIT_POLICY = """\
# One event per request (ResponseComplete), metadata only: who, verb, resource, status code.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
"""
_PROXY_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


class ClusterStartError(RuntimeError):
    """The sandbox cluster could not start; the message says why (and quotes the child's log)."""


AuditEvent = dict[str, Any]


class ApiserverAuditLog:
    """Reads the apiserver's JSON audit log, so tests can count the requests a tool made.

    The audit policy logs one `ResponseComplete` event per request. Take a `mark()` before the
    action and `count(since=mark, ...)` after it. The apiserver writes an event just after the
    response, so a count taken immediately may lag by a line: `wait_count()` polls briefly.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """An opaque position: the current end of the log."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def events(self, *, since: int = 0) -> list[AuditEvent]:
        """Complete events written after `since` (a value from `mark()`), oldest first."""
        start = max(since - 1, 0)
        try:
            with self.path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return []
        if since > 0:
            # A mark taken mid-write points into a line; that event belongs before the mark.
            newline = data.find(b"\n")
            data = data[newline + 1 :] if newline >= 0 else b""
        complete = data[: data.rfind(b"\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def count(
        self,
        *,
        since: int = 0,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        code: int | None = None,
    ) -> int:
        """Requests after `since` matching every given filter.

        `resource` may name a subresource as `pods/log`; `verb` is the Kubernetes verb
        (`get`, `list`, `patch`, `create`, ...); `code` the HTTP status of the response.
        """
        return sum(
            _audit_matches(e, user=user, verb=verb, resource=resource, namespace=namespace, name=name, code=code)
            for e in self.events(since=since)
        )

    def wait_count(self, expected: int, *, timeout: float = 3.0, **filters: Any) -> int:
        """`count(**filters)`, polled until it reaches `expected` or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.count(**filters)
            if found >= expected or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


class LocalCluster(Service):
    """etcd + kube-apiserver + fake kubelet in a temp dir, with an admin and a gateway kubeconfig.

    Use as a context manager (or `start()`/`stop()`). Startup takes a few seconds; share one
    cluster per test session or module. Call `seed()` for the demo data set.
    """

    def __init__(self, *, workdir: Path | None = None, start_timeout: float = 60.0) -> None:
        """`workdir`: put the files there and keep them after stop (logs, kubeconfigs, audit log),
        instead of a fresh temp dir that is removed; etcd's data in it is reset on every start."""
        self._own_tmp: tempfile.TemporaryDirectory[str] | None = None
        self._workdir_arg = workdir
        self._start_timeout = start_timeout
        self._etcd: ManagedProcess | None = None
        self._apiserver: ManagedProcess | None = None
        self._kubelet: FakeKubelet | None = None
        self._ports: dict[str, int] = {}
        self._pids: dict[str, int] = {}
        self._admin_token = secrets.token_urlsafe(32)
        self._gateway_token: str | None = None
        self._previous_sigterm: Callable[[int, FrameType | None], Any] | int | None = None
        self._sigterm_installed = False
        self._started = False
        self._lock = threading.Lock()
        self.workdir = Path()
        self.startup_seconds = 0.0
        """Wall time of the last `start()`: processes, readiness, RBAC and the gateway token."""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalCluster:
        """Start everything and wait until the apiserver is ready; on failure, clean up and raise."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        begun = time.monotonic()
        self._ports.clear()
        self._pids.clear()
        atexit.register(self.stop)
        self._install_sigterm()
        try:
            self.workdir = self._make_workdir()
            self._write_credentials()
            self._kubelet = FakeKubelet(
                logs=seed_data.pod_logs, cert_file=self._path("kubelet.crt"), key_file=self._path("kubelet.key")
            ).start()
            self._ports["kubelet"] = self._kubelet.port
            self._start_with_port_retries("etcd", self._start_etcd)
            self._start_with_port_retries("kube-apiserver", self._start_apiserver)
            with self.admin_client() as admin:
                manifests = [DEPLOY_DIR / name for name in GATEWAY_MANIFESTS]
                # The RoleBindings live in the namespaces the policy data allows, which a real
                # cluster has before the gateway is installed; here they may not exist yet.
                for namespace in _binding_namespaces(manifests):
                    seed_data.ensure_namespace(admin, namespace)
                apply_manifests(admin, manifests)
                self._gateway_token = _request_token(admin, GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT)
            _write_kubeconfig(
                self.gateway_kubeconfig,
                server=self.server,
                ca_pem=self._path("ca.crt").read_bytes(),
                user=GATEWAY_SERVICE_ACCOUNT,
                token=self._gateway_token,
                context=GATEWAY_CONTEXT,
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begun
        return self

    def stop(self) -> None:
        """Stop apiserver, etcd and the fake kubelet, and remove the temp dir. Idempotent."""
        with self._lock:
            if not self._started:
                return
            self._started = False
        for process in (self._apiserver, self._etcd):
            if process is not None:
                process.stop()
        if self._kubelet is not None:
            self._kubelet.stop()
        self._apiserver = self._etcd = self._kubelet = None
        self._restore_sigterm()
        atexit.unregister(self.stop)
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    # --- what callers use -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._started

    @property
    def server(self) -> str:
        """The apiserver URL, `https://127.0.0.1:<port>`."""
        return f"https://{_LOOPBACK}:{self._ports['kube-apiserver']}"

    @property
    def admin_kubeconfig(self) -> Path:
        """Kubeconfig (context `sandbox-admin`) for a system:masters user: for seeding and asserting."""
        return self._path("admin.kubeconfig")

    @property
    def gateway_kubeconfig(self) -> Path:
        """Kubeconfig (context `sandbox`) for the gateway's ServiceAccount, with deploy/rbac.yaml rights."""
        return self._path("gateway.kubeconfig")

    @property
    def audit_log(self) -> Path:
        return self._path("audit.log")

    @property
    def audit(self) -> ApiserverAuditLog:
        return ApiserverAuditLog(self.audit_log)

    @property
    def ca_file(self) -> Path:
        """The sandbox CA that signed the apiserver's (and fake kubelet's) serving certificate."""
        return self._path("ca.crt")

    @property
    def gateway_token(self) -> str:
        if self._gateway_token is None:
            raise RuntimeError("LocalCluster is not started")
        return self._gateway_token

    @property
    def ports(self) -> Mapping[str, int]:
        """Bound loopback ports by role: etcd-client, etcd-peer, kube-apiserver, kubelet."""
        return dict(self._ports)

    @property
    def pids(self) -> Mapping[str, int]:
        """Process (and process group) ids of etcd and kube-apiserver, kept after stop for checks."""
        return dict(self._pids)

    @property
    def kubelet(self) -> FakeKubelet:
        if self._kubelet is None:
            raise RuntimeError("LocalCluster is not started")
        return self._kubelet

    def admin_client(self) -> ApiClient:
        """A new kubernetes ApiClient as the sandbox admin (close it, or use it with `with`)."""
        return _client_from(self.admin_kubeconfig, ADMIN_CONTEXT)

    def gateway_client(self) -> ApiClient:
        """A new kubernetes ApiClient as the gateway's ServiceAccount."""
        return _client_from(self.gateway_kubeconfig, GATEWAY_CONTEXT)

    def seed(self) -> None:
        """Load the demo data set (`k8s_mcp_sandbox.seed`), nodes pointing at the fake kubelet."""
        with self.admin_client() as admin:
            seed_data.seed(admin, kubelet_port=self.kubelet.port)

    # --- internals ------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if self.workdir == Path():
            raise RuntimeError("LocalCluster is not started")
        return self.workdir / name

    def _make_workdir(self) -> Path:
        if self._workdir_arg is not None:
            self._workdir_arg.mkdir(parents=True, exist_ok=True)
            return self._workdir_arg.resolve()
        self._own_tmp = tempfile.TemporaryDirectory(prefix="k8s-mcp-cluster-")
        return Path(self._own_tmp.name)

    def _write_credentials(self) -> None:
        """CA, serving certs, ServiceAccount signing key, admin token file, audit policy.

        The admin kubeconfig is written once the apiserver's port is chosen.
        """
        ca = pki.issue("k8s-mcp-gateway sandbox CA")
        self._path("ca.crt").write_bytes(ca.certificate_pem)
        apiserver_names = [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        service_ip = str(next(ipaddress.ip_network(SERVICE_CLUSTER_IP_RANGE).hosts()))
        pki.issue("apiserver", issuer=ca, dns=apiserver_names, ips=[_LOOPBACK, service_ip]).write(
            self.workdir, "apiserver"
        )
        kubelet_names = ["localhost", *(node.name for node in seed_data.NODES)]
        pki.issue("kubelet", issuer=ca, dns=kubelet_names, ips=[_LOOPBACK]).write(self.workdir, "kubelet")
        pki.write_signing_key(self._path("sa.key"), self._path("sa.pub"))
        tokens = self._path("tokens.csv")
        tokens.write_text(f'{self._admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)
        self._path("audit-policy.yaml").write_text(_AUDIT_POLICY)

    def _start_with_port_retries(self, name: str, start: Callable[[], None]) -> None:
        """`free_port()` can race with another process; retry with new ports if a bind failed."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                start()
                return
            except BinaryNotFoundError as exc:
                raise ClusterStartError(
                    f"{exc} (the e2e suite and `make demo` need etcd and kube-apiserver; "
                    "build them with `cluster/build.sh`)"
                ) from exc
            except ProcessStartError as exc:
                failed = self._etcd if name == "etcd" else self._apiserver
                if failed is not None:
                    failed.stop()
                if "address already in use" not in str(exc) or attempt == _PORT_ATTEMPTS:
                    raise ClusterStartError(str(exc)) from exc

    def _start_etcd(self) -> None:
        client_port, peer_port = free_port(), free_port()
        data_dir = self._path("etcd-data")
        shutil.rmtree(data_dir, ignore_errors=True)
        process = ManagedProcess(name="etcd", log_path=self._path("etcd.log"))
        client_url, peer_url = f"http://{_LOOPBACK}:{client_port}", f"http://{_LOOPBACK}:{peer_port}"
        process.start(
            [
                find_binary("etcd"),
                "--name=sandbox",
                f"--data-dir={data_dir}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=sandbox={peer_url}",
                "--initial-cluster-state=new",
                # Throwaway data: skip fsync, which dominates write latency on CI disks.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            env=_child_env(),
        )
        self._etcd = process
        self._pids["etcd"] = process.pid or 0
        self._ports["etcd-client"], self._ports["etcd-peer"] = client_port, peer_port
        process.wait_http_ready(f"{client_url}/health", timeout=self._start_timeout)

    def _start_apiserver(self) -> None:
        port = free_port()
        self._ports["kube-apiserver"] = port
        _write_kubeconfig(
            self.admin_kubeconfig,
            server=self.server,
            ca_pem=self._path("ca.crt").read_bytes(),
            user=ADMIN_USER,
            token=self._admin_token,
            context=ADMIN_CONTEXT,
        )
        process = ManagedProcess(name="kube-apiserver", log_path=self._path("kube-apiserver.log"))
        process.start(
            [
                find_binary("kube-apiserver"),
                f"--etcd-servers=http://{_LOOPBACK}:{self._ports['etcd-client']}",
                f"--bind-address={_LOOPBACK}",
                f"--advertise-address={_LOOPBACK}",
                f"--secure-port={port}",
                f"--cert-dir={self._path('apiserver-certs')}",  # unused (certs given), keeps /var/run clean
                f"--tls-cert-file={self._path('apiserver.crt')}",
                f"--tls-private-key-file={self._path('apiserver.key')}",
                "--anonymous-auth=false",
                f"--token-auth-file={self._path('tokens.csv')}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self._path('sa.pub')}",
                f"--service-account-signing-key-file={self._path('sa.key')}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                f"--audit-policy-file={self._path('audit-policy.yaml')}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                # pods/log: the apiserver dials the node's InternalIP (127.0.0.1) and kubelet port,
                # and verifies the fake kubelet's certificate against our CA.
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-certificate-authority={self._path('ca.crt')}",
                # A loopback advertise address cannot go into the `kubernetes` Endpoints object.
                "--endpoint-reconciler-type=none",
                # Seeded events must outlive a long demo session (default 1h).
                "--event-ttl=24h",
                "--profiling=false",
            ],
            env=_child_env(),
        )
        self._apiserver = process
        self._pids["kube-apiserver"] = process.pid or 0
        process.wait_http_ready(
            f"{self.server}/readyz",
            timeout=self._start_timeout,
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            headers={"Authorization": f"Bearer {self._admin_token}"},
        )

    def _install_sigterm(self) -> None:
        """Turn SIGTERM into SystemExit while we run, so `finally`/`__exit__`/atexit stop children.

        Only when called from the main thread and nobody else has claimed SIGTERM.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_system_exit)
        self._sigterm_installed = True

    def _restore_sigterm(self) -> None:
        if not self._sigterm_installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is _raise_system_exit:
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
        self._sigterm_installed = False


def _client_from(kubeconfig: Path, context: str) -> ApiClient:
    load: Callable[..., ApiClient] = new_client_from_config  # untyped in the client library
    return load(config_file=str(kubeconfig), context=context)


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _child_env() -> dict[str, str]:
    """Our environment without proxy settings: gRPC (etcd client) honours them even for loopback."""
    return {k: v for k, v in os.environ.items() if k not in _PROXY_ENV}


# --- manifests and tokens ---------------------------------------------------------------------


def load_manifests(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The YAML documents of `paths`, in order, skipping empty documents."""
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield document


def _binding_namespaces(paths: Iterable[Path]) -> list[str]:
    """The namespaces of the RoleBindings in `paths`, sorted."""
    return sorted({doc["metadata"]["namespace"] for doc in load_manifests(paths) if doc.get("kind") == "RoleBinding"})


def apply_manifests(api_client: ApiClient, paths: Iterable[Path]) -> None:
    """Server-side apply each object of `paths`, in order: `kubectl apply --server-side` for deploy/."""
    for body in load_manifests(paths):
        objects.apply(api_client, body)


def _request_token(api_client: ApiClient, namespace: str, service_account: str) -> str:
    """A bound ServiceAccount token from the TokenRequest API (what a projected volume would get)."""
    request: Any = {"spec": {"expirationSeconds": GATEWAY_TOKEN_SECONDS}}
    response = k8s.CoreV1Api(api_client).create_namespaced_service_account_token(service_account, namespace, request)
    if response.status is None or not response.status.token:
        raise ClusterStartError(f"TokenRequest for {namespace}/{service_account} returned no token")
    return str(response.status.token)


def _write_kubeconfig(path: Path, *, server: str, ca_pem: bytes, user: str, token: str, context: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "sandbox", "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _audit_matches(
    event: AuditEvent,
    *,
    user: str | None,
    verb: str | None,
    resource: str | None,
    namespace: str | None,
    name: str | None,
    code: int | None,
) -> bool:
    ref = event.get("objectRef") or {}
    if user is not None and (event.get("user") or {}).get("username") != user:
        return False
    if verb is not None and event.get("verb") != verb:
        return False
    if resource is not None:
        wanted, _, wanted_sub = resource.partition("/")
        if ref.get("resource") != wanted or (ref.get("subresource") or "") != wanted_sub:
            return False
    if namespace is not None and ref.get("namespace") != namespace:
        return False
    if name is not None and ref.get("name") != name:
        return False
    return code is None or (event.get("responseStatus") or {}).get("code") == code
