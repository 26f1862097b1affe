#!/bin/sh
# runc as containerd's CRI runtime binary on this machine. The kubelet asks for negative
# oom_score_adj values (-998 for pod sandboxes, -997 for Guaranteed pods), which need
# CAP_SYS_RESOURCE; where that capability is missing (as in this VM), `runc create` fails
# with "can't get final child's PID from pipe". containerd 1.6's restrict_oom_score_adj
# did not take effect here, so negative values are clamped to the caller's own score
# in the bundle's config.json before runc reads it. Everything else goes to runc as is.
RUNC="${MODELOPS_RUNC:-/usr/sbin/runc}"
if [ "${MODELOPS_CLAMP_OOM:-1}" = 1 ]; then
    bundle=""; prev=""; create=""
    for arg in "$@"; do
        [ "$arg" = create ] && create=1
        [ "$prev" = --bundle ] && bundle="$arg"
        prev="$arg"
    done
    if [ -n "$create" ] && [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
        capeff="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
        if [ $(( (0x$capeff >> 24) & 1 )) -eq 0 ]; then  # no CAP_SYS_RESOURCE
            own="$(cat /proc/self/oom_score_adj)"
            want="$(grep -o '"oomScoreAdj":-\{0,1\}[0-9]*' "$bundle/config.json" | head -1 | cut -d: -f2)"
            if [ -n "$want" ] && [ "$want" -lt "$own" ]; then
                sed -i "s/\"oomScoreAdj\":$want/\"oomScoreAdj\":$own/" "$bundle/config.json"
            fi
        fi
    fi
fi
exec "$RUNC" "$@"
