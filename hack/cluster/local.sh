# CLUSTER=local: the single-node Kubernetes run on this machine (sourced by hack/cluster.sh).
# deps, up, down, clean and status; docs/development.md says what each step does and why.
# shellcheck shell=bash

APT_PACKAGES=(containerd runc containernetworking-plugins iptables buildah debootstrap
              conntrack socat iproute2 kmod util-linux openssl curl ca-certificates)

deps() {
    local missing=() cmd
    for cmd in containerd runc iptables buildah debootstrap conntrack socat openssl curl; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(cni-plugins)
    ((${#missing[@]} == 0)) && return
    log "installing Debian packages (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
}

up() {
    local t0=$SECONDS
    [[ $EUID -eq 0 ]] || die "cluster-up needs root (containerd, kubelet, iptables)"
    deps
    "$HACK_DIR/build-binaries.sh" kubernetes etcd minio pause crictl coredns
    mkdir -p "$STATE" "$LOGS" "$PIDS"
    chmod 700 "$STATE"
    pki
    write_configs
    host_network

    start_etcd
    start_minio
    start_containerd
    wait_for etcd 30 healthz http://127.0.0.1:2379/health
    start_apiserver
    wait_for containerd 30 ctr_k8s version
    import_sandbox_image
    wait_for kube-apiserver 90 healthz --cacert "$PKI/ca.crt" "https://$NODE_IP:$APISERVER_PORT/readyz"
    start_controller_manager
    start_scheduler
    start_coredns
    start_kube_proxy
    start_kubelet
    wait_for_minio
    wait_for coredns 30 healthz http://127.0.0.1:8181/ready
    wait_for kubelet 60 healthz http://127.0.0.1:10248/healthz
    wait_for kube-proxy 60 healthz http://127.0.0.1:10256/healthz
    wait_for "node $NODE_NAME Ready" 120 node_ready
    wait_for "default service account" 60 default_sa
    log "cluster up in $((SECONDS - t0))s; kubeconfig: $KUBECONFIG_FILE; S3 env: $S3_ENV_FILE"
}

down() {
    [[ -d "$STATE" ]] || { log "no cluster state in $STATE"; return; }
    local t0=$SECONDS
    stop kubelet
    remove_pods
    stop kube-proxy coredns kube-scheduler kube-controller-manager kube-apiserver minio containerd
    stop etcd
    kill_shims
    unmount_all
    remove_cgroups
    host_network_down
    # Node-local runtime state goes; etcd (API objects), certs, images and S3 data stay
    # for the next up. `clean` removes everything.
    rm -rf "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/run"
    log "cluster down in $((SECONDS - t0))s"
}

clean() {
    down
    if findmnt -rn -o TARGET | grep "^$STATE/" >/dev/null; then
        die "something is still mounted under $STATE; not removing it"
    fi
    rm -rf "$STATE"
    log "removed $STATE (API objects, certificates, images in containerd, S3 data)"
}

status() {
    local name pid rc=0
    for name in etcd minio containerd kube-apiserver kube-controller-manager kube-scheduler \
                coredns kube-proxy kubelet; do
        pid="$(pid_of "$name")"
        if [[ -n "$pid" ]]; then printf '%-24s running (pid %s)\n' "$name" "$pid"
        else printf '%-24s stopped\n' "$name"; rc=1; fi
    done
    return $rc
}
