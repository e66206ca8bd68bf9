#!/usr/bin/env bash
# Builds the Docker Compose v2 and Buildx CLI plugins from the Go module proxy, for machines
# that have no container registry and whose Debian ships only Compose v1. The binaries are
# cached by version (scripts/versions.env), so a second run only checks them.
set -euo pipefail

# shellcheck source=scripts/versions.sh
. "$(dirname "$0")/versions.sh"
CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
PLUGIN_DIR=${DOCKER_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}

log() { printf '[plugins] %s\n' "$*"; }

# build_plugin MODULE VERSION PACKAGE VERSION_VAR NAME
# Both projects carry replace/exclude lines in go.mod, so they only build as the main module:
# copy the module out of the module cache and build it in place.
build_plugin() {
	local module=$1 version=$2 pkg=$3 version_var=$4 name=$5
	local cached="$CACHE_DIR/$name-$version"
	if [ ! -x "$cached" ]; then
		log "building $name $version (takes minutes, once per version)"
		local dir src
		dir=$(go mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
		[ -n "$dir" ] || { echo "cannot download $module@$version" >&2; exit 1; }
		src=$(mktemp -d)
		cp -r "$dir"/. "$src"
		chmod -R u+w "$src"
		(cd "$src" && CGO_ENABLED=0 go build -trimpath \
			-ldflags "-w -s -X $version_var=$version" -o "$cached.tmp" "$pkg")
		mv "$cached.tmp" "$cached"
		rm -rf "$src"
	fi
	# Copied only when it differs: an unchanged plugin stays as it is (a Docker command may be
	# running it).
	cmp -s "$cached" "$PLUGIN_DIR/$name" || install -D -m 0755 "$cached" "$PLUGIN_DIR/$name"
	log "$name $version ready"
}

mkdir -p "$CACHE_DIR"
build_plugin github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd \
	github.com/docker/compose/v2/internal.Version docker-compose &
compose_pid=$!
build_plugin github.com/docker/buildx "$BUILDX_VERSION" ./cmd/buildx \
	github.com/docker/buildx/version.Version docker-buildx &
buildx_pid=$!
wait "$compose_pid"
wait "$buildx_pid"
