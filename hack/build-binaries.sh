#!/usr/bin/env bash
# Build (or reuse) the pinned cluster binaries from the Go module proxy.
# Usage: build-binaries.sh [kubernetes|etcd|helm|minio|pause|crictl|coredns|prometheus|all]...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# A build that fails leaves no half-made folder behind (each builds into <dest>.tmp.<pid>).
trap 'rm -rf "$MODELOPS_CACHE"/*.tmp.$$ "$MODELOPS_CACHE"/*/*.tmp.$$' EXIT

build_kubernetes() {
    local out="$K8S_BIN"
    local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
    if [[ -x "$out/kubelet" && -x "$out/kube-apiserver" && -x "$out/kube-proxy" \
          && -x "$out/kube-scheduler" && -x "$out/kube-controller-manager" ]]; then
        log "kubernetes $K8S_VERSION: cached in $out"; return
    fi
    local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    local ld="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ld+=" -X $pkg.gitCommit=module-$K8S_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
    done
    local tmp="$out.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    log "kubernetes $K8S_VERSION: building ${cmds[*]} (slow on a cold Go cache)"
    local paths=(); for c in "${cmds[@]}"; do paths+=("k8s.io/kubernetes/cmd/$c"); done
    (cd "$HACK_DIR/build/kubernetes" && go build -trimpath -ldflags "$ld" -o "$tmp/" "${paths[@]}")
    rm -rf "$out"; mv "$tmp" "$out"
    log "kubernetes $K8S_VERSION: built into $out"
}

# go build one package of a build module under hack/build/<mod> into <dest>/<name>
# (with the build tags <tags>, if given).
build_tool() {
    local mod="$1" pkg="$2" dest="$3" name="$4" ld="${5:--s -w}" tags="${6:-}"
    if [[ -x "$dest/$name" ]]; then log "$name: cached in $dest"; return; fi
    local tmp="$dest.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    log "$name: building $pkg"
    (cd "$HACK_DIR/build/$mod" && go build -trimpath -tags "$tags" -ldflags "$ld" -o "$tmp/$name" "$pkg")
    rm -rf "$dest"; mv "$tmp" "$dest"
    log "$name: built into $dest"
}

build_etcd() {
    build_tool etcd go.etcd.io/etcd/server/v3 "$ETCD_BIN" etcd
}

build_minio() {
    build_tool minio github.com/minio/minio "$MINIO_BIN" minio \
        "-s -w -X github.com/minio/minio/cmd.Version=$MINIO_VERSION"
}

build_helm() {
    build_tool helm helm.sh/helm/v3/cmd/helm "$HELM_BIN" helm \
        "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

build_crictl() {
    build_tool crictl sigs.k8s.io/cri-tools/cmd/crictl "$CRICTL_BIN" crictl \
        "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
}

build_coredns() {
    build_tool coredns . "$COREDNS_BIN" coredns \
        "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
}

# Prometheus for the monitoring e2e tests, and its promtool for the alert rules' unit tests
# (`promtool test rules`), in one build (they share most of their packages): only its
# Kubernetes service discovery is compiled in (its own remove_all_sd/enable_kubernetes_sd
# tags), and no web UI assets (without the builtinassets tag): the HTTP API is all the
# tests use. Its module version v0.3MM.P is Prometheus 3.MM.P (upstream's tagging).
build_prometheus() {
    local v="github.com/prometheus/common/version" mm patch release out="$PROMETHEUS_DIR"
    if [[ -x "$out/prometheus" && -x "$out/promtool" ]]; then log "prometheus: cached in $out"; return; fi
    mm="${PROMETHEUS_VERSION#v0.}"; patch="${mm#*.}"; mm="${mm%%.*}"
    release="${mm:0:1}.$((10#${mm:1})).$patch"
    local ld="-s -w -X $v.Version=$release -X $v.Revision=module-$PROMETHEUS_VERSION -X $v.Branch=module"
    local tmp="$out.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    log "prometheus, promtool: building"
    (cd "$HACK_DIR/build/prometheus" && go build -trimpath -tags remove_all_sd,enable_kubernetes_sd \
        -ldflags "$ld" -o "$tmp/" github.com/prometheus/prometheus/cmd/prometheus \
        github.com/prometheus/prometheus/cmd/promtool)
    rm -rf "$out"; mv "$tmp" "$out"
    log "prometheus, promtool: built into $out"
}

build_pause() {
    build_tool pause . "$PAUSE_BIN" pause
}

case_all() {
    local what
    for what in "$@"; do
        case "$what" in
            kubernetes) build_kubernetes ;;
            etcd) build_etcd ;;
            helm) build_helm ;;
            minio) build_minio ;;
            pause) build_pause ;;
            crictl) build_crictl ;;
            coredns) build_coredns ;;
            prometheus) build_prometheus ;;
            all) build_kubernetes; build_etcd; build_minio; build_pause; build_crictl; build_coredns
                 build_helm ;;
            *) die "unknown target $what" ;;
        esac
    done
}

case_all "${@:-all}"
