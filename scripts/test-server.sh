#!/usr/bin/env bash
# Gives the host's tests the server the stack runs. The unit and integration tests start a real
# server on loopback (internal/redistest, and e2e's reader of Redis's snapshots); the one Debian 12
# installs is Redis 7.0, while the stack runs the image redis/Dockerfile pins (Valkey 8.1, whose
# stand-in is Debian 13's build). This copies that image's server, with the image's own dynamic
# loader and libraries (Debian 13's glibc is newer than the host's, so the binary cannot use the
# host's), into the cache, and writes $HITCOUNTER_CACHE/bin/redis-server, a wrapper that runs it.
# The Makefile sets REDIS_SERVER_BIN to that wrapper when it exists.
#
# Needs the image in the local store (scripts/prepare-docker.sh builds it). Cached by the image's
# ID: a rebuilt image is copied again; otherwise this only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
log() { printf '[test-server] %s\n' "$*"; }

image=$(sed -n 's/^ARG REDIS_IMAGE=//p' redis/Dockerfile | head -n 1)
if ! id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null); then
	log "$image is not in the local image store; run scripts/prepare-docker.sh first"
	exit 1
fi
id=${id#sha256:}
dir="$CACHE_DIR/test-server-${id:0:12}"
wrapper="$CACHE_DIR/bin/redis-server"

if [ ! -f "$dir/complete" ]; then
	log "copying the server of $image into $dir"
	rm -rf "$dir" "$dir.partial"
	mkdir -p "$dir.partial"
	# Inside the image: the server binary (valkey-server, or redis-server in a Redis image), each
	# library ldd names and the loader, dereferenced, as one tar stream. No network, as root only
	# to read the files.
	docker run --rm --network none --user 0 --entrypoint sh "$image" -c '
		set -eu
		server=$(command -v valkey-server || command -v redis-server)
		out=$(mktemp -d)
		mkdir "$out/bin" "$out/lib"
		cp -L "$server" "$out/bin/${server##*/}"
		ldd "$server" | awk "/=> \\// { print \$3 } /^[[:space:]]*\\// { print \$1 }" | while read -r lib; do
			cp -L "$lib" "$out/lib/"
		done
		ldd "$server" | awk "/^[[:space:]]*\\// { print \$1 }" | sed "s|.*/||" >"$out/loader"
		"$server" --version >"$out/version"
		tar -C "$out" -cf - .
	' | tar -x -C "$dir.partial"
	[ -s "$dir.partial/loader" ] || { log "no dynamic loader found for the server in $image"; exit 1; }
	chmod -R a+rX "$dir.partial" # mktemp made it private; any user may run the tests
	touch "$dir.partial/complete"
	mv "$dir.partial" "$dir"
fi

server=$(cd "$dir/bin" && ls)
loader=$(cat "$dir/loader")
# glibc's loader can ignore the host's /etc/ld.so.cache, so that no library of the host's
# (older) glibc is ever mixed in; musl's has no cache and no such option.
inhibit=
case $loader in ld-linux*) inhibit=--inhibit-cache ;; esac
mkdir -p "$CACHE_DIR/bin"
cat >"$wrapper.tmp" <<WRAPPER
#!/bin/sh
# Written by scripts/test-server.sh: runs the server of $image,
#   $(head -n 1 "$dir/version")
# with that image's own loader and libraries, so that the host's tests run the server the stack
# ships. exec keeps the PID, so the tests' signals (kill, stop, continue) reach the server.
exec "$dir/lib/$loader" $inhibit --library-path "$dir/lib" "$dir/bin/$server" "\$@"
WRAPPER
chmod 0755 "$wrapper.tmp"
if cmp -s "$wrapper.tmp" "$wrapper"; then
	rm -f "$wrapper.tmp"
else
	mv "$wrapper.tmp" "$wrapper"
fi
# Old copies (from images since rebuilt) go.
for old in "$CACHE_DIR"/test-server-*; do
	[ "$old" = "$dir" ] || rm -rf "$old"
done
log "$wrapper runs $("$wrapper" --version)"
