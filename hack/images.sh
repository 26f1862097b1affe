#!/usr/bin/env bash
# Build the cluster's images with buildah and load them into the cluster.
# Usage: images.sh [pause|base|runtime|operator|load|all]...
#   pause     the sandbox image (our static pause program) -> containerd k8s.io
#   base      debootstrap bookworm + python3 + python3-venv  -> buildah $BASE_IMAGE
#   runtime   Dockerfile, target runtime   -> $RUNTIME_IMAGE (buildah)
#   operator  Dockerfile, target operator  -> $OPERATOR_IMAGE (buildah)
#   load      runtime + operator archives -> the cluster (containerd, or kind when CLUSTER=kind)
#   all       base runtime operator load (the default; what `make images` runs)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_IMAGE="localhost/modelops-base:$BASE_SUITE"
RUNTIME_IMAGE="${RUNTIME_IMAGE:-localhost/modelops-runtime:dev}"
OPERATOR_IMAGE="${OPERATOR_IMAGE:-localhost/modelops-operator:dev}"
# What each image installs (pyproject extras) and ships (import packages): the Dockerfile's
# build args. The runtime has the predictor and nothing of the operator or the CLI.
RUNTIME_EXTRAS="${RUNTIME_EXTRAS:-runtime xgboost-cpu gcs}"
RUNTIME_PACKAGES="${RUNTIME_PACKAGES:-modelops_contracts modelops_runtime}"
OPERATOR_EXTRAS="${OPERATOR_EXTRAS:-operator}"
OPERATOR_PACKAGES="${OPERATOR_PACKAGES:-modelops_contracts modelops_operator}"
ARCHIVES="$MODELOPS_CACHE/images"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA_BUNDLE="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"

mkdir -p "$ARCHIVES"

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# Import a docker-archive into the local cluster's containerd (k8s.io namespace).
ctr_import() {
    local archive="$1"
    [[ -S "$CONTAINERD_SOCK" ]] || die "containerd is not running; run 'make cluster-up' first"
    ctr_k8s images import --no-unpack=false "$archive" >/dev/null
}

build_pause() {
    local archive="$ARCHIVES/modelops-pause-$PAUSE_VERSION.tar"
    if [[ ! -f "$archive" ]]; then
        local c
        c="$(buildah from scratch)"
        buildah copy "$c" "$PAUSE_BIN/pause" /pause >/dev/null
        buildah config --entrypoint '["/pause"]' --user 65535:65535 \
            --label org.opencontainers.image.title=modelops-pause "$c"
        buildah commit --rm -q "$c" "$SANDBOX_IMAGE" >/dev/null
        rm -f "$archive.tmp"
        buildah push -q "$SANDBOX_IMAGE" "docker-archive:$archive.tmp:$SANDBOX_IMAGE"
        mv "$archive.tmp" "$archive"
    fi
    ctr_import "$archive"
    ctr_k8s images label "$SANDBOX_IMAGE" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
    log "sandbox image $SANDBOX_IMAGE loaded"
}

# Debian bookworm with Python from Debian, made by debootstrap once and cached
# as a rootfs tarball; the buildah image is (re)made from the tarball when missing.
build_base() {
    local tarball="$BASE_CACHE/rootfs.tar"
    if [[ ! -f "$tarball" ]]; then
        local root="$BASE_CACHE/rootfs.tmp"
        rm -rf "$root"; mkdir -p "$root"
        log "debootstrap $BASE_SUITE (python3, python3-venv) into $root"
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            "$BASE_SUITE" "$root" "$DEBIAN_MIRROR" > "$BASE_CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$BASE_CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
        # Slim it: apt lists, caches, docs, man pages.
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
               "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* \
               "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*
        tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    if have_image "$BASE_IMAGE"; then log "base image $BASE_IMAGE present"; return; fi
    local c
    c="$(buildah from scratch)"
    local mnt; mnt="$(buildah mount "$c")"
    tar -C "$mnt" --numeric-owner -xf "$tarball"
    buildah umount "$c" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd /bin/bash \
        --label org.opencontainers.image.title=modelops-base "$c"
    buildah commit --rm -q "$c" "$BASE_IMAGE" >/dev/null
    log "base image $BASE_IMAGE built"
}

build_image() {  # target tag extras packages
    local target="$1" tag="$2" name archive
    local args=(--target "$target" --build-arg "EXTRAS=$3" --build-arg "PACKAGES=$4")
    name="$(basename "${tag%%:*}")"
    archive="$ARCHIVES/$name.tar"
    if ! command -v buildah >/dev/null && command -v docker >/dev/null; then
        # A normal workstation (e.g. with kind): Docker and the public base image.
        log "docker build --target $target -t $tag"
        docker build "${args[@]}" -t "$tag" "$REPO_ROOT"
        docker save -o "$archive" "$tag"
        docker image inspect -f '{{.Id}}' "$tag" > "$archive.id"
        return
    fi
    have_image "$BASE_IMAGE" || build_base
    log "buildah bud --target $target -t $tag"
    # Host network and the host's CA bundle (only mounted for RUN, not stored in the
    # image): pip inside RUN reaches PyPI the way the host's pip does.
    if [[ -f "$HOST_CA_BUNDLE" ]]; then
        args+=(--volume "$HOST_CA_BUNDLE:/run/modelops-host-ca.crt:ro"
               --build-arg PIP_CERT=/run/modelops-host-ca.crt)
    fi
    buildah bud --network host --pull=never --layers -q "${args[@]}" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" -f "$REPO_ROOT/Dockerfile" -t "$tag" "$REPO_ROOT" >/dev/null
    local id; id="$(buildah inspect --type image --format '{{.FromImageID}}' "$tag")"
    if [[ -f "$archive" && "$(cat "$archive.id" 2>/dev/null)" == "$id" ]]; then
        log "$tag unchanged (${id:0:12})"; return
    fi
    rm -f "$archive.tmp"
    buildah push -q "$tag" "docker-archive:$archive.tmp:$tag"
    mv "$archive.tmp" "$archive"
    echo "$id" > "$archive.id"
    log "$tag built (${id:0:12}, $(du -h "$archive" | cut -f1) archive)"
}

build_runtime() { build_image runtime "$RUNTIME_IMAGE" "$RUNTIME_EXTRAS" "$RUNTIME_PACKAGES"; }
build_operator() { build_image operator "$OPERATOR_IMAGE" "$OPERATOR_EXTRAS" "$OPERATOR_PACKAGES"; }

load() {
    local archive id loaded tag
    for tag in "$RUNTIME_IMAGE" "$OPERATOR_IMAGE"; do
        archive="$ARCHIVES/$(basename "${tag%%:*}").tar"
        [[ -f "$archive" ]] || continue
        # Skip an import of the very image the cluster already got (local cluster only:
        # its containerd keeps images across cluster-down/up).
        id="$(cat "$archive.id" 2>/dev/null || true)"
        loaded="$STATE/images/$(basename "$archive").loaded"
        if [[ "$CLUSTER" == local && -n "$id" && "$(cat "$loaded" 2>/dev/null)" == "$id" ]] \
           && ctr_k8s images ls -q | grep -xF "$tag" >/dev/null; then
            log "$(basename "$archive") already loaded"; continue
        fi
        case "$CLUSTER" in
            local) ctr_import "$archive" ;;
            kind) kind load image-archive "$archive" --name "$KIND_CLUSTER" ;;
            minikube) minikube image load "$archive" ;;
            *) die "unknown CLUSTER=$CLUSTER (local, kind or minikube)" ;;
        esac
        if [[ "$CLUSTER" == local ]]; then mkdir -p "$STATE/images"; echo "$id" > "$loaded"; fi
        log "loaded $(basename "$archive") into the $CLUSTER cluster"
    done
}

for what in "${@:-all}"; do
    case "$what" in
        pause) build_pause ;;
        base) build_base ;;
        runtime) build_runtime ;;
        operator) build_operator ;;
        load) load ;;
        all) command -v buildah >/dev/null && build_base
             build_runtime; build_operator; load ;;
        *) die "unknown image $what" ;;
    esac
done
