# What the local cluster's containers leave behind, and its removal (sourced by
# hack/cluster.sh): pod sandboxes, containerd tasks, shims, mounts and cgroups.
# shellcheck shell=bash

# Stop and remove every pod sandbox through CRI, so CNI releases addresses, veths and its
# iptables rules and containerd unmounts the rootfs; then kill whatever task is left.
remove_pods() {
    running containerd || return 0
    timeout 60 "$CRICTL_BIN/crictl" --runtime-endpoint "unix://$CONTAINERD_SOCK" \
        --timeout 30s rmp --all --force >/dev/null 2>&1 || log "warning: crictl rmp failed"
    stop_tasks
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
        if tr '\0' ' ' < "$cmdline" 2>/dev/null | grep -F -- "-address $CONTAINERD_SOCK" >/dev/null; then
            [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *containerd-shim* ]] \
                && kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Any process still in the kubelet's pod cgroups is a container we started.
    local pids
    pids="$(find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods \
                 -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
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
