#!/bin/sh
# Starts Redis for hitcounter: writes the ACL users from the Docker secrets, then execs the
# server. Passwords are hashed (SHA-256) before they reach any file, and never appear in a
# command line or a log line.
set -eu

secrets=${SECRETS_DIR:-/run/secrets}
app_user=${REDIS_APP_USER:-hitcounter}
fsync=${REDIS_APPENDFSYNC:-always}
# Sized for the web service's defaults (100,000 counters, 400 days of history): docs/api.md,
# "Memory", has the formula.
maxmemory=${REDIS_MAXMEMORY:-1200mb}

case "$fsync" in
always | everysec | no) ;;
*)
	echo "REDIS_APPENDFSYNC: \"$fsync\" is not one of always, everysec, no" >&2
	exit 2
	;;
esac
case "$maxmemory" in
*[!0-9kmgbKMGB]* | "" | [!0-9]*)
	echo "REDIS_MAXMEMORY: \"$maxmemory\" is not a size such as 1200mb or 2gb" >&2
	exit 2
	;;
esac
case "$app_user" in
*[!A-Za-z0-9_-]* | "")
	echo "REDIS_APP_USER: \"$app_user\" must be letters, digits, - and _" >&2
	exit 2
	;;
esac

# password_hash FILE prints the SHA-256 of the first line of FILE.
password_hash() {
	if [ ! -s "$1" ]; then
		echo "redis: secret $1 is missing or empty" >&2
		exit 1
	fi
	head -n 1 "$1" | tr -d '\r\n' | sha256sum | cut -d ' ' -f 1
}

app_hash=$(password_hash "$secrets/redis_app_password")
health_hash=$(password_hash "$secrets/redis_health_password")

umask 077
# The application may only touch keys under hitcounter:, with the commands it uses: the hash
# commands of a named counter, the set commands of the counter index, PFADD and PFCOUNT (unique
# visitors per day), INCRBY and EXPIRE (the visit counter, the shared rate-limit counts), EXISTS
# and DEL (delete), and EVAL/EVALSHA for the scripts that make each change one atomic step. A
# script runs with the user's own permissions, so it can reach no other key or command either.
# INFO (no key) lets the service check at start that maxmemory holds its counter limit. No
# SET or GET: nothing the service keeps is a plain string but counts (the visitors' pseudonym
# key never reaches Redis). HSETNX and BGREWRITEAOF: once per Redis, the service removes the
# daily salts versions before it kept here and has the append-only file rewritten without them.
# SPUBLISH, SSUBSCRIBE and SUNSUBSCRIBE, on channels under hitcounter: only (the app user's
# &hitcounter:*): each counter's live values (GET /stream, internal/redisstore/live.go). A publish
# goes to replicas but not into the append-only file, so replaying the file needs none of them.
# ZSCORE, ZADD, ZCARD and ZREMRANGEBYRANK: a counter's repeat window, the sorted set
# of the visitors who counted within it (docs/honest-counts.md).
app_commands="+incrby +expire +exists +del +hincrby +hset +hsetnx +hget +hmget +hdel +sadd +srem +scard +sismember +sscan +pfadd +pfcount +eval +evalsha +spublish +ssubscribe +sunsubscribe +zscore +zadd +zcard +zremrangebyrank"
# The health check may only PING. The metrics exporter (monitoring profile, below) may read the
# server's state (INFO, CONFIG GET, SLOWLOG, LATENCY) and name its connection, on no key.
# The default user is off: no connection can log in as it, so a connection without credentials
# can do nothing but authenticate. It still holds the application's commands on its keys,
# because Valkey before 8.1.10 (Debian's 8.1.1, which the tests run, included) and Redis before
# 8.4 replay the append-only file as the default user and check every MULTI/EXEC block against
# that user's ACL (redis/redis#14541, valkey-io/valkey#3984): a script that writes twice is
# logged as MULTI ... EXEC, and with -@all the server would refuse it on reload and silently
# drop those writes. (PEXPIREAT is how the file records an EXPIRE.) And SELECT: Valkey 8.1 logs
# the SELECT that opens a new file (after a rewrite) inside the first block when that block
# comes first; refused, the file's writes would replay into database 0 (REDIS_DB may be any).
# internal/redisstore's TestWritesSurviveAOFReload and TestAOFReplaysIntoItsDatabase reload a
# file with exactly these users.
# Commands that earlier versions wrote into append-only files which must still replay: INCR (the
# visit counter), SET (the daily salt Redis used to keep). Only the default user, which nobody
# can log in as, holds them.
replayed_commands="+incr +set"
cat >/tmp/users.acl <<ACL
user default off resetkeys ~hitcounter:* resetchannels -@all +multi +exec +select +pexpireat $app_commands $replayed_commands
user $app_user on #$app_hash resetkeys ~hitcounter:* resetchannels &hitcounter:* -@all $app_commands +info +bgrewriteaof +waitaof +ping +hello +auth +select
user healthcheck on #$health_hash resetkeys resetchannels -@all +ping +hello +auth
ACL
# The exporter's user exists only where its password does: Compose's secrets service always
# writes one (the monitoring profile may start the exporter); a Helm install has none.
if [ -e "$secrets/redis_exporter_password" ]; then
	exporter_hash=$(password_hash "$secrets/redis_exporter_password")
	echo "user exporter on #$exporter_hash resetkeys resetchannels -@all +ping +hello +auth +info +config|get +slowlog|len +slowlog|get +latency|latest +latency|histogram +client|setname" >>/tmp/users.acl
fi
# The backup user (the backup service, redis/backup.sh; the chart's backup CronJob), likewise
# only where its password is. It may do what `redis-cli --rdb` does and nothing else: AUTH,
# REPLCONF capa eof, REPLCONF rdb-only 1 (only these two REPLCONF arguments, so it cannot
# REPLCONF ACK and pose as a replica that has what it never stored), and SYNC, which streams a
# snapshot of the whole data set. It reads every key that way, as a backup must, and can change
# none; it may not even PING. No PSYNC: redis-cli --rdb does not send it.
if [ -e "$secrets/redis_backup_password" ]; then
	backup_hash=$(password_hash "$secrets/redis_backup_password")
	echo "user backup on #$backup_hash resetkeys resetchannels -@all +auth +sync +replconf|capa +replconf|rdb-only" >>/tmp/users.acl
fi


# Replication with automatic failover (the ha profile: compose.yaml with compose.ha.yaml,
# docs/reliability.md). Where the servers' secrets hold the replication password, this server is
# one of a primary and its replicas watched by Sentinels, whichever it is now: any of them may be
# promoted, and any may be made a replica of another (the old primary, when it comes back).
config=/usr/local/etc/redis/redis.conf
if [ -e "$secrets/redis_replication_password" ]; then
	replication_hash=$(password_hash "$secrets/redis_replication_password")
	sentinel_hash=$(password_hash "$secrets/redis_sentinel_password")
	# What a replica sends to its primary, and nothing else: AUTH, PING, REPLCONF (its port,
	# address, capabilities and the offsets it has, which WAITAOF counts) and PSYNC. No SYNC:
	# every supported server sends PSYNC. On no key: the data reaches it as a stream.
	echo "user replication on #$replication_hash resetkeys resetchannels -@all +auth +ping +replconf +psync" >>/tmp/users.acl
	# What a Sentinel sends to the servers (Redis's documentation, "Sentinel and ACL", checked
	# against the servers' command statistics after failovers of this stack): INFO to watch
	# them, PING, PUBLISH and SUBSCRIBE on its hello channel to find the other Sentinels, CLIENT
	# SETNAME on its connections and CLIENT KILL to drop a demoted primary's clients, and the
	# failover itself: MULTI, SLAVEOF (what Valkey 8.1's Sentinel sends; REPLICAOF, its other
	# name, for a Sentinel that sends that), CONFIG REWRITE, EXEC. And SCRIPT KILL, which it
	# sends to a primary stuck in a script. On no key, on its own channel only.
	echo "user sentinel on #$sentinel_hash resetkeys resetchannels &__sentinel__:hello -@all +auth +ping +info +publish +subscribe +client|setname +client|kill +script|kill +multi +exec +slaveof +replicaof +config|rewrite" >>/tmp/users.acl
	# The application's client finds the primary through the Sentinels, then asks the server it
	# was given for its ROLE before it sends anything (rueidis): a demoted primary is not used.
	sed -i "s/^user $app_user on .*/& +role/" /tmp/users.acl
	replication_password=$(head -n 1 "$secrets/redis_replication_password" | tr -d '\r\n')
	case "$replication_password" in
	*[!A-Za-z0-9._~+/=-]*)
		echo "redis: $secrets/redis_replication_password holds characters other than letters, digits and . _ ~ + / = -" >&2
		exit 1
		;;
	esac
	# Addresses, not Docker's DNS names, between the servers and the Sentinels: Docker's DNS does
	# not answer at all (20 s of client time-outs, measured on Docker 20.10) for the name of a
	# stopped container on an internal network, and Sentinel resolves names synchronously, in its
	# event loop (as a replica does when it redials its primary): the Sentinels froze for those
	# 20 s, went into TILT and failed nothing over. docs/reliability.md says more. So this server
	# announces its own address, and replicates from an address.
	own=$(getent hosts "$(cat /etc/hostname)" | awk '{ print $1; exit }')
	if [ -z "$own" ]; then
		echo "redis: cannot find this container's own address" >&2
		exit 1
	fi
	# Whom to replicate from. A server that already holds data asks the Sentinels first: after
	# a failover, the old primary restarts as a replica of the new one instead of as a second
	# primary (whose writes would be thrown away once the Sentinels demote it). With no data
	# (the stack's first start) or no Sentinel answering in 2 s: REDIS_REPLICA_OF, or primary.
	replica_of=""
	asked=""
	if [ -n "${REDIS_SENTINELS:-}" ] && [ -e "$secrets/sentinel_app_password" ] && [ -d /data/appendonlydir ]; then
		sentinel_password=$(head -n 1 "$secrets/sentinel_app_password" | tr -d '\r\n')
		cli=redis-cli
		if command -v valkey-cli >/dev/null 2>&1; then
			cli=valkey-cli
		fi
		for sentinel in $(echo "$REDIS_SENTINELS" | tr ',' ' '); do
			# timeout: a stopped Sentinel's name does not resolve, slowly (see above).
			answer=$(REDISCLI_AUTH=$sentinel_password VALKEYCLI_AUTH=$sentinel_password timeout 2 "$cli" --user "${REDIS_SENTINEL_USER:-hitcounter}" \
				-h "${sentinel%:*}" -p "${sentinel##*:}" sentinel get-master-addr-by-name "${REDIS_SENTINEL_MASTER:-hitcounter}" 2>/dev/null | tr '\n' ' ' || true)
			# shellcheck disable=SC2086 # two words: address, port
			set -f
			set -- $answer
			set +f
			if [ $# -eq 2 ] && [ "${1#*[!0-9a-f.:]}" = "$1" ] && [ "${2#*[!0-9]}" = "$2" ]; then
				asked=1
				if [ "$1" != "$own" ]; then
					replica_of="$1 $2"
				fi
				echo "redis: the Sentinels name $1:$2 the primary; this server ($own) starts as $([ -n "$replica_of" ] && echo "its replica" || echo "the primary")"
				break
			fi
		done
		set --
	fi
	if [ -z "${asked:-}" ] && [ -n "${REDIS_REPLICA_OF:-}" ]; then
		host=${REDIS_REPLICA_OF%:*}
		port=${REDIS_REPLICA_OF##*:}
		[ "$port" != "$REDIS_REPLICA_OF" ] || port=6379
		address=$(getent hosts "$host" | awk '{ print $1; exit }')
		if [ -z "$address" ]; then
			echo "redis: REDIS_REPLICA_OF: $host does not resolve" >&2
			exit 1
		fi
		replica_of="$address $port"
	fi
	# Sentinel promotes and demotes servers with REPLICAOF and then has them rewrite their
	# configuration (CONFIG REWRITE): the file they start from is on the tmpfs, made afresh at
	# each start from our redis.conf. masteruser/masterauth serve whenever this server is a
	# replica.
	{
		echo "include $config"
		echo "masteruser replication"
		echo "masterauth $replication_password"
		echo "replica-announce-ip $own"
		# A replica that joins (the old primary, back) gets its snapshot at once, not after the
		# 5 s a primary otherwise waits for more replicas to share it: with one replica, writes
		# wait for it (WAITAOF).
		echo "repl-diskless-sync-delay 0"
		if [ -n "$replica_of" ]; then
			echo "replicaof $replica_of"
		fi
	} >/tmp/redis.conf
	config=/tmp/redis.conf
elif [ -n "${REDIS_REPLICA_OF:-}" ]; then
	echo "redis: REDIS_REPLICA_OF is set but $secrets/redis_replication_password is missing: the ha profile needs compose.ha.yaml (docker compose -f compose.yaml -f compose.ha.yaml --profile ha up)" >&2
	exit 1
fi

server=redis-server
if command -v valkey-server >/dev/null 2>&1; then
	server=valkey-server
fi
exec "$server" "$config" --appendfsync "$fsync" --maxmemory "$maxmemory" "$@"
