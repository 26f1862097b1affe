# The host network of the local cluster (sourced by hack/cluster.sh): the node address,
# the pod bridge, forwarding, bridge netfilter and the pod egress guard; and their removal.
# shellcheck shell=bash

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

host_network_down() {
    kube-proxy --cleanup >/dev/null 2>&1 || true
    clean_iptables
    ip link del "$CNI_BRIDGE" 2>/dev/null || true
    ip link del "$NODE_IF" 2>/dev/null || true
    if [[ -f "$STATE/sysctl.saved" ]]; then
        sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/sysctl.saved")"
        rm -f "$STATE/sysctl.saved"
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
        if "$save" 2>/dev/null | grep -E '(KUBE|CNI|MODELOPS)-' >/dev/null; then
            "$restore" -w < "$STATE/iptables.clean" || log "warning: $restore failed"
        fi
        rm -f "$STATE/iptables.clean"
    done
}
