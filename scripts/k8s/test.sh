#!/usr/bin/env bash
# make test-k8s: builds the project's images, brings the single-node cluster up, runs the chart
# tests (e2e/k8s) against it, dumps the cluster's logs if they fail, and always takes the
# cluster down. Prints the time of each phase.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

TAG_A=${HCK8S_TAG_A:-k8s-test-a}
TAG_B=${HCK8S_TAG_B:-k8s-test-b}
NAMESPACE=hck8s-test
cluster=scripts/k8s/cluster.sh
begin=$SECONDS
log() { printf '[test-k8s %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

status=1
finish() {
	if [ "$status" != 0 ]; then
		log "FAILED: the cluster's state and logs follow"
		bash "$cluster" logs || true
	fi
	local at=$SECONDS
	bash "$cluster" down || status=1
	log "cluster down in $((SECONDS - at)) s; total $((SECONDS - begin)) s"
	exit "$status"
}
trap finish EXIT

[ "$(id -u)" = 0 ] || { log "run as root (the cluster needs it)"; exit 1; }
docker info >/dev/null 2>&1 || { log "no Docker engine: run scripts/prepare-machine.sh first"; exit 1; }

# Leftovers of an interrupted run.
bash "$cluster" down >/dev/null 2>&1 || true

at=$SECONDS
if [ "${HCK8S_SKIP_IMAGE_BUILD:-}" = 1 ]; then
	log "using the existing images hitcounter/{web,redis}:$TAG_A (HCK8S_SKIP_IMAGE_BUILD=1)"
else
	log "building images hitcounter/{web,redis}:$TAG_A"
	HITCOUNTER_TAG=$TAG_A docker compose -p hck8s-build build web redis
fi
# The rolling update needs a new web tag; the same image under it is enough to roll every pod.
docker tag "hitcounter/web:$TAG_A" "hitcounter/web:$TAG_B"
log "images ready in $((SECONDS - at)) s"

at=$SECONDS
bash "$cluster" up
bash "$cluster" load "hitcounter/web:$TAG_A" "hitcounter/redis:$TAG_A" "hitcounter/web:$TAG_B"
# The Redis StatefulSet's volume: a local PersistentVolume owned by Redis's uid. A second one
# for Redis's claim made anew by the restore test (the first stays Released: Retain), and one
# for the backups' claim (backup.persistence.size).
bash "$cluster" volume hck8s-redis-data 1Gi 999
bash "$cluster" volume hck8s-redis-data-2 1Gi 999
bash "$cluster" volume hck8s-backups 2Gi 999
eval "$(bash "$cluster" env)"
kubectl create namespace "$NAMESPACE" >/dev/null
kubectl label namespace "$NAMESPACE" hitcounter-k8s/test=true >/dev/null
log "cluster ready in $((SECONDS - at)) s"

at=$SECONDS
HCK8S_TAG_A=$TAG_A HCK8S_TAG_B=$TAG_B HCK8S_NAMESPACE=$NAMESPACE \
	go test -tags k8s -count=1 -v -timeout 30m ./e2e/k8s/
status=0
log "tests passed in $((SECONDS - at)) s"
