# The two front-door commands: `make demo` and `make test`. Both set up first; setup is
# idempotent and cached (a virtualenv in .venv, pinned binaries built from Go modules in .tools/bin).

OPA_VERSION := v1.22.2
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
OPA = $(shell command -v opa 2>/dev/null || echo $(TOOLS)/opa)
ARGS ?=
# The security team's policies, and the policy that locks OPA's own REST API to the gateway.
REGO := policies opa/system

export OPA_VERSION

.PHONY: setup demo test lint policy-test pytest bench rbac clean

setup: $(VENV)/.installed
	@opa/install.sh
	@cluster/build.sh
	@containers/check/build.sh

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,demo]'
	@touch $@

demo: setup
	$(BIN)/k8s-mcp-gateway demo $(ARGS)

test: setup lint policy-test pytest

lint:
	$(BIN)/ruff check gateway k8s_mcp_sandbox tests bench
	$(BIN)/ruff format --check gateway k8s_mcp_sandbox tests bench
	$(BIN)/mypy

policy-test:
	@test -z "$$($(OPA) fmt --list $(REGO))" || { echo "opa fmt: run '$(OPA) fmt -w $(REGO)'"; $(OPA) fmt --list $(REGO); exit 1; }
	$(OPA) check --strict $(REGO)
	$(TOOLS)/regal lint $(REGO)
	$(OPA) test $(REGO)
	@$(OPA) test --coverage --threshold 90 $(REGO) > .tools/coverage.json || { echo "policy coverage below 90%"; exit 1; }
	@$(BIN)/python -c "import json; print('policy coverage: %.1f%%' % json.load(open('.tools/coverage.json'))['coverage'])"

pytest:
	$(BIN)/pytest $(ARGS)

# The shipped policy as a signed bundle for a bundle service (opa/remote.yaml, deploy/bundle/):
# dist/bundle-service/bundles/mcp.tar.gz, signed with BUNDLE_SIGNING_KEY, else with a
# development key it makes in dist/signing/.
.PHONY: bundle
bundle: setup
	@OPA=$(OPA) opa/bundle.sh dist

# The gateway beside containers/kubernetes-mcp-server (installed pinned by bench/peer.sh); writes
# bench/results.{json,md,png}. ARGS="--rounds 20", "--quick", "--no-peer": see bench/bench.py.
bench: setup $(VENV)/.bench-installed
	$(BIN)/python -m bench.bench $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,demo,bench]'
	@touch $@

# deploy/rbac.yaml from the catalog and the policy data; run it after changing either
# (tests/unit/test_rbac.py fails while the committed file is stale).
rbac: $(VENV)/.installed
	$(BIN)/k8s-mcp-gateway rbac --policy-data policies/data.json --output deploy/rbac.yaml

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
