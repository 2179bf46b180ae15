# syntax=docker/dockerfile:1
#
# The k8s-mcp-gateway image: the MCP server on streamable HTTP, port 8080. OPA is not in
# here; it runs beside the gateway as its own container (docker-compose.yml,
# deploy/gateway.yaml).
#
#   docker build -t k8s-mcp-gateway:0.1.0 .
#   docker run -p 8080:8080 -e K8S_MCP_OPA_URL=http://opa:8181 \
#     -e K8S_MCP_OPA_TOKEN_FILE=/run/opa-token/token -v opa-token:/run/opa-token:ro \
#     -e K8S_MCP_AUTH=tokens -e K8S_MCP_AUTH_TOKEN_FILE=/tokens.json -v "$PWD/tokens.json:/tokens.json:ro" \
#     k8s-mcp-gateway:0.1.0
#
# Checked by `.tools/bin/packaging-check dockerfile` (BuildKit's own parser and linter),
# which tests/integration/test_packaging.py runs.

# --- build: the package and its pinned dependencies, in a virtualenv --------------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway ./gateway
# constraints.txt pins every runtime dependency to the versions the tests ran with.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install -c constraints.txt .

# --- runtime: the virtualenv only, as an unprivileged user -----------------------------
FROM python:3.11-slim AS runtime

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it; a passwd entry, because
# the gateway asks the OS for its user name (the default stdio principal). The two directories
# are where volumes are mounted (the audit trail; the token that locks OPA's API), owned by
# the gateway so that a fresh named volume starts out writable by it.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin gateway \
    && install -d -o gateway -g gateway -m 0750 /var/log/k8s-mcp-gateway /run/opa-token

COPY --from=build /opt/venv /opt/venv

# Defaults for a container: HTTP on all interfaces, the audit log on its own volume. Every
# K8S_MCP_* setting can be overridden at run time (gateway/settings.py lists them all).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    K8S_MCP_TRANSPORT=http \
    K8S_MCP_HOST=0.0.0.0 \
    K8S_MCP_PORT=8080 \
    K8S_MCP_AUDIT_PATH=/var/log/k8s-mcp-gateway/audit.jsonl

USER 10001:10001
EXPOSE 8080

# The slim image has no curl: Python asks the gateway's own /healthz (urlopen raises on an
# HTTP error or a refused connection, so the exit status is the answer).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('K8S_MCP_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["k8s-mcp-gateway", "serve"]
