# The test cluster, its pinned binaries and the images: included by the main Makefile.
# CLUSTER=local (default): a real single-node Kubernetes built and run on this machine
#                          (root; see docs/development.md).
# CLUSTER=kind:            an existing kind cluster ($(KIND_CLUSTER)); images are `kind load`ed.
CLUSTER ?= local
KIND_CLUSTER ?= modelops
export CLUSTER KIND_CLUSTER

CLUSTER_SCRIPTS := hack
MODELOPS_CACHE ?= $(HOME)/.cache/modelops

# The pinned Helm (hack/build/helm/go.mod), built on first use; HELM=... uses another one.
ifeq ($(origin HELM),undefined)
HELM := $(shell bash -c 'source $(CLUSTER_SCRIPTS)/lib.sh && echo "$$HELM_BIN/helm"')
endif
export HELM

$(HELM):
	$(CLUSTER_SCRIPTS)/build-binaries.sh helm

# The pinned Prometheus (hack/build/prometheus/go.mod) that scrapes the cluster in the
# monitoring e2e tests, built on first use; the tests find it through MODELOPS_PROMETHEUS.
ifeq ($(origin PROMETHEUS),undefined)
PROMETHEUS := $(shell bash -c 'source $(CLUSTER_SCRIPTS)/lib.sh && echo "$$PROMETHEUS_DIR/prometheus"')
endif
export MODELOPS_PROMETHEUS := $(PROMETHEUS)
# promtool, built beside it, runs the alert rules' unit tests (tests/integration).
PROMTOOL := $(dir $(PROMETHEUS))promtool
export MODELOPS_PROMTOOL := $(PROMTOOL)

$(PROMETHEUS) $(PROMTOOL) &:
	$(CLUSTER_SCRIPTS)/build-binaries.sh prometheus

.PHONY: prometheus cluster-deps cluster-binaries cluster-up cluster-down cluster-clean cluster-status kubeconfig \
        s3-env s3-env-file images images-load image-base image-runtime image-operator

cluster-deps: ## install the Debian packages the local cluster needs (apt-get)
	$(CLUSTER_SCRIPTS)/cluster.sh deps

cluster-binaries: ## build (or reuse) the pinned Kubernetes, etcd, MinIO, crictl, Helm, pause binaries
	$(CLUSTER_SCRIPTS)/build-binaries.sh all

prometheus: $(PROMETHEUS) $(PROMTOOL) ## build (or reuse) the pinned Prometheus and promtool the monitoring tests run

cluster-up: ## start the test cluster and its S3 server (reuses whatever is running or cached)
	$(CLUSTER_SCRIPTS)/cluster.sh up

cluster-down: ## stop the test cluster; leaves no process, mount, link or iptables rule
	$(CLUSTER_SCRIPTS)/cluster.sh down

cluster-status: ## show which cluster components run
	$(CLUSTER_SCRIPTS)/cluster.sh status

kubeconfig: ## print the test cluster's kubeconfig path (use with make -s)
	@$(CLUSTER_SCRIPTS)/cluster.sh kubeconfig

s3-env: ## print the S3 endpoint and credentials as KEY=VALUE lines (use with make -s)
	@$(CLUSTER_SCRIPTS)/cluster.sh s3-env

s3-env-file: ## print the path of the S3 env file (use with make -s)
	@$(CLUSTER_SCRIPTS)/cluster.sh s3-env-file

images: ## build the runtime and operator images and load them into the test cluster
	$(CLUSTER_SCRIPTS)/images.sh all

images-load: ## load already built images into the test cluster
	$(CLUSTER_SCRIPTS)/images.sh load

image-base image-runtime image-operator: image-%:
	$(CLUSTER_SCRIPTS)/images.sh $*

cluster-clean: ## cluster-down, then delete all cluster state (API objects, certs, loaded images, S3 data)
	$(CLUSTER_SCRIPTS)/cluster.sh clean
