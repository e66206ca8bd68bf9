#!/usr/bin/env bash
# Makes a machine without a container registry ready to build and run hitcounter's stack:
#   1. Docker Engine from Debian (docker.io), dockerd started when none answers;
#   2. the Compose v2 and Buildx CLI plugins, built from the Go module proxy (cached by version);
#   3. stand-in images, built from Debian packages, for every base image the Dockerfiles name.
# Safe to run again: each step checks first and is cached. It never changes the Dockerfiles or
# compose.yaml, and never replaces a real image that is already in the local store.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
export HITCOUNTER_CACHE=$CACHE_DIR
mkdir -p "$CACHE_DIR"

log() { printf '[prepare-docker] %s\n' "$*"; }

# --- 1. Engine ------------------------------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v mmdebstrap >/dev/null || need_pkgs+=(mmdebstrap)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
	log "starting dockerd"
	nohup dockerd >/var/log/dockerd.log 2>&1 &
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && break
		sleep 1
	done
	docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; log "dockerd did not answer within 60 s"; exit 1; }
fi
log "engine $(docker version --format '{{.Server.Version}}')"

# --- 2. Compose and Buildx ------------------------------------------------------------------
bash scripts/install-docker-plugins.sh

# --- 3. Stand-in base images ----------------------------------------------------------------
# The images named by the Dockerfiles' FROM build arguments. Each must have a stand-in below.
dockerfile_default() { sed -n "s/^ARG $1=//p" "$2" | head -n 1; }
GO_IMAGE=$(dockerfile_default GO_IMAGE Dockerfile)
REDIS_IMAGE=$(dockerfile_default REDIS_IMAGE redis/Dockerfile)
HAPROXY_IMAGE=$(dockerfile_default HAPROXY_IMAGE lb/Dockerfile)
# The monitoring profile's images, as compose.yaml pins them. The grafana profile's own image
# (grafana/grafana) gets no stand-in: Grafana has no Debian package, and no test starts it.
compose_image() { sed -n "s|^    image: \($1:.*\)$|\1|p" compose.yaml | head -n 1; }
PROMETHEUS_IMAGE=$(compose_image prom/prometheus)
EXPORTER_IMAGE=$(compose_image oliver006/redis_exporter)
for name in GO_IMAGE REDIS_IMAGE HAPROXY_IMAGE PROMETHEUS_IMAGE EXPORTER_IMAGE; do
	[ -n "${!name}" ] || { log "cannot read the default $name from the Dockerfiles and compose.yaml"; exit 1; }
done
# compose.yaml passes REDIS_IMAGE too; it must name the same image.
grep -q "REDIS_IMAGE:-$REDIS_IMAGE}" compose.yaml || { log "compose.yaml's REDIS_IMAGE default differs from redis/Dockerfile"; exit 1; }

LABEL=org.hitcounter.standin

# standin_state IMAGE KEY: "current" when our stand-in with KEY is there, "real" when an image
# that is not ours has the name (left alone), "missing" otherwise.
standin_state() {
	local have
	if ! have=$(docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null); then
		echo missing
	elif [ "$have" = "$2" ]; then
		echo current
	elif [ -z "$have" ] || [ "$have" = "<no value>" ]; then
		echo real
	else
		echo missing
	fi
}

# The Debian release the machine runs; its apt sources reach Debian's archive.
host_suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

# debian_base VAR SUITE PKGS: a Debian root file system of SUITE with PKGS, imported as an image
# and cached by suite and package list; sets VAR to the image's name. (Not $(debian_base ...):
# set -e does not reach into a command substitution.)
debian_base() {
	local var=$1 suite=$2 pkgs=$3 key image tarball
	key=$(printf '%s %s' "$pkgs" "$suite" | sha256sum | cut -c1-12)
	image="local/hitcounter-base:$key"
	if ! docker image inspect "$image" >/dev/null 2>&1; then
		tarball="$CACHE_DIR/rootfs-$key.tar"
		if [ ! -f "$tarball" ] || [ ! -s "$tarball" ]; then
			log "building a Debian $suite root file system with $pkgs (about a minute)"
			rm -rf "$tarball" "$CACHE_DIR/rootfs-$key.partial.tar"
			# The machine's own apt sources with the suite's name in place of the machine's:
			# the same mirrors, and SUITE-security and SUITE-updates wherever the machine has
			# them, so the root file system has the suite's security fixes.
			sed "/^Suites:/ s/\b$host_suite\b/$suite/g" \
				/etc/apt/sources.list.d/*.sources | mmdebstrap --quiet --variant=minbase --format=tar \
				--include="$pkgs" "$suite" "$CACHE_DIR/rootfs-$key.partial.tar" -
			mv "$CACHE_DIR/rootfs-$key.partial.tar" "$tarball"
		fi
		docker import --change 'CMD ["/bin/sh"]' "$tarball" "$image" >/dev/null
	fi
	printf -v "$var" '%s' "$image"
}

# The root file system of the stack's stand-ins (golang, redis, haproxy): Debian 13, whose
# Valkey 8.1 and HAProxy 3.0 are the minor versions the Dockerfiles pin (the Go stand-in only
# needs a shell and the CA bundle from it).
debian_base BASE_IMAGE trixie "ca-certificates,valkey-server,valkey-tools,valkey-sentinel,haproxy,busybox"
log "base $BASE_IMAGE"
# The monitoring profile's stand-ins have their own, so that they do not change the key (and
# force a rebuild) of the others.
debian_base MONITORING_BASE bookworm "ca-certificates,busybox,prometheus,prometheus-redis-exporter"
log "monitoring base $MONITORING_BASE"

build_standin() { # IMAGE KEY DIR [docker build args...]
	local image=$1 key=$2 dir=$3 base=$BASE_IMAGE
	shift 3
	if [ "${1:-}" = --base ]; then
		base=$2
		shift 2
	fi
	case $(standin_state "$image" "$key") in
	current) log "stand-in $image is current" ;;
	real) log "$image is a real image here; not replaced" ;;
	missing)
		log "building stand-in $image"
		docker build -q --build-arg BASE="$base" --label "$LABEL=$key" -t "$image" "$@" "$dir" >/dev/null
		;;
	esac
}

key_of() { cat "$@" | sha256sum | cut -c1-12; }

build_standin "$REDIS_IMAGE" "$(key_of scripts/standins/redis/Dockerfile <(echo "$BASE_IMAGE"))" scripts/standins/redis
build_standin "$HAPROXY_IMAGE" "$(key_of scripts/standins/haproxy/Dockerfile <(echo "$BASE_IMAGE"))" scripts/standins/haproxy
# Debian's build of a pinned server: its version must be the minor version the pin names, since
# the stand-ins are there to test what ships (a pin moved to 9.0 while Debian has 8.1 stops
# here, rather than testing one version and shipping another). Debian's patch level is older
# (it backports security fixes instead); docs/containers.md lists the differences.
check_standin_version() { # IMAGE PACKAGE
	local image=$1 pkg=$2 label version pinned
	label=$(docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$image")
	[ -n "$label" ] && [ "$label" != "<no value>" ] || return 0 # a real image: nothing to check
	version=$(docker run --rm --network none --entrypoint dpkg-query "$image" -W -f '${Version}' "$pkg")
	pinned=$(sed -E 's/^[^:]*:([0-9]+\.[0-9]+)\..*/\1/' <<<"$image")
	case ${version#*:} in
	"$pinned".*) log "stand-in $image runs Debian's $pkg $version" ;;
	*)
		log "stand-in $image runs $pkg $version, not $pinned.x: pin a version Debian has, or build the stand-ins from a newer suite"
		exit 1
		;;
	esac
}
check_standin_version "$REDIS_IMAGE" valkey-server
check_standin_version "$HAPROXY_IMAGE" haproxy

build_standin "$PROMETHEUS_IMAGE" "$(key_of scripts/standins/prometheus/Dockerfile <(echo "$MONITORING_BASE"))" \
	scripts/standins/prometheus --base "$MONITORING_BASE"
build_standin "$EXPORTER_IMAGE" "$(key_of scripts/standins/redis_exporter/Dockerfile <(echo "$MONITORING_BASE"))" \
	scripts/standins/redis_exporter --base "$MONITORING_BASE"

# golang: the host's Go plus a module cache for this go.sum. Rebuilt when either changes.
go_version=$(go env GOVERSION)
go_key=$(key_of scripts/standins/golang/Dockerfile go.sum <(echo "$BASE_IMAGE $go_version"))
if [ "$(standin_state "$GO_IMAGE" "$go_key")" = missing ]; then
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' EXIT
	cp -a "$(go env GOROOT)" "$ctx/go"
	cp scripts/standins/golang/Dockerfile "$ctx/"
	log "collecting the module cache for go.sum"
	# The host's module cache serves as a proxy first; the real proxy fills any gap.
	(cd "$root" && GOMODCACHE="$ctx/gomodcache" GOFLAGS=-mod=mod \
		GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" go mod download)
	chmod -R u+w "$ctx/gomodcache"
	rm -rf "$ctx/gomodcache/cache/vcs"
	build_standin "$GO_IMAGE" "$go_key" "$ctx" --build-arg GOLANG_VERSION="${go_version#go}"
	rm -rf "$ctx"
	trap - EXIT
else
	build_standin "$GO_IMAGE" "$go_key" /nonexistent
fi
log "ready"
