#!/usr/bin/env bash
# The test cluster: the local single-node Kubernetes (CLUSTER=local, the default) or an
# existing kind / minikube cluster, and its S3 server. See docs/development.md.
# The local cluster must run as root (containerd, kubelet, iptables).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for part in process pki network config components external teardown local kind; do
    source "$HACK_DIR/cluster/$part.sh"
done

usage="usage: $0 up|down|clean|status|deps|kubeconfig|s3-env|s3-env-file|state-dir"
case "$CLUSTER:${1:-}" in
    local:up) up ;;
    local:down) down ;;
    local:clean) clean ;;
    local:status) status ;;
    local:deps) deps ;;
    *:up) existing_up ;;
    *:down) existing_down ;;
    *:clean) existing_clean ;;
    *:status) existing_status ;;
    *:deps) ;;
    *:kubeconfig) echo "$KUBECONFIG_FILE" ;;
    *:s3-env) cat "$S3_ENV_FILE" ;;
    *:s3-env-file) echo "$S3_ENV_FILE" ;;
    *:state-dir) echo "$STATE" ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
