#!/bin/sh
# Starts a Sentinel for hitcounter's ha profile (compose.yaml's sentinel-1..3 with
# compose.ha.yaml; docs/reliability.md, "Replication and failover"): it watches the primary and
# its replicas, agrees with the other Sentinels that the primary is down, promotes a replica and
# tells the application's clients where the primary now is.
#
#   hitcounter-sentinel           writes the configuration and execs the Sentinel
#   hitcounter-sentinel health    the health check: PONG from this Sentinel, as user healthcheck
#
# Passwords come from the Docker secrets in SECRETS_DIR (the sentinel-secrets volume), are kept
# as SHA-256 hashes for the users who log in here, and never appear in a command line or a log
# line. The Sentinel must know two of them in clear (to log in to the servers and to the other
# Sentinels), and it writes its whole configuration, those two included, back into its file:
# that file is in the Sentinel's own volume, which nothing else mounts.
set -eu

secrets=${SECRETS_DIR:-/run/secrets}
dir=${SENTINEL_DIR:-/data}
master=${SENTINEL_MASTER_NAME:-hitcounter}
primary=${SENTINEL_PRIMARY:-redis:6379}
quorum=${SENTINEL_QUORUM:-2}
down_after=${SENTINEL_DOWN_AFTER:-1000}
failover_timeout=${SENTINEL_FAILOVER_TIMEOUT:-3000}
app_user=${SENTINEL_APP_USER:-hitcounter}
port=26379

cli=redis-cli
if command -v valkey-cli >/dev/null 2>&1; then
	cli=valkey-cli
fi

if [ "${1:-}" = health ]; then
	# Healthy only when the healthcheck user gets PONG (redis-cli exits 0 on an error reply too).
	password=$(head -n 1 "$secrets/redis_health_password" 2>/dev/null | tr -d '\r\n')
	if [ -z "$password" ]; then
		echo "no health check password in $secrets/redis_health_password"
		exit 1
	fi
	reply=$(REDISCLI_AUTH=$password VALKEYCLI_AUTH=$password "$cli" --user healthcheck -h 127.0.0.1 -p "$port" ping 2>&1)
	if [ "$reply" = "PONG" ]; then
		exit 0
	fi
	echo "unhealthy: $reply"
	exit 1
fi

fail() {
	echo "sentinel: $*" >&2
	exit 2
}
name_ok() {
	case "$1" in
	*[!A-Za-z0-9._-]* | "") return 1 ;;
	esac
}
number_ok() {
	case "$1" in
	*[!0-9]* | "" | 0*) return 1 ;;
	esac
}
name_ok "$master" || fail "SENTINEL_MASTER_NAME: \"$master\" must be letters, digits, . _ and -"
name_ok "$app_user" || fail "SENTINEL_APP_USER: \"$app_user\" must be letters, digits, . _ and -"
number_ok "$quorum" || fail "SENTINEL_QUORUM: \"$quorum\" is not a whole number of 1 or more"
number_ok "$down_after" || fail "SENTINEL_DOWN_AFTER: \"$down_after\" is not a number of milliseconds"
number_ok "$failover_timeout" || fail "SENTINEL_FAILOVER_TIMEOUT: \"$failover_timeout\" is not a number of milliseconds"
primary_host=${primary%:*}
primary_port=${primary##*:}
[ "$primary_port" != "$primary" ] || primary_port=6379
name_ok "$primary_host" && number_ok "$primary_port" || fail "SENTINEL_PRIMARY: \"$primary\" is not host or host:port"

# secret FILE prints the first line of FILE, refusing a missing one, and one with characters
# that a configuration line could not hold as they are (the generated secrets are hex).
secret() {
	if [ ! -s "$1" ]; then
		echo "sentinel: secret $1 is missing or empty: the ha profile needs compose.ha.yaml (docker compose -f compose.yaml -f compose.ha.yaml --profile ha up)" >&2
		exit 1
	fi
	value=$(head -n 1 "$1" | tr -d '\r\n')
	case "$value" in
	*[!A-Za-z0-9._~+/=-]*)
		echo "sentinel: $1 holds characters other than letters, digits and . _ ~ + / = -" >&2
		exit 1
		;;
	esac
	printf '%s' "$value"
}
hash_of() {
	printf '%s' "$1" | sha256sum | cut -d ' ' -f 1
}
server_password=$(secret "$secrets/redis_sentinel_password")
peer_password=$(secret "$secrets/sentinel_peer_password")
app_hash=$(hash_of "$(secret "$secrets/sentinel_app_password")")
health_hash=$(hash_of "$(secret "$secrets/redis_health_password")")
peer_hash=$(hash_of "$peer_password")

umask 077
# Who may log in to this Sentinel (a file on the tmpfs, rewritten at each start; the default user
# is off, so a connection without credentials can only authenticate):
# - the application (rueidis in sentinel mode): SENTINEL SENTINELS and GET-MASTER-ADDR-BY-NAME
#   to find the other Sentinels and the primary, SUBSCRIBE/UNSUBSCRIBE to the events it follows
#   (and those channels only), PING to keep the connection;
# - the other Sentinels (sentinel-user below): PING, the hello messages on their channel,
#   SENTINEL IS-MASTER-DOWN-BY-ADDR (their vote on the primary being down, and on the leader of
#   a failover), naming their connection;
# - the health check: PING.
cat >/tmp/sentinel-users.acl <<ACL
user default off resetkeys resetchannels -@all
user $app_user on #$app_hash resetkeys resetchannels &+sentinel &+slave &-sdown &+sdown &+switch-master &+reboot -@all +auth +hello +ping +sentinel|sentinels +sentinel|get-master-addr-by-name +subscribe +unsubscribe
user sentinel-peer on #$peer_hash resetkeys resetchannels &__sentinel__:hello -@all +auth +ping +publish +sentinel|is-master-down-by-addr +client|setname
user healthcheck on #$health_hash resetkeys resetchannels -@all +ping +hello +auth
ACL

# Sentinel rewrites its configuration file whenever its view changes (a new epoch, a vote, a
# failover, a replica or Sentinel found) and refuses to start without a writable one: the file is
# in this Sentinel's own small volume, not a tmpfs, because what it records must outlive a
# restart. A Sentinel that forgot its epoch and its last vote could vote twice in one election
# and help elect two leaders for one failover; one that forgot which server is the primary would
# begin by watching the old one. So, at each start, the lines below are written afresh (the
# settings and passwords from the environment and the secrets, so a change or a rotation takes
# effect), and of the old file only Sentinel's own state is kept: its id, its epochs, the primary
# it last knew, and the replicas and Sentinels it has met.
conf="$dir/sentinel.conf"
state=""
monitored=""
if [ -f "$conf" ]; then
	state=$(grep -E "^sentinel (myid [0-9a-f]+|current-epoch [0-9]+|(config|leader)-epoch $master [0-9]+|known-(replica|sentinel) $master [0-9a-f.:]+ [0-9]+( [0-9a-f]+)?)\$" "$conf" || true)
	monitored=$(sed -n "s/^sentinel monitor $master \([0-9a-f.:]*\) \([0-9]*\) [0-9]*\$/\1 \2/p" "$conf" | head -n 1)
fi
# Addresses, not Docker's DNS names: Docker's DNS does not answer at all for the name of a
# stopped container on an internal network (the client times out: 20 s by default, measured on
# Docker 20.10), and Sentinel resolves names synchronously, in its event loop, so
# `resolve-hostnames yes` froze every Sentinel for those 20 s when the primary died, put them in
# TILT (no action for 30 s) and nothing failed over. The servers announce their addresses
# (replica-announce-ip, redis/entrypoint.sh), Sentinels theirs, and clients are given addresses.
# The name of the first primary is resolved here, once, while it runs (compose starts the
# Sentinels after it is healthy).
# The primary it last knew is watched again only if it still is one: after `docker compose down`
# and `up` the containers may have other addresses, and the servers start as compose.yaml says
# (redis the primary) unless a Sentinel tells them otherwise. Watching an address that is no
# primary, the Sentinels would find no replica to promote and never find the real primary. So
# the first primary is watched instead, and the configuration epoch dropped (all three
# Sentinels do the same, so none of them keeps the old view).
if [ -n "$monitored" ]; then
	role=$(REDISCLI_AUTH=$server_password VALKEYCLI_AUTH=$server_password timeout 2 "$cli" --user sentinel \
		-h "${monitored% *}" -p "${monitored#* }" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p' || true)
	if [ "$role" != master ]; then
		echo "sentinel: the primary it last knew, ${monitored% *}:${monitored#* }, is not one now (role \"$role\"); watching $primary_host again"
		monitored=""
		state=$(printf '%s\n' "$state" | grep -E -v "^sentinel (config-epoch|known-replica|known-sentinel) " || true)
	fi
fi
if [ -z "$monitored" ]; then
	address=$(getent hosts "$primary_host" | awk '{ print $1; exit }')
	if [ -z "$address" ]; then
		echo "sentinel: SENTINEL_PRIMARY: $primary_host does not resolve" >&2
		exit 1
	fi
	monitored="$address $primary_port"
fi

{
	echo "port $port"
	echo "bind * -::*"
	echo "daemonize no"
	echo 'logfile ""'
	echo "dir $dir"
	echo "aclfile /tmp/sentinel-users.acl"
	echo "sentinel resolve-hostnames no"
	echo "sentinel announce-hostnames no"
	echo "sentinel sentinel-user sentinel-peer"
	echo "sentinel sentinel-pass $peer_password"
	echo "sentinel monitor $master $monitored $quorum"
	echo "sentinel auth-user $master sentinel"
	echo "sentinel auth-pass $master $server_password"
	# docs/reliability.md derives the bound on writes resuming from these two.
	echo "sentinel down-after-milliseconds $master $down_after"
	echo "sentinel failover-timeout $master $failover_timeout"
	echo "sentinel parallel-syncs $master 1"
	if [ -n "$state" ]; then
		printf '%s\n' "$state"
	fi
} >"$conf.tmp"
mv "$conf.tmp" "$conf"

sentinel=redis-sentinel
if command -v valkey-sentinel >/dev/null 2>&1; then
	sentinel=valkey-sentinel
fi
exec "$sentinel" "$conf"
