# What the cluster's workloads use beside Kubernetes (sourced by hack/cluster.sh): the S3
# server (MinIO), on the address pods and the host both reach. Its credentials are made
# once and kept in $S3_ENV_FILE; its data stays across down/up.
# shellcheck shell=bash

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
        set -a
        # shellcheck source=/dev/null
        source "$S3_ENV_FILE"
        set +a
        export MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY"
        export MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off
        start minio minio server --quiet --address "$NODE_IP:$S3_PORT" \
            --console-address 127.0.0.1:9001 "$STATE/minio"
    )
}

wait_for_minio() {
    wait_for minio 30 healthz "http://$NODE_IP:$S3_PORT/minio/health/live"
}
