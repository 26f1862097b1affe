# modelops — one entry point for setup, checks, tests, images, the local cluster and the demo.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help install airflow-venv lint lint-python lint-generated crds crds-check chart-lint \
        test test-unit bench operator-run demo demo-clean clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# The local cluster, its pinned binaries (Helm among them: $(HELM)) and the images.
include hack/cluster.mk

# --- setup --------------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# A stand-in GCS server for the gs:// storage tests (no real GCS can be reached here).
FAKE_GCS_VERSION := v1.52.2
FAKE_GCS := $(MODELOPS_CACHE)/fake-gcs-server-$(FAKE_GCS_VERSION)/fake-gcs-server
export MODELOPS_FAKE_GCS := $(FAKE_GCS)

$(FAKE_GCS):
	GOBIN=$(dir $@) go install github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION)

install: $(VENV)/.installed $(FAKE_GCS) ## create .venv with everything the tests need

# Airflow 3 in a virtual environment of its own, for the Airflow operators' end-to-end test
# (its pins never bend constraints.txt); keyed by the Airflow version and the pins' content.
AIRFLOW_VERSION := 3.3.2
AIRFLOW_CONSTRAINTS := hack/airflow/constraints-$(AIRFLOW_VERSION).txt
AIRFLOW_VENV := $(MODELOPS_CACHE)/airflow-$(AIRFLOW_VERSION)-$(shell sha256sum $(AIRFLOW_CONSTRAINTS) | cut -c1-12)
export MODELOPS_AIRFLOW_VENV := $(AIRFLOW_VENV)

$(AIRFLOW_VENV)/.installed: $(AIRFLOW_CONSTRAINTS)
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet -c $(AIRFLOW_CONSTRAINTS) \
	    apache-airflow==$(AIRFLOW_VERSION) apache-airflow-providers-cncf-kubernetes
	touch $@

airflow-venv: $(AIRFLOW_VENV)/.installed ## Airflow 3 in its own venv, cached under ~/.cache/modelops/airflow-*

clean: ## remove the venv and caches inside the repo
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# --- checks -------------------------------------------------------------------------------
lint: install lint-python lint-generated ## ruff, mypy --strict, import contracts, generated-file drift, helm lint

PY_DIRS := $(wildcard contracts runtime operator cli integrations tests bench examples hack)
PY_TYPED := $(wildcard contracts/modelops_contracts runtime/modelops_runtime operator/modelops_operator cli/modelops_cli \
            integrations/modelops_airflow) \
            hack/image_contents.py

lint-python:
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy $(PY_TYPED)
	$(VENV)/bin/lint-imports

lint-generated: crds-check chart-lint

CRD_DIRS := crds charts/modelops/crds

crds: install ## generate the CRDs (crds/ and the chart's) from operator/modelops_operator/api
	$(PY) -m modelops_operator.api.crds $(CRD_DIRS)
	$(PY) -m modelops_operator.api.reference docs/reference.md

crds-check: install ## fail if the CRDs or docs/reference.md differ from the typed API
	$(PY) -m modelops_operator.api.crds --check $(CRD_DIRS)
	$(PY) -m modelops_operator.api.reference --check docs/reference.md

chart-lint: $(HELM) ## helm lint and render the chart
	$(HELM) lint --strict charts/modelops
	$(HELM) template modelops charts/modelops --namespace modelops-system --kube-version 1.33.0 >/dev/null
	$(HELM) template modelops charts/modelops --namespace modelops-system --kube-version 1.33.0 --set "watchNamespaces={a,b}" >/dev/null
	$(HELM) template modelops charts/modelops --namespace modelops-system --kube-version 1.33.0 --set monitoring.prometheusOperator=always >/dev/null

# --- tests --------------------------------------------------------------------------------
test-unit: install ## unit, API and process tests only (no cluster needed)
	$(PY) -m pytest -m 'not cluster' -n auto -q $(PYTEST_ARGS)

# The whole suite on a fresh machine: builds or reuses the pinned binaries (and the
# Prometheus of the monitoring tests, and Airflow's venv), starts (or reuses) the local
# cluster and its S3 server, builds the images, then hack/test.sh: lint beside the smoke
# gate, and when both pass every other test in TEST_WORKERS parallel workers, with the
# cluster tests required (a skipped cluster test is a failure). The cluster stays up
# afterwards for the next run; `make cluster-down` stops it.
TEST_WORKERS ?= 6
export TEST_WORKERS PYTEST_ARGS
test: install airflow-venv cluster-binaries $(PROMETHEUS) $(PROMTOOL) cluster-up images ## lint, the smoke gate, then every test in parallel workers
	PY=$(PY) hack/test.sh

BENCH ?= predictor
bench: install ## benchmarks against peers in the same run (BENCH=predictor|activator|serving|cold_start|distributed|hostile; docs/benchmarks.md)
	$(PY) bench/$(BENCH).py $(BENCH_ARGS)

# --- the operator and the demo ------------------------------------------------------------
operator-run: install ## run the operator locally against the current kubeconfig context
	$(PY) -m modelops_operator

# On a fresh machine too: Helm, the cluster (CLUSTER=local, or kind/minikube with our S3
# server) and the images are built or reused before the demo installs the chart.
demo: install $(HELM) cluster-up images ## start the cluster if needed, install the chart, train, deploy and predict (CLUSTER=kind too)
	$(PY) examples/ctr/demo.py

demo-clean: $(HELM) ## delete the demo's model and uninstall the operator (the cluster stays up)
	@export KUBECONFIG="$$($(MAKE) -s --no-print-directory kubeconfig)"; \
	$(PY) -m modelops_cli.main delete ctr --namespace modelops-demo || true; \
	kubectl -n modelops-demo delete trainingjobs --all --ignore-not-found --wait=false; \
	kubectl -n modelops-demo wait --for=delete trainingjobs,modelversions,models --all --timeout=120s || true; \
	kubectl delete namespace modelops-demo --ignore-not-found --wait=false; \
	$(HELM) uninstall modelops --namespace modelops-system --ignore-not-found --wait; \
	kubectl delete namespace modelops-system --ignore-not-found --wait=false
