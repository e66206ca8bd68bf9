#!/usr/bin/env bash
# shellcheck disable=SC2317 # the build_* functions are called by name ("build_$t")
# Builds the single-node test cluster's binaries from the Go module proxy and caches them by
# version (scripts/versions.env) under $HITCOUNTER_CACHE/k8s-<version>/ (default
# /var/cache/hitcounter). A second run finds them and does nothing. Usage:
# build-binaries.sh [kubernetes|etcd|helm|coredns|kuberouter|crictl]... (no argument: all of them,
# in two parallel lanes), or build-binaries.sh --check (are they all cached? builds nothing).
set -euo pipefail

# shellcheck source=scripts/versions.sh
. "$(cd "$(dirname "$0")" && pwd)/../versions.sh"
CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { printf '[k8s-build %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# module_dir MODULE@VERSION: the directory of a downloaded module.
module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
module_gomod() { go mod download -json "$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p'; }

# have DIR NAME...: true when every binary is cached already.
have() {
	local dir=$1 name
	shift
	for name in "$@"; do [ -x "$dir/$name" ] || return 1; done
}

build_kubernetes() {
	local out="$CACHE_DIR/k8s-$K8S_VERSION" bins=(kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)
	if have "$out" "${bins[@]}"; then log "kubernetes $K8S_VERSION cached in $out"; return; fi
	log "building kubernetes $K8S_VERSION (the longest build: 15 min or more cold on 2 busy cores)"
	local work gomod minor
	work=$(mktemp -d)
	gomod=$(module_gomod "k8s.io/kubernetes@$K8S_VERSION")
	minor=${K8S_VERSION#v1.}
	(
		cd "$work"
		go mod init local/k8s >/dev/null 2>&1
		go mod edit -require "k8s.io/kubernetes@$K8S_VERSION"
		# k8s.io/kubernetes replaces its staging modules with ./staging paths; point each at the
		# published module of the same release (v0.<minor>.<patch>).
		grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
			go mod edit -replace "$m=$m@v0.$minor"
		done
		local b
		{
			printf '//go:build tools\n\npackage tools\n\nimport (\n'
			for b in "${bins[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
			printf ')\n'
		} >tools.go
		go mod tidy
		mkdir -p "$out"
		for b in "${bins[@]}"; do
			log "  $b"
			go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
				-o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b"
			mv "$out/$b.tmp" "$out/$b"
		done
	)
	rm -rf "$work"
	log "kubernetes $K8S_VERSION ready in $out"
}

build_etcd() {
	local out="$CACHE_DIR/k8s-etcd-$ETCD_VERSION"
	if have "$out" etcd; then log "etcd $ETCD_VERSION cached"; return; fi
	log "building etcd $ETCD_VERSION"
	local work
	work=$(mktemp -d)
	(
		cd "$work"
		go mod init local/etcd >/dev/null 2>&1
		local m
		for m in server/v3 api/v3 client/pkg/v3 client/v3 pkg/v3; do
			go mod edit -require "go.etcd.io/etcd/$m@$ETCD_VERSION"
		done
		printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n)\n' >tools.go
		go mod tidy
		mkdir -p "$out"
		go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
		mv "$out/etcd.tmp" "$out/etcd"
	)
	rm -rf "$work"
	log "etcd $ETCD_VERSION ready"
}

# build_main NAME MODULE VERSION PACKAGE LDFLAGS OUTDIR: builds a module as the main module (a copy
# of its source), for projects whose go.mod has replace lines.
build_main() {
	local name=$1 module=$2 version=$3 pkg=$4 ldflags=$5 out=$6
	if have "$out" "$name"; then log "$name $version cached"; return; fi
	log "building $name $version"
	local dir src
	dir=$(module_dir "$module@$version")
	[ -n "$dir" ] || { echo "cannot download $module@$version" >&2; exit 1; }
	src=$(mktemp -d)
	cp -r "$dir"/. "$src"
	chmod -R u+w "$src"
	mkdir -p "$out"
	(cd "$src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
	mv "$out/$name.tmp" "$out/$name"
	rm -rf "$src"
	log "$name $version ready"
}

build_helm() {
	build_main helm helm.sh/helm/v3 "$HELM_VERSION" ./cmd/helm \
		"-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "$CACHE_DIR/k8s-helm-$HELM_VERSION"
}
build_coredns() {
	build_main coredns github.com/coredns/coredns "$COREDNS_VERSION" . "" "$CACHE_DIR/k8s-coredns-$COREDNS_VERSION"
}
# NetworkPolicy: kube-router's firewall (iptables + ipset). kube-network-policies (the issue's
# first choice) needs nftables' "queue" statement, and these kernels lack CONFIG_NFT_QUEUE:
# `nft add rule ... queue num 100` fails with "No such file or directory".
build_kuberouter() {
	build_main kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" ./cmd/kube-router \
		"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" "$CACHE_DIR/k8s-kube-router-$KUBE_ROUTER_VERSION"
}

# crictl removes the pod sandboxes through the CRI at clean-up, so the CNI plugin tears their
# network down (ctr alone would leave iptables rules and addresses behind).
build_crictl() {
	build_main crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" ./cmd/crictl \
		"-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "$CACHE_DIR/k8s-crictl-$CRICTL_VERSION"
}

# --check: exit 0 when every binary is cached, 1 otherwise; builds nothing.
if [ "${1:-}" = --check ]; then
	have "$CACHE_DIR/k8s-$K8S_VERSION" kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl &&
		have "$CACHE_DIR/k8s-etcd-$ETCD_VERSION" etcd && have "$CACHE_DIR/k8s-helm-$HELM_VERSION" helm &&
		have "$CACHE_DIR/k8s-coredns-$COREDNS_VERSION" coredns &&
		have "$CACHE_DIR/k8s-kube-router-$KUBE_ROUTER_VERSION" kube-router &&
		have "$CACHE_DIR/k8s-crictl-$CRICTL_VERSION" crictl
	exit
fi

mkdir -p "$CACHE_DIR"
if [ $# -gt 0 ]; then
	for t in "$@"; do "build_$t"; done
	exit
fi
# All of them: Kubernetes (about half of the cold time) in one lane, the other five one after
# another in a second. Go already compiles on every core; the lanes overlap one's downloads and
# single-threaded links with the other's compiling.
# (Each lane is a job of its own, not `build_x || ...`, where set -e would not stop a failed step.)
build_kubernetes &
kubernetes_lane=$!
(for t in etcd helm coredns kuberouter crictl; do "build_$t"; done) &
other_lane=$!
status=0
wait "$kubernetes_lane" || status=1
wait "$other_lane" || status=1
exit "$status"
