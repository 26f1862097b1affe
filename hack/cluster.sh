#!/usr/bin/env bash
# The local single-node Kubernetes cluster: up | down | status | kubeconfig | s3-env.
# See docs/development.md. Must run as root (containerd, kubelet, iptables).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --------------------------------------------------------------------------
# process helpers: every process we start has a pid file in $PIDS; we only ever
# signal pids from those files (after checking the pid still runs that binary).
# --------------------------------------------------------------------------
pid_of() {  # name -> pid if running, else nothing
    local f="$PIDS/$1.pid" pid exe
    [[ -f "$f" ]] || return 0
    pid="$(cat "$f")"
    [[ -n "$pid" && -d "/proc/$pid" ]] || return 0
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "$(basename "${exe% (deleted)}")" == "$(cat "$PIDS/$1.bin" 2>/dev/null)" ]] && echo "$pid"
    return 0
}

running() { [[ -n "$(pid_of "$1")" ]]; }

start() {  # name binary args... : start detached, log to $LOGS/name.log
    local name="$1" bin="$2"; shift 2
    if running "$name"; then log "$name already running (pid $(pid_of "$name"))"; return; fi
    local path; path="$(command -v "$bin")" || die "$bin not found"
    basename "$path" > "$PIDS/$name.bin"
    setsid "$path" "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
    echo $! > "$PIDS/$name.pid"
    log "started $name (pid $!, log $LOGS/$name.log)"
}

stop() {  # name... : SIGTERM all, wait up to $STOP_TIMEOUT s, then SIGKILL what is left
    local name pid i pids=()
    for name in "$@"; do
        pid="$(pid_of "$name")"
        if [[ -n "$pid" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < ${STOP_TIMEOUT:-30} * 10; i++)); do
        local alive=0
        for pid in "${pids[@]}"; do [[ -d "/proc/$pid" ]] && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if [[ -d "/proc/$pid" ]]; then
            log "pid $pid did not stop in time; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for name in "$@"; do
        rm -f "$PIDS/$name.pid" "$PIDS/$name.bin"
    done
    ((${#pids[@]})) && log "stopped $*"
    return 0
}

wait_for() {  # description timeout command...
    local what="$1" timeout="$2"; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "timed out after ${timeout}s waiting for $what (logs: $LOGS)"
        fi
        sleep 0.5
    done
}

# --------------------------------------------------------------------------
# dependencies and binaries
# --------------------------------------------------------------------------
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

# --------------------------------------------------------------------------
# PKI and kubeconfigs (generated once, kept across up/down)
# --------------------------------------------------------------------------
gen_cert() {  # name CN O [sans] [usage]
    local name="$1" cn="$2" org="$3" sans="${4:-}" usage="${5:-clientAuth}"
    [[ -f "$PKI/$name.crt" ]] && return
    local ext="$PKI/$name.ext" subj="/CN=$cn"
    [[ -n "$org" ]] && subj="/O=$org$subj"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [[ -n "$sans" ]] && echo "subjectAltName=$sans"
    } > "$ext"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" \
        -out "$PKI/$name.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
        -CAcreateserial -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
    rm -f "$PKI/$name.csr" "$ext"
}

write_kubeconfig() {  # file cert-name user
    local file="$1" cert="$2" user="$3"
    cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CONTEXT_NAME
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$cert.crt")
    client-key-data: $(base64 -w0 < "$PKI/$cert.key")
contexts:
- name: $CONTEXT_NAME
  context:
    cluster: $CONTEXT_NAME
    user: $user
current-context: $CONTEXT_NAME
EOF
    chmod 600 "$file"
}

pki() {
    mkdir -p "$PKI" && chmod 700 "$PKI"
    if [[ ! -f "$PKI/ca.crt" ]]; then
        log "generating cluster CA and certificates in $PKI"
        openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=modelops-local-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
            -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
    fi
    [[ -f "$PKI/sa.key" ]] || {
        openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
        openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    }
    local api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    api_sans+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
    api_sans+=",IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_API_IP"
    gen_cert apiserver kube-apiserver "" "$api_sans" serverAuth
    gen_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
    gen_cert admin modelops-admin system:masters
    gen_cert controller-manager system:kube-controller-manager ""
    gen_cert scheduler system:kube-scheduler ""
    gen_cert kube-proxy system:kube-proxy ""
    gen_cert coredns system:coredns ""
    gen_cert kubelet-client "system:node:$NODE_NAME" system:nodes
    gen_cert kubelet-server "$NODE_NAME" "" "DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1" serverAuth
    [[ -f "$KUBECONFIG_FILE" ]] || write_kubeconfig "$KUBECONFIG_FILE" admin modelops-admin
    local c
    for c in controller-manager scheduler kube-proxy kubelet-client coredns; do
        [[ -f "$STATE/$c.kubeconfig" ]] || write_kubeconfig "$STATE/$c.kubeconfig" "$c" "$c"
    done
}

# --------------------------------------------------------------------------
# host network: node address, forwarding, bridge netfilter, pod egress guard
# --------------------------------------------------------------------------
EGRESS_CHAIN="MODELOPS-POD-EGRESS"

host_network() {
    if ! ip link show "$NODE_IF" >/dev/null 2>&1; then
        ip link add "$NODE_IF" type bridge
        ip addr add "$NODE_IP/32" dev "$NODE_IF"
    fi
    ip link set "$NODE_IF" up
    # The CNI bridge is made here (not lazily by the plugin) so its address and
    # the pod routes exist before the first pod.
    if ! ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
        ip link add "$CNI_BRIDGE" type bridge
        ip addr add "$POD_GATEWAY/24" dev "$CNI_BRIDGE"
    fi
    ip link set "$CNI_BRIDGE" up
    # Host -> ClusterIP: without a route, the first lookup would pick the default route
    # (eth0). Through the port-less node bridge, a packet that kube-proxy does not DNAT
    # to a pod goes nowhere instead of leaving the machine.
    ip route replace "$SERVICE_CIDR" dev "$NODE_IF" src "$NODE_IP"
    [[ -f "$STATE/sysctl.saved" ]] || {
        sysctl -n net.ipv4.ip_forward > "$STATE/sysctl.saved"
    }
    sysctl -qw net.ipv4.ip_forward=1
    sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null \
        || log "warning: net.bridge.bridge-nf-call-iptables unavailable (br_netfilter)"
    # Workplace rule: pods talk only to the node, each other and Services. Forwarded
    # traffic from pods to anything outside the pod network is dropped.
    if ! iptables -w -S "$EGRESS_CHAIN" >/dev/null 2>&1; then
        iptables -w -N "$EGRESS_CHAIN"
        iptables -w -A "$EGRESS_CHAIN" -d "$POD_CIDR" -j RETURN
        iptables -w -A "$EGRESS_CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
        iptables -w -A "$EGRESS_CHAIN" -j DROP
        iptables -w -I FORWARD 1 -s "$POD_CIDR" -j "$EGRESS_CHAIN"
    fi
}

# Remove every iptables rule and chain that Kubernetes, CNI or we created:
# chains KUBE-*, CNI-*, MODELOPS-* and every rule that jumps to or lives in them.
clean_iptables() {
    local tool save restore
    for tool in iptables ip6tables; do
        save="$tool-save"; restore="$tool-restore"
        command -v "$save" >/dev/null || continue
        "$save" 2>/dev/null | python3 -c '
import re, sys
ours = re.compile(r"(KUBE|CNI|MODELOPS)-")
out = []
for line in sys.stdin:
    s = line.rstrip("\n")
    if s.startswith(":") and ours.match(s[1:]):
        continue
    if s.startswith("-A "):
        parts = s.split()
        if ours.match(parts[1]) or re.search(r" -[jg] (KUBE|CNI|MODELOPS)-", s):
            continue
    out.append(s)
print("\n".join(out))
' > "$STATE/iptables.clean" || continue
        # Only rewrite when something of ours is present.
        if "$save" 2>/dev/null | grep -qE '(KUBE|CNI|MODELOPS)-'; then
            "$restore" -w < "$STATE/iptables.clean" || log "warning: $restore failed"
        fi
        rm -f "$STATE/iptables.clean"
    done
}

# --------------------------------------------------------------------------
# configuration files
# --------------------------------------------------------------------------
# Write stdin to a file only when the content changes (kube-proxy and kubelet restart
# or exit when their config file is touched).
CHANGED_FILES=()
write_file() {
    local file="$1" tmp="$1.tmp"
    cat > "$tmp"
    if cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; CHANGED_FILES+=("$file"); fi
}

# A running component whose configuration file changed is restarted by the next start.
restart_if_changed() {  # name file
    local f
    for f in "${CHANGED_FILES[@]}"; do
        if [[ "$f" == "$2" ]] && running "$1"; then
            log "$(basename "$2") changed: restarting $1"
            stop "$1"
        fi
    done
}

write_configs() {
    mkdir -p "$STATE/bin"
    # "runc" for containerd and its shims (first in their PATH): clamps negative
    # oom_score_adj where the machine forbids them, see runc-wrapper.sh.
    install -m 755 "$HACK_DIR/cluster/runc-wrapper.sh" "$STATE/bin/runc"
    rm -f "$STATE/bin/runc-wrapper"
    mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/containerd" "$STATE/run/containerd" \
             "$STATE/kubelet" "$STATE/etcd"
    write_file "$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$STATE/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$STATE/run/containerd/containerd.sock.ttrpc"

[debug]
  address = "$STATE/run/containerd/debug.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
EOF
    write_file "$STATE/cni/net.d/10-modelops.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "modelops",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
    write_file "$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$DNS_IP]
resolvConf: /etc/resolv.conf
# Image GC off: locally imported images (no registry to pull from) must stay.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
serializeImagePulls: false
maxPods: 110
rotateCertificates: false
serverTLSBootstrap: false
EOF
    # Cluster DNS for Services and pods only: no forwarding, so no query leaves the machine.
    write_file "$STATE/Corefile" <<EOF
.:53 {
    bind $DNS_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig $CONTEXT_NAME
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    reload
}
EOF
    write_file "$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
conntrack:
  maxPerCore: 0
EOF
}

# --------------------------------------------------------------------------
# components
# --------------------------------------------------------------------------
healthz() { curl -fsS --max-time 2 "$@"; }

start_etcd() {
    start etcd etcd --name modelops --data-dir "$STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster modelops=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        --unsafe-no-fsync --snapshot-count 10000 --log-level warn
}

start_apiserver() {
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

start_kubelet() {
    start kubelet kubelet --config="$STATE/kubelet.yaml" \
        --kubeconfig="$STATE/kubelet-client.kubeconfig" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
        --root-dir="$STATE/kubelet" --cert-dir="$PKI" \
        --pod-infra-container-image="$SANDBOX_IMAGE" --v=1
}

start_kube_proxy() {
    start kube-proxy kube-proxy --config="$STATE/kube-proxy.yaml" --v=1
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

s3_credentials() {
    [[ -f "$S3_ENV_FILE" ]] && return
    local key secret
    key="modelops$(openssl rand -hex 6)"
    secret="$(openssl rand -hex 20)"
    cat > "$S3_ENV_FILE" <<EOF
AWS_ENDPOINT_URL=http://$NODE_IP:$S3_PORT
MODELOPS_S3_ENDPOINT=http://$NODE_IP:$S3_PORT
AWS_ACCESS_KEY_ID=$key
AWS_SECRET_ACCESS_KEY=$secret
AWS_DEFAULT_REGION=us-east-1
EOF
    chmod 600 "$S3_ENV_FILE"
}

start_minio() {
    s3_credentials
    mkdir -p "$STATE/minio"
    (
        set -a; source "$S3_ENV_FILE"; set +a
        export MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY"
        export MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off
        start minio minio server --quiet --address "$NODE_IP:$S3_PORT" \
            --console-address 127.0.0.1:9001 "$STATE/minio"
    )
}

import_sandbox_image() {
    if ctr_k8s images ls -q | grep -qx "$SANDBOX_IMAGE"; then return; fi
    log "building sandbox image $SANDBOX_IMAGE from $PAUSE_BIN/pause"
    "$HACK_DIR/images.sh" pause
}

api() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

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

# --------------------------------------------------------------------------
# up / down
# --------------------------------------------------------------------------
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
    restart_if_changed containerd "$STATE/containerd.toml"
    local runc; runc="$(command -v runc)"
    PATH="$STATE/bin:$PATH" MODELOPS_RUNC="$runc" start containerd containerd --config "$STATE/containerd.toml"
    wait_for etcd 30 healthz http://127.0.0.1:2379/health
    start_apiserver
    wait_for containerd 30 ctr_k8s version
    import_sandbox_image
    wait_for kube-apiserver 90 healthz --cacert "$PKI/ca.crt" "https://$NODE_IP:$APISERVER_PORT/readyz"
    start_controller_manager
    start_scheduler
    start_coredns
    start_kube_proxy
    restart_if_changed kubelet "$STATE/kubelet.yaml"
    running kubelet || KUBELET_STARTED="$(date +%s)"
    start_kubelet
    wait_for minio 30 healthz "http://$NODE_IP:$S3_PORT/minio/health/live"
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
    # Stop and remove every pod sandbox through CRI, so CNI releases addresses,
    # veths and its iptables rules, and containerd unmounts the rootfs.
    if running containerd; then
        timeout 60 "$CRICTL_BIN/crictl" --runtime-endpoint "unix://$CONTAINERD_SOCK" \
            --timeout 30s rmp --all --force >/dev/null 2>&1 || log "warning: crictl rmp failed"
        stop_tasks
    fi
    stop kube-proxy coredns kube-scheduler kube-controller-manager kube-apiserver minio containerd
    stop etcd
    kill_shims
    kube-proxy --cleanup >/dev/null 2>&1 || true
    clean_iptables
    unmount_all
    ip link del "$CNI_BRIDGE" 2>/dev/null || true
    ip link del "$NODE_IF" 2>/dev/null || true
    remove_cgroups
    if [[ -f "$STATE/sysctl.saved" ]]; then
        sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/sysctl.saved")"
        rm -f "$STATE/sysctl.saved"
    fi
    # Node-local runtime state goes; etcd (API objects), certs, images and S3 data stay
    # for the next up. `clean` removes everything.
    rm -rf "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/run"
    log "cluster down in $((SECONDS - t0))s"
}

clean() {
    down
    if findmnt -rn -o TARGET | grep -q "^$STATE/"; then
        die "something is still mounted under $STATE; not removing it"
    fi
    rm -rf "$STATE"
    log "removed $STATE (API objects, certificates, images in containerd, S3 data)"
}

stop_tasks() {  # kill any containers left in containerd's namespaces
    local ns id
    for ns in $(ctr --address "$CONTAINERD_SOCK" namespaces ls -q 2>/dev/null); do
        for id in $(ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
            ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
        done
        for id in $(ctr --address "$CONTAINERD_SOCK" -n "$ns" containers ls -q 2>/dev/null); do
            timeout 20 ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks delete -f "$id" >/dev/null 2>&1 || true
            ctr --address "$CONTAINERD_SOCK" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
        done
    done
}

kill_shims() {  # shims outlive containerd; their pids are in the task bundles
    local f pid
    for f in "$STATE"/run/containerd/io.containerd.runtime.v2.task/*/*/shim.pid; do
        [[ -f "$f" ]] || continue
        pid="$(cat "$f")"
        if [[ -n "$pid" && "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *containerd-shim* ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Shims of our containerd whose bundle is gone: their command line names our socket.
    local cmdline
    for cmdline in /proc/[0-9]*/cmdline; do
        pid="${cmdline#/proc/}"; pid="${pid%/cmdline}"
        if tr '\0' ' ' < "$cmdline" 2>/dev/null | grep -qF -- "-address $CONTAINERD_SOCK"; then
            [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *containerd-shim* ]] \
                && kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Any process still in the kubelet's pod cgroups is a container we started.
    local procs
    for procs in $(find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods \
                        -name cgroup.procs 2>/dev/null); do
        while read -r pid; do
            [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
        done < "$procs"
    done
    sleep 0.5
}

unmount_all() {
    local m
    # network namespaces made for our pods (CNI names them cni-<uuid>)
    for m in /run/netns/cni-*; do
        [[ -e "$m" ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        rm -f "$m"
    done
    # everything mounted under our state dir, deepest first
    findmnt -rn -o TARGET | awk -v s="$STATE/" 'index($0, s) == 1' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
    done
}

remove_cgroups() {
    local c
    for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
        [[ -d "$c" ]] || continue
        find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
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

# --------------------------------------------------------------------------
# CLUSTER=kind / minikube: an existing cluster; we only bring the S3 server.
# The S3 server listens on the address by which the cluster's nodes reach the host:
# kind's docker network gateway, or minikube's host address.
# --------------------------------------------------------------------------
external_host_ip() {
    case "$CLUSTER" in
        kind) docker network inspect kind \
                  -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' \
                  | tr ' ' '\n' | grep -E '^[0-9.]+$' | head -1 ;;
        minikube) minikube ssh -- getent hosts host.minikube.internal | awk '{print $1}' ;;
    esac
}

external_up() {
    local ctx
    case "$CLUSTER" in
        kind)
            command -v kind >/dev/null || die "CLUSTER=kind needs the kind CLI"
            kind get clusters | grep -qx "$KIND_CLUSTER" \
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
    wait_for minio 30 healthz "http://$NODE_IP:$S3_PORT/minio/health/live"
    log "using $CLUSTER cluster (context $ctx); kubeconfig: $KUBECONFIG_FILE; S3 env: $S3_ENV_FILE"
}

external_down() {
    stop minio
    log "stopped the S3 server; the $CLUSTER cluster itself is left as it is"
}

if [[ "$CLUSTER" != local ]]; then
    case "${1:-}" in
        up) external_up; exit ;;
        down) external_down; exit ;;
        status) [[ -n "$(pid_of minio)" ]] && echo "minio running" || echo "minio stopped"; exit ;;
        deps) exit 0 ;;
    esac
fi

case "${1:-}" in
    up) up ;;
    down) down ;;
    clean) clean ;;
    status) status ;;
    deps) deps ;;
    kubeconfig) echo "$KUBECONFIG_FILE" ;;
    s3-env) cat "$S3_ENV_FILE" ;;
    s3-env-file) echo "$S3_ENV_FILE" ;;
    state-dir) echo "$STATE" ;;
    *) echo "usage: $0 up|down|clean|status|deps|kubeconfig|s3-env|s3-env-file|state-dir" >&2; exit 2 ;;
esac
