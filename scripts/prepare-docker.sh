#!/usr/bin/env bash
# Makes a machine without a container registry ready to build and run hitcounter's stack:
#   1. Docker Engine from Debian (docker.io), dockerd started when none answers;
#   2. the Compose v2 and Buildx CLI plugins, built from the Go module proxy (cached by version);
#   3. stand-in images, built from Debian packages, for every base image the Dockerfiles name.
# 2 and 3 run side by side (one compiles, the other mostly downloads), and within 3 the stack's
# stand-ins and the monitoring profile's. Safe to run again: each step checks first and is cached,
# so a prepared machine takes seconds. It never changes the Dockerfiles or compose.yaml, and never
# replaces a real image that is already in the local store (nor builds a base it would not use).
# scripts/prepare-machine.sh (make prepare) runs this; it runs alone too.
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

# --- Names -------------------------------------------------------------------------------------
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
# shellcheck source=/dev/null
host_suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

# base_image SUITE PKGS: the name of the image debian_base makes for SUITE and PKGS, keyed by
# both (known without building it, so that the stand-ins' keys need no base).
base_image() { printf 'local/hitcounter-base:%s' "$(printf '%s %s' "$2" "$1" | sha256sum | cut -c1-12)"; }

# debian_base SUITE PKGS: a Debian root file system of SUITE with PKGS, imported as the image
# base_image names, the root file system cached by the same key. Built only when a stand-in
# needs it.
debian_base() {
	local suite=$1 pkgs=$2 image key tarball
	image=$(base_image "$suite" "$pkgs")
	docker image inspect "$image" >/dev/null 2>&1 && return
	key=${image#*:}
	tarball="$CACHE_DIR/rootfs-$key.tar"
	if [ ! -s "$tarball" ]; then
		log "building a Debian $suite root file system with $pkgs (about a minute)"
		rm -rf "$tarball" "$CACHE_DIR/rootfs-$key.partial.tar"
		# The machine's own apt sources with the suite's name in place of the machine's: the
		# same mirrors, and SUITE-security and SUITE-updates wherever the machine has them, so
		# the root file system has the suite's security fixes.
		sed "/^Suites:/ s/\b$host_suite\b/$suite/g" \
			/etc/apt/sources.list.d/*.sources | mmdebstrap --quiet --variant=minbase --format=tar \
			--include="$pkgs" "$suite" "$CACHE_DIR/rootfs-$key.partial.tar" -
		mv "$CACHE_DIR/rootfs-$key.partial.tar" "$tarball"
	fi
	docker import --change 'CMD ["/bin/sh"]' "$tarball" "$image" >/dev/null
	log "base $image imported"
}

# The stack's stand-ins (golang, redis, haproxy) are built on Debian 13, whose Valkey 8.1 and
# HAProxy 3.0 are the minor versions the Dockerfiles pin (the Go stand-in only needs a shell and
# the CA bundle from it). The monitoring profile's have a base of their own, so that they do not
# change the key (and force a rebuild) of the others.
STACK_SUITE=trixie
STACK_PKGS=ca-certificates,valkey-server,valkey-tools,valkey-sentinel,haproxy,busybox
MONITORING_SUITE=bookworm
MONITORING_PKGS=ca-certificates,busybox,prometheus,prometheus-redis-exporter
BASE_IMAGE=$(base_image "$STACK_SUITE" "$STACK_PKGS")
MONITORING_BASE=$(base_image "$MONITORING_SUITE" "$MONITORING_PKGS")

key_of() { cat "$@" | sha256sum | cut -c1-12; }

# Debian's build of a pinned server: its version must be the minor version the pin names, since
# the stand-ins are there to test what ships (a pin moved to 9.0 while Debian has 8.1 stops
# here, rather than testing one version and shipping another). Debian's patch level is older
# (it backports security fixes instead); docs/containers.md lists the differences.
check_standin_version() { # IMAGE PACKAGE
	local image=$1 pkg=$2 version pinned
	version=$(docker run --rm --network none --entrypoint dpkg-query "$image" -W -f '${Version}' "$pkg")
	pinned=$(sed -E 's/^[^:]*:([0-9]+\.[0-9]+)\..*/\1/' <<<"$image")
	case ${version#*:} in
	"$pinned".*) log "stand-in $image runs Debian's $pkg $version" ;;
	*)
		log "stand-in $image runs $pkg $version, not $pinned.x: pin a version Debian has, or build the stand-ins from a newer suite"
		# Ours, just built: removed, so that the next run stops here again.
		docker image rm "$image" >/dev/null
		return 1
		;;
	esac
}

# build_standin IMAGE KEY DIR BASE SUITE PKGS [PACKAGE] [docker build args...]: builds our
# stand-in for IMAGE unless it is current or a real image has the name. PACKAGE, when not "",
# is the Debian package whose version must match IMAGE's pin. The legacy builder
# (DOCKER_BUILDKIT=0): the Buildx plugin may be being installed at the same moment, and these
# Dockerfiles need nothing of BuildKit's.
build_standin() {
	local image=$1 key=$2 dir=$3 base=$4 suite=$5 pkgs=$6 pkg=$7
	shift 7
	case $(standin_state "$image" "$key") in
	current) log "stand-in $image is current" ;;
	real) log "$image is a real image here; not replaced" ;;
	missing)
		debian_base "$suite" "$pkgs"
		log "building stand-in $image"
		# Its output only on failure (it warns on every build that it is deprecated).
		local out
		if ! out=$(DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="$base" --label "$LABEL=$key" -t "$image" "$@" "$dir" 2>&1); then
			printf '%s\n' "$out" >&2
			return 1
		fi
		[ -z "$pkg" ] || check_standin_version "$image" "$pkg"
		;;
	esac
}

stack_standin() { # IMAGE DIR PACKAGE
	build_standin "$1" "$(key_of "$2/Dockerfile" <(echo "$BASE_IMAGE"))" "$2" "$BASE_IMAGE" "$STACK_SUITE" "$STACK_PKGS" "$3"
}
monitoring_standin() { # IMAGE DIR
	build_standin "$1" "$(key_of "$2/Dockerfile" <(echo "$MONITORING_BASE"))" "$2" "$MONITORING_BASE" \
		"$MONITORING_SUITE" "$MONITORING_PKGS" ""
}

# golang: the host's Go plus a module cache for this go.sum. Rebuilt when either changes.
golang_standin() {
	local go_version go_key ctx
	go_version=$(go env GOVERSION)
	go_key=$(key_of scripts/standins/golang/Dockerfile go.sum <(echo "$BASE_IMAGE $go_version"))
	if [ "$(standin_state "$GO_IMAGE" "$go_key")" != missing ]; then
		build_standin "$GO_IMAGE" "$go_key" /nonexistent "" "" "" ""
		return
	fi
	ctx=$(mktemp -d)
	# (This runs in a job of its own, below: the trap is the job's. Expanded now: ctx is local.)
	# shellcheck disable=SC2064
	trap "rm -rf '$ctx'" EXIT
	cp -a "$(go env GOROOT)" "$ctx/go"
	cp scripts/standins/golang/Dockerfile "$ctx/"
	log "collecting the module cache for go.sum"
	# The host's module cache serves as a proxy first; the real proxy fills any gap.
	(cd "$root" && GOMODCACHE="$ctx/gomodcache" GOFLAGS=-mod=mod \
		GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" go mod download)
	chmod -R u+w "$ctx/gomodcache"
	rm -rf "$ctx/gomodcache/cache/vcs"
	build_standin "$GO_IMAGE" "$go_key" "$ctx" "$BASE_IMAGE" "$STACK_SUITE" "$STACK_PKGS" "" \
		--build-arg GOLANG_VERSION="${go_version#go}"
	rm -rf "$ctx"
}

# --- 2 and 3, side by side ----------------------------------------------------------------------
# Each is a job of its own (set -e stops a failed step inside it), waited for by PID.
at=$SECONDS
(
	bash scripts/install-docker-plugins.sh
	log "plugins done in $((SECONDS - at)) s"
) &
plugins=$!
(
	stack_standin "$REDIS_IMAGE" scripts/standins/redis valkey-server
	stack_standin "$HAPROXY_IMAGE" scripts/standins/haproxy haproxy
	golang_standin
	log "the stack's stand-ins done in $((SECONDS - at)) s"
) &
stack=$!
(
	monitoring_standin "$PROMETHEUS_IMAGE" scripts/standins/prometheus
	monitoring_standin "$EXPORTER_IMAGE" scripts/standins/redis_exporter
	log "the monitoring stand-ins done in $((SECONDS - at)) s"
) &
monitoring=$!
status=0
wait "$plugins" || status=1
wait "$stack" || status=1
wait "$monitoring" || status=1
[ "$status" = 0 ] || { log "failed (see above)"; exit 1; }
log "ready"
