#!/bin/sh
# Puts a backup (an RDB file written by hitcounter-backup) back as Redis's data, in the data
# volume mounted at /data, while Redis is stopped.
#
#   hitcounter-restore [--replace | --if-empty] SOURCE
#     SOURCE  a backup's name in BACKUP_DIR (/backups), "latest" (the newest there), or "-"
#             for the file on standard input
#     --replace   the volume may hold data: its files are moved aside, into /data/replaced-TIME/
#     --if-empty  restore only onto an empty volume; with data there, do nothing and succeed
#                 (the Helm chart's init container, which runs at every start of Redis's pod)
#
# Why not copy the file into place: Redis runs with appendonly yes, and then loads only its
# append-only files (/data/appendonlydir) at start. A dump.rdb beside them, or instead of them,
# is ignored, and a Redis that starts without them creates new, empty ones, and later saves
# that empty data set over dump.rdb. So this script
#   1. copies the backup into the volume under a temporary name and checks it (redis-check-rdb);
#   2. refuses while Redis runs (REDIS_HOST answers) or when the volume holds data (without
#      --replace), before it changes anything;
#   3. starts a private redis-server on it (redis.conf, no TCP port, a socket in this
#      container's /tmp) with appendonly no, so that it loads the backup as dump.rdb, and turns
#      appendonly on: Redis writes its append-only files from the data it holds (an AOF
#      rewrite). That is Redis's documented way from RDB to AOF, in every version since 2.2 and
#      in Valkey, whatever the layout of the files;
#   4. stops it, starts it again the way Redis will start (appendonly yes) and checks that it
#      loads the keys the backup held.
set -eu
umask 077

data=/data
dir=${BACKUP_DIR:-/backups}
conf=${REDIS_CONF:-/usr/local/etc/redis/redis.conf}
socket=/tmp/hitcounter-restore.sock
redis_log=/tmp/hitcounter-restore-redis.log
incoming="$data/.restore-incoming.rdb"

server=redis-server
cli=redis-cli
check=redis-check-rdb
if command -v valkey-server >/dev/null 2>&1; then
	server=valkey-server
fi
if command -v valkey-cli >/dev/null 2>&1; then
	cli=valkey-cli
fi
if command -v valkey-check-rdb >/dev/null 2>&1; then
	check=valkey-check-rdb
fi

say() { echo "restore: $*" >&2; }
die() {
	say "$*"
	exit 1
}
usage() {
	echo "usage: hitcounter-restore [--replace | --if-empty] NAME | latest | -" >&2
	exit 2
}

replace=0
if_empty=0
case "${1:-}" in
--replace)
	replace=1
	shift
	;;
--if-empty)
	if_empty=1
	shift
	;;
esac
[ "$#" -eq 1 ] || usage
source=$1

# existing_data lists the Redis files in the volume (a Kubernetes volume's lost+found is not one).
existing_data() {
	existing=""
	for f in "$data/appendonlydir" "$data/dump.rdb" "$data"/appendonly.aof*; do
		if [ -e "$f" ]; then
			existing="$existing ${f##*/}"
		fi
	done
}

pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$incoming" /tmp/hitcounter-restore.acl
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if [ ! -w "$data" ]; then
	die "$data is not writable: mount Redis's data volume there"
fi
existing_data
if [ "$if_empty" = 1 ] && [ -n "$existing" ]; then
	say "$data already holds Redis data ($existing ): not restoring $source (--if-empty)"
	exit 0
fi

# 1. The backup, into the volume under a temporary name, checked.
case "$source" in
-)
	if [ -t 0 ]; then
		die "give the backup on standard input, e.g. docker compose run --rm -T restore - < hitcounter-20261203T101500Z.rdb"
	fi
	cat >"$incoming"
	label="standard input"
	;;
latest | */* | hitcounter-*.rdb)
	if [ "$source" = latest ]; then
		set -- "$dir"/hitcounter-*.rdb
		[ -e "$1" ] || die "no backup in $dir"
		eval "file=\${$#}"
	else
		# A name in the backups directory, or its path there.
		file="$dir/${source##*/}"
	fi
	[ -f "$file" ] || die "no backup $file (the backups: ls $dir)"
	cp "$file" "$incoming"
	label=${file##*/}
	;;
*)
	die "\"$source\" is not a backup's name (hitcounter-YYYYMMDDTHHMMSSZ.rdb), latest or -"
	;;
esac
[ -s "$incoming" ] || die "$label is empty"
if ! out=$("$check" "$incoming" 2>&1); then
	err=$(printf '%s\n' "$out" | sed -n '/RDB ERROR DETECTED/{n;p;}' | head -n 1)
	die "$label does not check with $check (${err:-$(printf '%s\n' "$out" | tail -n 1)}): a damaged or partial file, or a snapshot from a newer Redis than this image's; nothing was changed"
fi
keys=$(printf '%s\n' "$out" | sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p')
say "$label: a complete snapshot, ${keys:-?} keys"

# 2. Nothing runs on this data, and nothing is overwritten unasked.
if [ -n "${REDIS_HOST:-}" ]; then
	# Any answer (NOAUTH, PONG, LOADING) means a Redis is up there; only a failed connection
	# lets the restore go on. A guard against a slip, not a lock: stop Redis first.
	reply=$(timeout 5 "$cli" -h "$REDIS_HOST" -p "${REDIS_PORT:-6379}" PING 2>&1) || true
	case "$reply" in
	"" | *"Could not connect"* | *"Connection refused"* | *"Name or service not known"* | *"does not resolve"* | *"Temporary failure"*) ;;
	*) die "Redis answers at $REDIS_HOST (\"$reply\"): stop it first (docker compose stop), nothing was changed" ;;
	esac
fi
existing_data
if [ -n "$existing" ]; then
	if [ "$replace" != 1 ]; then
		die "$data already holds Redis data ($existing ); restore after docker compose down -v, or give --replace to move it aside into $data/replaced-TIME/. Nothing was changed."
	fi
	aside="$data/replaced-$(date -u +%Y%m%dT%H%M%SZ)"
	mkdir "$aside"
	for f in $existing; do
		mv "$data/$f" "$aside/"
	done
	say "moved the data that was there ($existing ) into $aside; delete it once the restore is checked"
fi
mv -f "$incoming" "$data/dump.rdb"

# start_server [ARG...]: a private Redis on the data, reachable only through the socket in
# this container's /tmp; waits (bounded) until it has loaded the data and answers.
start_server() {
	printf 'user default on nopass ~* &* +@all\n' >/tmp/hitcounter-restore.acl
	"$server" "$conf" --port 0 --unixsocket "$socket" --unixsocketperm 700 \
		--aclfile /tmp/hitcounter-restore.acl --save '' --logfile "$redis_log" --daemonize no "$@" &
	pid=$!
	waited=0
	until [ "$(r PING 2>/dev/null)" = PONG ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$redis_log" >&2
			pid=""
			die "Redis stopped while loading the data (its log is above)"
		fi
		waited=$((waited + 1))
		[ "$waited" -le 1800 ] || die "Redis did not load the data within 30 minutes"
		sleep 1
	done
}
r() { "$cli" -s "$socket" "$@"; }
stop_server() {
	r SHUTDOWN >/dev/null 2>&1 || true
	rc=0
	wait "$pid" || rc=$?
	pid=""
	[ "$rc" -eq 0 ] || {
		tail -n 20 "$redis_log" >&2
		die "Redis exited with status $rc"
	}
}
info_field() { r INFO "$1" | tr -d '\r' | sed -n "s/^$2:\(.*\)$/\1/p"; }

# 3. Load the snapshot, write the append-only files from it.
start_server --appendonly no
loaded=$(r DBSIZE)
with_ttl=$(info_field keyspace db0 | sed -n 's/.*expires=\([0-9]*\).*/\1/p')
with_ttl=${with_ttl:-0}
[ "$(r CONFIG SET appendonly yes)" = OK ] || die "CONFIG SET appendonly yes was refused"
waited=0
while [ "$(info_field persistence aof_rewrite_in_progress)" != 0 ] ||
	[ "$(info_field persistence aof_rewrite_scheduled)" != 0 ]; do
	waited=$((waited + 1))
	[ "$waited" -le 1800 ] || die "the append-only files were not written within 30 minutes"
	sleep 1
done
[ "$(info_field persistence aof_last_bgrewrite_status)" = ok ] || {
	tail -n 20 "$redis_log" >&2
	die "writing the append-only files failed (Redis's log is above)"
}
stop_server

# 4. As Redis will start: from the append-only files alone. Keys with a time to live may have
# expired since the backup; every other key must be there.
start_server
[ "$(info_field persistence aof_enabled)" = 1 ] || die "Redis did not start with appendonly yes"
now=$(r DBSIZE)
stop_server
if [ "$now" -gt "$loaded" ] || [ "$now" -lt $((loaded - with_ttl)) ]; then
	die "Redis loaded $now keys from the append-only files, the backup has $loaded"
fi
say "restored $label into $data: $now keys ($((loaded - now)) expired since the backup)"
# What to do next, where the caller says (compose.yaml: start the stack).
if [ -n "${RESTORE_NEXT:-}" ]; then
	say "$RESTORE_NEXT"
fi
