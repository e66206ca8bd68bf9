#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, for hitcounter's chart tests, from upstream
# binaries built by build-binaries.sh (cached by version). No registry: images come from the
# local Docker engine. See docs/kubernetes.md.
#
#   cluster.sh up              build (or reuse) the binaries, start every component, wait Ready
#   cluster.sh load IMAGE...   copy images from the Docker engine into the cluster's containerd
#   cluster.sh logs            print every component's log and the cluster's state
#   cluster.sh down            stop everything by PID and remove what the cluster left behind
#   cluster.sh env             print the KUBECONFIG/PATH lines to use the cluster
#
# Everything lives under $HCK8S_ROOT (default /var/lib/hitcounter-k8s) and $HCK8S_RUN
# (default /run/hitcounter-k8s); `down` removes both. Processes: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd (its own, not Docker's), kubelet,
# kube-proxy (iptables), kube-router (NetworkPolicy only); CoreDNS runs as a pod.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
. "$here/../versions.sh"
CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
ROOT=${HCK8S_ROOT:-/var/lib/hitcounter-k8s}
RUN=${HCK8S_RUN:-/run/hitcounter-k8s}
NODE=${HCK8S_NODE:-hck8s-node}
# The API server and the node use an address of their own on the loopback interface (this kernel
# has no dummy interfaces): reachable from the host and, through the bridge's gateway, from pods;
# removed at `down`.
NODE_IP=${HCK8S_NODE_IP:-10.250.250.1}
API_PORT=${HCK8S_API_PORT:-16443}
ETCD_PORT=${HCK8S_ETCD_PORT:-23790}
ETCD_PEER_PORT=${HCK8S_ETCD_PEER_PORT:-23800}
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/24
DNS_IP=10.96.0.10
BRIDGE=hck8s0
PAUSE_IMAGE=hitcounter-k8s/pause:3.10
COREDNS_IMAGE=hitcounter-k8s/coredns:$COREDNS_VERSION

BIN=$ROOT/bin
PKI=$ROOT/pki
LOGS=$ROOT/logs
PIDS=$RUN/pids
SOCK=$RUN/containerd/containerd.sock
export KUBECONFIG=$ROOT/admin.kubeconfig
export PATH="$BIN:$PATH"

log() { printf '[k8s %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Binaries, packages, images

install_packages() {
	local need=()
	command -v containerd >/dev/null || need+=(containerd)
	command -v runc >/dev/null || need+=(runc)
	[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
	command -v iptables >/dev/null || need+=(iptables)
	command -v conntrack >/dev/null || need+=(conntrack)
	command -v socat >/dev/null || need+=(socat)
	command -v ipset >/dev/null || need+=(ipset)
	command -v openssl >/dev/null || need+=(openssl)
	command -v ip >/dev/null || need+=(iproute2)
	command -v curl >/dev/null || need+=(curl)
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
}

install_binaries() {
	bash "$here/build-binaries.sh"
	mkdir -p "$BIN"
	local b
	for b in kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl; do
		ln -sf "$CACHE_DIR/k8s-$K8S_VERSION/$b" "$BIN/$b"
	done
	ln -sf "$CACHE_DIR/k8s-etcd-$ETCD_VERSION/etcd" "$BIN/etcd"
	ln -sf "$CACHE_DIR/k8s-helm-$HELM_VERSION/helm" "$BIN/helm"
	ln -sf "$CACHE_DIR/k8s-coredns-$COREDNS_VERSION/coredns" "$BIN/coredns"
	ln -sf "$CACHE_DIR/k8s-kube-router-$KUBE_ROUTER_VERSION/kube-router" "$BIN/kube-router"
	ln -sf "$CACHE_DIR/k8s-crictl-$CRICTL_VERSION/crictl" "$BIN/crictl"
}

# single_binary_image NAME BINARY: a scratch image holding only BINARY as its entrypoint, made
# with `docker import` (no build, no base image).
single_binary_image() {
	local name=$1 binary=$2 dir
	docker image inspect "$name" >/dev/null 2>&1 && return
	dir=$(mktemp -d /tmp/hck8s-image.XXXXXX)
	cp "$binary" "$dir/$(basename "$binary")"
	tar -C "$dir" -c "$(basename "$binary")" |
		docker import --change "ENTRYPOINT [\"/$(basename "$binary")\"]" --change 'USER 65532:65532' - "$name" >/dev/null
	rm -rf "$dir"
}

system_images() {
	local pause=$CACHE_DIR/k8s-pause/pause
	if [ ! -x "$pause" ]; then
		mkdir -p "$(dirname "$pause")"
		(cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$pause.tmp" .)
		mv "$pause.tmp" "$pause"
	fi
	single_binary_image "$PAUSE_IMAGE" "$pause"
	single_binary_image "$COREDNS_IMAGE" "$CACHE_DIR/k8s-coredns-$COREDNS_VERSION/coredns"
}

# ---------------------------------------------------------------------------------------------
# Certificates and kubeconfigs

pki() {
	[ -f "$PKI/ca.crt" ] && return
	mkdir -p "$PKI"
	(
		cd "$PKI"
		umask 077
		openssl genrsa -out ca.key 2048 2>/dev/null
		openssl req -x509 -new -key ca.key -subj /CN=hitcounter-k8s-ca -days 30 -out ca.crt 2>/dev/null
		# cert NAME SUBJECT [SANS]
		cert() {
			openssl genrsa -out "$1.key" 2048 2>/dev/null
			openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
			if [ -n "${3:-}" ]; then
				printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
			else
				printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
			fi
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
				-extfile "$1.ext" -out "$1.crt" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		cert apiserver /CN=kube-apiserver \
			"IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
		cert admin "/O=system:masters/CN=hitcounter-k8s-admin"
		cert kubelet "/O=system:nodes/CN=system:node:$NODE"
		cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE" "IP:$NODE_IP,DNS:$NODE"
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
}

kubeconfig() { # FILE CERT
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hck8s
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$NODE_IP:$API_PORT
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: hck8s
  context: {cluster: hck8s, user: $2}
current-context: hck8s
EOF
	chmod 0600 "$1"
}

# ---------------------------------------------------------------------------------------------
# Processes

# start NAME COMMAND...: runs COMMAND in the background with its log in $LOGS/NAME.log and its
# PID in $PIDS/NAME.pid.
start() {
	local name=$1
	shift
	mkdir -p "$LOGS" "$PIDS"
	setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$PIDS/$name.pid"
}

running() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every half second until it succeeds.
wait_for() {
	local what=$1 limit=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || { log "$what: not ready after ${limit}s"; return 1; }
		sleep 0.5
	done
}

# stop NAME [SECONDS]: SIGTERM by PID, SIGKILL after SECONDS (default 15).
stop() {
	local name=$1 limit=${2:-15} pid deadline
	[ -f "$PIDS/$name.pid" ] || return 0
	pid=$(cat "$PIDS/$name.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + limit))
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) ignored SIGTERM for ${limit}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$PIDS/$name.pid"
}

network_setup() {
	sysctl -qw net.ipv4.ip_forward=1
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null || true
	sysctl -qw net.bridge.bridge-nf-call-iptables=1
	ip addr show dev lo | grep -q " $NODE_IP/32" || ip addr add "$NODE_IP/32" dev lo
	# Docker sets the FORWARD policy to DROP; accept the pod bridge's traffic in a chain of our
	# own, appended after Docker's rules. kube-router puts its policy chain first in FORWARD, so
	# the NetworkPolicy still decides before this accepts.
	iptables -N HCK8S-FORWARD 2>/dev/null || iptables -F HCK8S-FORWARD
	iptables -A HCK8S-FORWARD -i "$BRIDGE" -j ACCEPT
	iptables -A HCK8S-FORWARD -o "$BRIDGE" -j ACCEPT
	iptables -C FORWARD -j HCK8S-FORWARD 2>/dev/null || iptables -A FORWARD -j HCK8S-FORWARD
	mkdir -p "$ROOT/cni/net.d" "$ROOT/cni/ipam"
	cat >"$ROOT/cni/net.d/10-hck8s.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hck8s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$ROOT/cni/ipam"
      }
    }
  ]
}
EOF
}

start_etcd() {
	start etcd etcd --name hck8s --data-dir "$ROOT/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "hck8s=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --quota-backend-bytes 1073741824
	wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
	start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address "$NODE_IP" --secure-port "$API_PORT" --advertise-address "$NODE_IP" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
		--kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
		--profiling=false --enable-priority-and-fairness=false
	wait_for kube-apiserver 120 kubectl get --raw /readyz
}

start_controllers() {
	start kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG" \
		--authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
		--bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
		--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--allocate-node-cidrs --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24 \
		--service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
	start kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG" \
		--authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
		--bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

start_containerd() {
	mkdir -p "$ROOT/containerd" "$RUN/containerd"
	cat >"$ROOT/containerd/config.toml" <<EOF
version = 2
root = "$ROOT/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$RUN/containerd/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$ROOT/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
EOF
	start containerd containerd --config "$ROOT/containerd/config.toml"
	wait_for containerd 30 ctr -a "$SOCK" version
}

# load IMAGE...: docker save | ctr import, into the CRI's namespace.
load_images() {
	local image
	for image in "$@"; do
		docker image inspect "$image" >/dev/null 2>&1 || die "image $image is not in the Docker engine"
		docker save "$image" | ctr -a "$SOCK" -n k8s.io images import - >/dev/null
		log "loaded $image"
	done
}

start_kubelet() {
	mkdir -p "$ROOT/kubelet"
	kubeconfig "$ROOT/kubelet.kubeconfig" kubelet
	cat >"$ROOT/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 60
EOF
	start kubelet kubelet --config "$ROOT/kubelet-config.yaml" --kubeconfig "$ROOT/kubelet.kubeconfig" \
		--root-dir "$ROOT/kubelet" --cert-dir "$ROOT/kubelet/pki" --hostname-override "$NODE" \
		--node-ip "$NODE_IP"
	wait_for "node $NODE" 120 kubectl wait --for=condition=Ready "node/$NODE" --timeout=2s
}

start_proxy_and_policy() {
	cat >"$ROOT/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0}
EOF
	start kube-proxy kube-proxy --config "$ROOT/kube-proxy-config.yaml"
	start kube-router kube-router --kubeconfig "$KUBECONFIG" --hostname-override "$NODE" \
		--run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
		--enable-cni=false --enable-ibgp=false --enable-overlay=false --enable-pod-egress=false \
		--service-cluster-ip-range "$SERVICE_CIDR" --health-port 20244 --metrics-port 0
	wait_for kube-proxy 60 curl -sf http://127.0.0.1:10256/healthz
	wait_for kube-router 60 curl -sf http://127.0.0.1:20244/healthz
}

coredns() {
	kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
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
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 5
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      # Port 53 in the pod, as kube-dns and CoreDNS use on real clusters: a NetworkPolicy matches
      # the port after the Service's translation, so the chart's DNS egress rule (53) is tested
      # against what it will meet. The sysctl (a safe one) lets the non-root process bind it.
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        resources: {requests: {cpu: 20m, memory: 32Mi}, limits: {memory: 128Mi}}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: config, mountPath: /etc/coredns}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}
EOF
	kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null
}

# A StorageClass backed by static hostPath volumes under $ROOT/volumes, which this script makes
# on request (`cluster.sh volume NAME`): enough for a StatefulSet on one node, and removed at down.
storage() {
	kubectl apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: hck8s-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
}

# volume NAME SIZE UID: a PersistentVolume on a directory owned by UID.
volume() {
	local name=$1 size=${2:-1Gi} uid=${3:-0} dir=$ROOT/volumes/$1
	mkdir -p "$dir"
	chown "$uid:$uid" "$dir"
	chmod 0700 "$dir"
	kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $name}
spec:
  capacity: {storage: $size}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: hck8s-local
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE]}]
EOF
}

up() {
	[ "$(id -u)" = 0 ] || die "run as root"
	local begin=$SECONDS
	if running kube-apiserver; then die "a cluster is already running (cluster.sh down first)"; fi
	install_packages
	install_binaries
	log "binaries ready after $((SECONDS - begin)) s"
	# A previous run that died half-way leaves state: clear it first.
	cleanup_leftovers
	mkdir -p "$ROOT" "$RUN" "$LOGS"
	pki
	kubeconfig "$KUBECONFIG" admin
	system_images
	network_setup
	start_etcd
	start_apiserver
	start_controllers
	start_containerd
	load_images "$PAUSE_IMAGE" "$COREDNS_IMAGE"
	start_kubelet
	start_proxy_and_policy
	storage
	coredns
	wait_for "the default ServiceAccount" 60 kubectl -n default get serviceaccount default
	log "cluster up after $((SECONDS - begin)) s (KUBECONFIG=$KUBECONFIG)"
}

# ---------------------------------------------------------------------------------------------
# Clean-up

# remove_chains CMD TABLE REGEX: deletes every rule jumping to a chain named REGEX, then the
# chains themselves.
remove_chains() {
	local cmd=$1 table=$2 re=$3 rule chain
	command -v "$cmd" >/dev/null || return 0
	"$cmd" -t "$table" -S >/dev/null 2>&1 || return 0
	while read -r rule; do
		chain=$(awk '{print $2}' <<<"$rule")
		[[ $chain =~ $re ]] && continue
		eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
	done < <("$cmd" -t "$table" -S | grep -E "^-A .* -j ($re)( |$)" || true)
	for chain in $("$cmd" -t "$table" -S | awk '$1 == "-N" {print $2}' | grep -E "^($re)$" || true); do
		"$cmd" -t "$table" -F "$chain" 2>/dev/null || true
	done
	for chain in $("$cmd" -t "$table" -S | awk '$1 == "-N" {print $2}' | grep -E "^($re)$" || true); do
		"$cmd" -t "$table" -X "$chain" 2>/dev/null || true
	done
}

# Removes what the processes may leave behind: iptables chains, ipsets, the bridge and dummy
# interface, the node's address, network namespaces, mounts, and the state directories.
cleanup_leftovers() {
	# Containers of ours still running when containerd is gone (e.g. after a SIGKILL): runc's
	# state for the CRI's namespace, k8s.io, is ours alone (Docker's containerd uses "moby").
	local id pid
	if [ -d /run/containerd/runc/k8s.io ] && ! running containerd; then
		for id in $(runc --root /run/containerd/runc/k8s.io list -q 2>/dev/null || true); do
			runc --root /run/containerd/runc/k8s.io kill -a "$id" KILL 2>/dev/null || true
			runc --root /run/containerd/runc/k8s.io delete -f "$id" 2>/dev/null || true
		done
	fi
	# Their shims name our socket.
	for pid in $(pgrep -f "containerd-shim.* -address $SOCK" || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ -x "$BIN/kube-proxy" ]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
	if [ -x "$BIN/kube-router" ]; then "$BIN/kube-router" --cleanup-config >/dev/null 2>&1 || true; fi
	local cmd table
	for cmd in iptables ip6tables; do
		for table in filter nat mangle; do
			remove_chains "$cmd" "$table" 'KUBE-[A-Z0-9-]+'
			remove_chains "$cmd" "$table" 'HCK8S-[A-Z-]+'
		done
		# The bridge plugin's masquerade rules carry the network's name in a comment.
		while read -r rule; do
			eval "$cmd -t nat -D ${rule#-A }" 2>/dev/null || true
		done < <("$cmd" -t nat -S POSTROUTING 2>/dev/null | grep -F 'name: \"hck8s\"' || true)
		remove_chains "$cmd" nat 'CNI-[0-9a-f]+'
	done
	local t
	# shellcheck disable=SC2086 # $t is two words, the family and the table: nft takes both
	for t in "ip kube-proxy" "ip6 kube-proxy"; do nft delete table $t 2>/dev/null || true; done
	# iptables-nft tables the kubelet and kube-proxy created (e.g. ip6 filter) and that hold no
	# rule any more.
	if [ -f "$ROOT/.nft-tables-before" ]; then
		while read -r t; do
			grep -qxF "$t" "$ROOT/.nft-tables-before" && continue
			# $t is "table FAMILY NAME", three words for nft; the || true is for nft delete alone.
			# shellcheck disable=SC2086,SC2015
			nft list $t 2>/dev/null | awk '/^\t\t[a-z]/ && !/^\t\ttype / {rules++} END {exit rules > 0}' &&
				nft delete $t 2>/dev/null || true
		done < <(nft list tables 2>/dev/null)
	fi
	if command -v ipset >/dev/null; then
		for t in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true); do
			ipset destroy "$t" 2>/dev/null || true
		done
	fi
	ip link del "$BRIDGE" 2>/dev/null || true
	ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
	# Network namespaces the CRI made for our pods: their files name them in the ipam store.
	local ns
	for ns in /run/netns/cni-*; do
		[ -e "$ns" ] || continue
		if [ -f "$RUN/netns-before" ] && grep -qx "$ns" "$RUN/netns-before"; then continue; fi
		umount "$ns" 2>/dev/null || true
		rm -f "$ns"
	done
	local m
	# shellcheck disable=SC2013 # mount points under our two directories hold no spaces
	for m in $(awk -v r="$ROOT" -v s="$RUN" '$2 ~ "^"r"/" || $2 ~ "^"s"/" {print $2}' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# The kubelet's cgroups (cgroup v1: one kubepods tree per controller), deepest first.
	local c
	for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		# shellcheck disable=SC2015 # a missing directory and a failed rmdir both mean: go on
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	# libcni's result cache for our pods (our network and the CRI's loopback).
	rm -f /var/lib/cni/results/hck8s-* /var/lib/cni/results/cni-loopback-* 2>/dev/null || true
	# Sockets of shims that were killed: those no process listens on any more.
	local sock
	for sock in /run/containerd/s/*; do
		[ -S "$sock" ] || continue
		ss -xlH 2>/dev/null | grep -qF " $sock " || rm -f "$sock"
	done
	rm -rf "$RUN/containerd" "$ROOT/containerd" "$ROOT/kubelet" "$ROOT/etcd" "$ROOT/cni" "$ROOT/volumes" "$ROOT/pki" "$LOGS"
	# Pod logs: kubelet writes them under /var/log/pods and /var/log/containers, always.
	local d
	for d in /var/log/pods /var/log/containers; do
		[ -e "$ROOT/.had-$(echo "$d" | tr / _)" ] || rm -rf "$d"
	done
	for d in /var/lib/cni/results /var/lib/cni /run/netns /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd/s /run/containerd; do
		[ -e "$ROOT/.had-$(echo "$d" | tr / _)" ] || rmdir "$d" 2>/dev/null || true
	done
}

down() {
	local begin=$SECONDS
	stop kube-scheduler
	stop kube-controller-manager
	stop kubelet 20
	if running containerd && [ -x "$BIN/crictl" ]; then
		local rt=(crictl --runtime-endpoint "unix://$SOCK" --timeout 30s)
		# shellcheck disable=SC2046 # one argument per pod ID
		"${rt[@]}" stopp $("${rt[@]}" pods -q 2>/dev/null) >/dev/null 2>&1 || true
		# shellcheck disable=SC2046 # one argument per pod ID
		"${rt[@]}" rmp -f $("${rt[@]}" pods -q 2>/dev/null) >/dev/null 2>&1 || true
	fi
	stop containerd 20
	stop kube-router
	stop kube-proxy
	stop kube-apiserver
	stop etcd
	cleanup_leftovers
	rm -rf "$RUN"
	log "cluster down after $((SECONDS - begin)) s; nothing left running"
}

logs() {
	local f
	echo "===== cluster state"
	kubectl get nodes,all,pvc,pv,networkpolicy,pdb,events -A -o wide 2>&1 | tail -n 200 || true
	kubectl describe pods -A 2>&1 | tail -n 300 || true
	for f in "$LOGS"/*.log; do
		[ -f "$f" ] || continue
		echo "===== $(basename "$f") (last 80 lines)"
		tail -n 80 "$f"
	done
	if [ -d /var/log/pods ]; then
		for f in /var/log/pods/*/*/*.log; do
			[ -f "$f" ] || continue
			echo "===== pod log $f (last 40 lines)"
			tail -n 40 "$f"
		done
	fi
}

case "${1:-}" in
up)
	mkdir -p "$RUN" "$ROOT"
	ls -d /run/netns/cni-* 2>/dev/null >"$RUN/netns-before" || true
	# Directories the kubelet and the CRI create outside ours, if they existed before this cluster
	# first ran, are kept at down.
	if [ ! -e "$ROOT/.log-dirs-checked" ]; then
		for d in /var/log/pods /var/log/containers /var/lib/cni /run/netns /run/containerd; do
			if [ -d "$d" ]; then touch "$ROOT/.had-$(echo "$d" | tr / _)"; fi
		done
		nft list tables >"$ROOT/.nft-tables-before" 2>/dev/null || true
		touch "$ROOT/.log-dirs-checked"
	fi
	up
	;;
down) down ;;
load)
	shift
	load_images "$@"
	;;
volume)
	shift
	volume "$@"
	;;
logs) logs ;;
env) # shellcheck disable=SC2016 # $PATH is for the shell that evals this, not expanded here
	printf 'export KUBECONFIG=%s\nexport PATH=%s:$PATH\n' "$KUBECONFIG" "$BIN" ;;
*)
	echo "usage: $0 up|down|load IMAGE...|volume NAME [SIZE] [UID]|logs|env" >&2
	exit 2
	;;
esac
