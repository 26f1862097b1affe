# Shared settings and helpers of the hack/ scripts (sourced, not run).
# shellcheck shell=bash
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- pinned versions: each is read from the file that pins it --------------
gomod_version() {  # build-module module -> the version hack/build/<build-module>/go.mod requires
    local file="$HACK_DIR/build/$1/go.mod" version
    version="$(awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 }
                              $1 == m && $2 ~ /^v/ { print $2; exit }' "$file")"
    [[ -n "$version" ]] || die "no version of $2 in $file"
    echo "$version"
}
K8S_VERSION="$(gomod_version kubernetes k8s.io/kubernetes)"
ETCD_VERSION="$(gomod_version etcd go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(gomod_version helm helm.sh/helm/v3)"
CRICTL_VERSION="$(gomod_version crictl sigs.k8s.io/cri-tools)"
COREDNS_VERSION="$(gomod_version coredns github.com/coredns/coredns)"
PROMETHEUS_VERSION="$(gomod_version prometheus github.com/prometheus/prometheus)"
# MinIO has no semver tags: a pseudo-version (v0.0.0-<date>-<commit>).
MINIO_VERSION="$(gomod_version minio github.com/minio/minio)"
# The pause program is ours: its version is the constant in its source.
PAUSE_VERSION="$(awk '$1 == "const" && $2 == "version" { gsub(/"/, "", $4); print $4 }' \
                     "$HACK_DIR/build/pause/main.go")"
BASE_SUITE="bookworm"

# --- caches (reused when present) ------------------------------------------
MODELOPS_CACHE="${MODELOPS_CACHE:-$HOME/.cache/modelops}"
K8S_BIN="$MODELOPS_CACHE/kubernetes-$K8S_VERSION/bin"
ETCD_BIN="$MODELOPS_CACHE/etcd-$ETCD_VERSION/bin"
HELM_BIN="$MODELOPS_CACHE/helm-$HELM_VERSION/bin"
MINIO_BIN="$MODELOPS_CACHE/minio-$MINIO_VERSION/bin"
PAUSE_BIN="$MODELOPS_CACHE/pause-$PAUSE_VERSION/bin"
CRICTL_BIN="$MODELOPS_CACHE/crictl-$CRICTL_VERSION/bin"
COREDNS_BIN="$MODELOPS_CACHE/coredns-$COREDNS_VERSION-lean/bin"   # the plugins the Corefile uses (hack/build/coredns/main.go)
PROMETHEUS_DIR="$MODELOPS_CACHE/prometheus-$PROMETHEUS_VERSION"   # holds the `prometheus` binary
BASE_CACHE="$MODELOPS_CACHE/base-$BASE_SUITE-python3"

# --- runtime state of the cluster ------------------------------------------
CLUSTER="${CLUSTER:-local}"
KIND_CLUSTER="${KIND_CLUSTER:-modelops}"
if [[ "$CLUSTER" == local ]]; then
    STATE="${MODELOPS_CLUSTER_STATE:-/var/lib/modelops-cluster}"
else  # kind / minikube: only the kubeconfig copy and the S3 server live here
    STATE="${MODELOPS_CLUSTER_STATE:-$MODELOPS_CACHE/cluster-$CLUSTER}"
fi
PKI="$STATE/pki"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
KUBECONFIG_FILE="$STATE/kubeconfig"
S3_ENV_FILE="$STATE/s3.env"
CONTAINERD_SOCK="$STATE/run/containerd/containerd.sock"

# --- network (chosen not to collide with this machine's 192.0.2.0/24) ------
NODE_NAME="modelops-node"
NODE_IF="mo-node0"              # an empty bridge that only carries NODE_IP
NODE_IP="10.250.0.1"
CNI_BRIDGE="mo-cni0"
POD_CIDR="10.244.0.0/16"
POD_SUBNET="10.244.0.0/24"
POD_GATEWAY="10.244.0.1"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_API_IP="10.96.0.1"
CLUSTER_DOMAIN="cluster.local"
DNS_IP="$NODE_IP"               # CoreDNS runs on the node, on the node address
APISERVER_PORT=6443
S3_PORT=9000
CONTEXT_NAME="modelops-local"

SANDBOX_IMAGE="localhost/modelops-pause:$PAUSE_VERSION"

export PATH="$K8S_BIN:$ETCD_BIN:$MINIO_BIN:$CRICTL_BIN:$COREDNS_BIN:$HELM_BIN:/usr/sbin:/sbin:$PATH"

# --- clients of the running cluster -----------------------------------------
# (With pipefail, `cmd | grep -q` can fail when grep exits before cmd has written all and
# cmd dies of SIGPIPE: tests on a command's output use `grep ... >/dev/null`.)
api() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
healthz() { curl -fsS --max-time 2 "$@"; }
