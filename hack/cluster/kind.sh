# CLUSTER=kind or CLUSTER=minikube: a cluster that exists already (sourced by
# hack/cluster.sh). We only copy its kubeconfig and bring the S3 server, on the address by
# which the cluster's nodes reach the host: kind's docker network gateway, or minikube's
# host address.
# shellcheck shell=bash

external_host_ip() {
    case "$CLUSTER" in
        kind) docker network inspect kind \
                  -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' \
                  | tr ' ' '\n' | grep -E '^[0-9.]+$' | head -1 ;;
        minikube) minikube ssh -- getent hosts host.minikube.internal | awk '{print $1}' ;;
    esac
}

existing_up() {
    local ctx
    case "$CLUSTER" in
        kind)
            command -v kind >/dev/null || die "CLUSTER=kind needs the kind CLI"
            kind get clusters | grep -x "$KIND_CLUSTER" >/dev/null \
                || die "no kind cluster '$KIND_CLUSTER' (kind create cluster --name $KIND_CLUSTER)"
            ctx="kind-$KIND_CLUSTER"
            mkdir -p "$STATE" "$LOGS" "$PIDS"
            kind get kubeconfig --name "$KIND_CLUSTER" > "$KUBECONFIG_FILE" ;;
        minikube)
            command -v minikube >/dev/null || die "CLUSTER=minikube needs the minikube CLI"
            ctx=minikube
            mkdir -p "$STATE" "$LOGS" "$PIDS"
            kubectl config view --minify --flatten --context minikube > "$KUBECONFIG_FILE" ;;
        *) die "unknown CLUSTER=$CLUSTER (local, kind or minikube)" ;;
    esac
    chmod 600 "$KUBECONFIG_FILE"
    "$HACK_DIR/build-binaries.sh" minio
    NODE_IP="$(external_host_ip)"
    [[ -n "$NODE_IP" ]] || die "cannot find the host address the $CLUSTER nodes reach"
    # The endpoint can change between kind clusters: rewrite it, keep the credentials.
    if [[ -f "$S3_ENV_FILE" ]]; then
        sed -i -E "s#^(AWS_ENDPOINT_URL|MODELOPS_S3_ENDPOINT)=.*#\\1=http://$NODE_IP:$S3_PORT#" "$S3_ENV_FILE"
    fi
    start_minio
    wait_for_minio
    log "using $CLUSTER cluster (context $ctx); kubeconfig: $KUBECONFIG_FILE; S3 env: $S3_ENV_FILE"
}

existing_down() {
    stop minio
    log "stopped the S3 server; the $CLUSTER cluster itself is left as it is"
}

existing_clean() {
    existing_down
    rm -rf "$STATE"
    log "removed $STATE (the kubeconfig copy, S3 credentials and data)"
}

existing_status() {
    if running minio; then echo "minio running"; else echo "minio stopped"; fi
}
