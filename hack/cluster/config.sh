# The configuration files of the local cluster's components (sourced by hack/cluster.sh).
# A file is only rewritten when its content changes: kube-proxy and the kubelet restart or
# exit when their config file is touched, and a running component whose file changed is
# restarted by the next `up` (restart_if_changed).
# shellcheck shell=bash

CHANGED_FILES=()

write_file() {  # file < content
    local file="$1" tmp="$1.tmp"
    cat > "$tmp"
    if cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; CHANGED_FILES+=("$file"); fi
}

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
    mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/containerd" "$STATE/run/containerd" \
             "$STATE/kubelet" "$STATE/etcd"
    write_file "$STATE/containerd.toml" < <(containerd_config)
    write_file "$STATE/cni/net.d/10-modelops.conflist" < <(cni_config)
    write_file "$STATE/kubelet.yaml" < <(kubelet_config)
    write_file "$STATE/Corefile" < <(coredns_config)
    write_file "$STATE/kube-proxy.yaml" < <(kube_proxy_config)
    write_file "$STATE/audit-policy.yaml" < <(audit_policy)
}

# The API server's audit log ($LOGS/audit.log): every write request, metadata only (who,
# verb, object), so tests and benchmarks can count what the operator writes. Node and
# component leases, renewed every few seconds, are left out.
audit_policy() {
    cat <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  verbs: [get, list, watch]
- level: None
  resources: [{group: coordination.k8s.io, resources: [leases]}]
- level: Metadata
EOF
}

containerd_config() {
    cat <<EOF
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
}

cni_config() {
    cat <<EOF
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
}

kubelet_config() {
    cat <<EOF
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
# Secrets and ConfigMaps fetched when a container needs them, not watched from the binding:
# with the default (Watch) the kubelet lists a woken predictor's storage Secret before the
# API server's node authorizer links the pod to the node, is refused, and the container
# waits ~0.8 s for the retry (kubernetes/kubernetes#133269, #128910; docs/operations.md,
# "Nodes, for cold starts"). Mounted ones are refreshed on each pod sync (the node's TTL
# annotation is 0 on a small cluster), as with a watch.
configMapAndSecretChangeDetectionStrategy: Cache
EOF
}

# Cluster DNS for Services and pods only: no forwarding, so no query leaves the machine.
coredns_config() {
    cat <<EOF
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
}

kube_proxy_config() {
    cat <<EOF
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
