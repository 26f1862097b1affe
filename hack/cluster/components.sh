# The components of the local cluster (sourced by hack/cluster.sh): etcd, containerd, the
# control plane (kube-apiserver, kube-controller-manager, kube-scheduler), CoreDNS, and the
# node (kubelet, kube-proxy); and the checks that say they are ready.
# shellcheck shell=bash

start_etcd() {
    start etcd etcd --name modelops --data-dir "$STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster modelops=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        --unsafe-no-fsync --snapshot-count 10000 --log-level warn
}

start_containerd() {
    restart_if_changed containerd "$STATE/containerd.toml"
    # Our runc wrapper first in the PATH of containerd and its shims; it runs the real one.
    local runc; runc="$(command -v runc)"
    PATH="$STATE/bin:$PATH" MODELOPS_RUNC="$runc" \
        start containerd containerd --config "$STATE/containerd.toml"
}

# The sandbox image is our pause program (there is no registry to pull one from).
import_sandbox_image() {
    if ctr_k8s images ls -q | grep -xF "$SANDBOX_IMAGE" >/dev/null; then return; fi
    log "building sandbox image $SANDBOX_IMAGE from $PAUSE_BIN/pause"
    "$HACK_DIR/images.sh" pause
}

start_apiserver() {
    restart_if_changed kube-apiserver "$STATE/audit-policy.yaml"
    start kube-apiserver kube-apiserver \
        --advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
        --etcd-servers=http://127.0.0.1:2379 \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --client-ca-file="$PKI/ca.crt" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" \
        --kubelet-preferred-address-types=InternalIP \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI/sa.pub" \
        --service-account-signing-key-file="$PKI/sa.key" \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
        --audit-policy-file="$STATE/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
        --audit-log-maxsize=100 --audit-log-maxbackup=1 \
        --allow-privileged=true --profiling=false --event-ttl=1h --v=1
}

start_controller_manager() {
    start kube-controller-manager kube-controller-manager \
        --kubeconfig="$STATE/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
        --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
        --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" \
        --allocate-node-cidrs=false --profiling=false --v=1
}

start_scheduler() {
    start kube-scheduler kube-scheduler \
        --kubeconfig="$STATE/scheduler.kubeconfig" \
        --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
        --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1
}

COREDNS_RBAC='
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}
'

start_coredns() {
    running coredns && return
    api apply -f - <<< "$COREDNS_RBAC" >/dev/null
    start coredns coredns -conf "$STATE/Corefile"
}

start_kube_proxy() {
    start kube-proxy kube-proxy --config="$STATE/kube-proxy.yaml" --v=1
}

start_kubelet() {
    restart_if_changed kubelet "$STATE/kubelet.yaml"
    running kubelet || KUBELET_STARTED="$(date +%s)"
    start kubelet kubelet --config="$STATE/kubelet.yaml" \
        --kubeconfig="$STATE/kubelet-client.kubeconfig" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
        --root-dir="$STATE/kubelet" --cert-dir="$PKI" \
        --pod-infra-container-image="$SANDBOX_IMAGE" --v=1
}

node_ready() {  # Ready, reported by the kubelet that runs now (not a stale status)
    local out status beat renew
    out="$(api get node "$NODE_NAME" \
        -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}')"
    read -r status beat <<< "$out"
    [[ "$status" == True && -n "$beat" ]] || return 1
    if [[ -n "${KUBELET_STARTED:-}" ]]; then
        # a kubelet started by this run posts its full status once it is up
        (( $(date -d "$beat" +%s) >= KUBELET_STARTED ))
    else
        # a kubelet that was running renews its node lease every 10 s
        renew="$(api -n kube-node-lease get lease "$NODE_NAME" -o 'jsonpath={.spec.renewTime}')"
        [[ -n "$renew" ]] && (( $(date -d "$renew" +%s) >= $(date +%s) - 40 ))
    fi
}

default_sa() { api -n default get serviceaccount default; }
