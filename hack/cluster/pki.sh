# The cluster's PKI and kubeconfigs (sourced by hack/cluster.sh): generated at the first
# start, kept across down/up.
# shellcheck shell=bash

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
