#!/usr/bin/env bash
# Replaces every web replica with one built from the current code, one at a time, without
# dropping a request: start a new replica beside the old ones, wait until it is healthy (the
# load balancer finds it through DNS), then stop one old replica (SIGTERM: it fails /readyz,
# drains, exits) and remove it. Repeat for each old replica.
#
#   scripts/rolling-update.sh            # project "hitcounter", as `docker compose up` names it
#   COMPOSE_PROJECT_NAME=other scripts/rolling-update.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dc() { docker compose -f compose.yaml "$@"; }

dc build web
old=$(dc ps -q web)
count=$(echo "$old" | wc -w)
[ "$count" -gt 0 ] || { echo "rolling-update: no web replica is running" >&2; exit 1; }
for id in $old; do
	echo "rolling-update: starting a new replica"
	dc up -d --no-deps --no-recreate --wait --wait-timeout 120 --scale web=$((count + 1)) web
	echo "rolling-update: stopping ${id:0:12}"
	docker stop -t 15 "$id" >/dev/null
	docker rm "$id" >/dev/null
done
echo "rolling-update: $count replicas replaced"
