#!/usr/bin/env bash
# make prepare (and the first step of make test and make up): makes a fresh Debian 12 machine
# ready, and checks a prepared one in seconds. Usage: prepare-machine.sh [--stack]
#   1. one apt run for every missing package: the tests' (Redis's tools, make, Chromium for the
#      browser tests), Docker's (docker.io, mmdebstrap) and the test cluster's (containerd, CNI
#      plugins, iptables...);
#   2. side by side, each with its log under $HITCOUNTER_CACHE/logs:
#      - docker: the engine, the Compose and Buildx plugins and the stand-in base images
#        (prepare-docker.sh, itself parallel), then the stack's own server for the host's tests
#        (test-server.sh);
#      - k8s: the test cluster's binaries (k8s/build-binaries.sh), the longest step when cold.
# --stack prepares only what `docker compose up --build` needs (make up): Docker's packages and
# prepare-docker.sh. Everything is cached by version (scripts/versions.env) or by content under
# $HITCOUNTER_CACHE (default /var/cache/hitcounter); nothing is built twice.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
CACHE_DIR=${HITCOUNTER_CACHE:-/var/cache/hitcounter}
export HITCOUNTER_CACHE=$CACHE_DIR
LOG_DIR=$CACHE_DIR/logs
begin=$SECONDS

log() { printf '[prepare] %s\n' "$*"; }

stack_only=false
case ${1:-} in
'') ;;
--stack) stack_only=true ;;
*)
	echo "usage: $0 [--stack]" >&2
	exit 2
	;;
esac

command -v go >/dev/null || {
	log "no go on PATH (nor in /usr/local/go/bin): install the Go release go.mod names (https://go.dev/dl)"
	exit 1
}

# --- 1. Packages --------------------------------------------------------------------------------
# PROGRAM:PACKAGE, the package installed when PROGRAM is missing (a path: when it does not exist).
wanted=(dockerd:docker.io mmdebstrap:mmdebstrap make:make)
$stack_only || wanted+=(
	redis-server:redis-server redis-cli:redis-tools chromium:chromium # chromium: the browser tests (e2e/browser), through chromedp
	containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins
	iptables:iptables conntrack:conntrack socat:socat ipset:ipset openssl:openssl
	ip:iproute2 curl:curl
)
missing=()
for entry in "${wanted[@]}"; do
	program=${entry%%:*}
	case $program in
	/*) [ -e "$program" ] || missing+=("${entry#*:}") ;;
	*) command -v "$program" >/dev/null || missing+=("${entry#*:}") ;;
	esac
done
if [ ${#missing[@]} -gt 0 ]; then
	at=$SECONDS
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	log "packages installed in $((SECONDS - at)) s"
fi

# --- 2. Docker and the cluster's binaries, side by side -----------------------------------------
mkdir -p "$LOG_DIR"
docker_lane() {
	bash scripts/prepare-docker.sh
	$stack_only || bash scripts/test-server.sh
}
lanes=(docker)
$stack_only || lanes+=(k8s)
declare -A pid started
for lane in "${lanes[@]}"; do
	started[$lane]=$SECONDS
	case $lane in
	docker) docker_lane >"$LOG_DIR/prepare-docker.log" 2>&1 & ;;
	k8s) bash scripts/k8s/build-binaries.sh >"$LOG_DIR/prepare-k8s.log" 2>&1 & ;;
	esac
	pid[$lane]=$!
done
if [ ${#lanes[@]} -gt 1 ]; then
	log "running ${lanes[*]} side by side (logs: $LOG_DIR/prepare-*.log)"
else
	log "running ${lanes[*]} (log: $LOG_DIR/prepare-${lanes[0]}.log)"
fi
status=0
for lane in "${lanes[@]}"; do
	if wait "${pid[$lane]}"; then
		result=ready
	else
		result=FAILED
		status=1
	fi
	# The lane's own lines (not the Go module downloads, hundreds when cold).
	grep -v '^go: downloading ' "$LOG_DIR/prepare-$lane.log" | sed "s/^/  /" || true
	log "$lane $result after $((SECONDS - started[$lane])) s"
done
[ "$status" = 0 ] || { log "FAILED after $((SECONDS - begin)) s (see the lines above)"; exit 1; }
log "machine ready in $((SECONDS - begin)) s"
