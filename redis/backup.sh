#!/bin/sh
# Backups of hitcounter's Redis: a consistent snapshot of everything (counters, their history,
# the index, the visit counter), verified, under a timestamped name, rotated.
#
#   hitcounter-backup [run]      the backup service: a backup every BACKUP_INTERVAL, forever
#   hitcounter-backup once       one backup now (and the rotation); prints the new file's path
#   hitcounter-backup verify F   checks a backup file (structure and checksum)
#   hitcounter-backup health     the container's health check: the last backup succeeded and
#                                the next one is not overdue
#
# A backup is Redis's own snapshot, fetched over the replication protocol (redis-cli --rdb,
# which sends AUTH, REPLCONF capa eof, REPLCONF rdb-only 1 and SYNC): Redis forks and streams
# its whole data set as one RDB file, one point in time for every key, without writing a file
# into Redis's volume and without pausing writes. The file is written under a hidden temporary
# name in BACKUP_DIR, checked with redis-check-rdb, and only then renamed: a name of the form
# hitcounter-YYYYMMDDTHHMMSSZ.rdb (UTC, so names sort by time) always holds a complete,
# verified snapshot. A failed or interrupted backup leaves no such name behind. After each
# backup all but the newest BACKUP_KEEP are deleted. Restore with hitcounter-restore.
set -eu

dir=${BACKUP_DIR:-/backups}
secrets=${SECRETS_DIR:-/run/secrets}
host=${REDIS_HOST:-redis}
port=${REDIS_PORT:-6379}
user=${BACKUP_REDIS_USER:-backup}
status_file=${BACKUP_STATUS_FILE:-/tmp/hitcounter-backup.status}
log_file=/tmp/hitcounter-backup.log

log() { echo "backup: $*" >&2; }

# The backups hold every counter and admin key hash: readable by this user (999) alone.
umask 077

# seconds NAME VALUE: a duration (whole seconds; s, m, h or d) in seconds, at least 1. A
# malformed value stops the service with a one-line error, never a default in its place.
seconds() {
	n=${2%[smhd]}
	case "$n" in
	'' | *[!0-9]*)
		echo "$1: \"$2\" is not a duration such as 90s, 30m, 1h or 1d" >&2
		exit 2
		;;
	esac
	case "${2#"$n"}" in
	'' | s) n=$((n * 1)) ;;
	m) n=$((n * 60)) ;;
	h) n=$((n * 3600)) ;;
	d) n=$((n * 86400)) ;;
	esac
	if [ "$n" -lt 1 ]; then
		echo "$1: \"$2\" must be at least 1s" >&2
		exit 2
	fi
	echo "$n"
}

interval=${BACKUP_INTERVAL:-1h}
interval_s=$(seconds BACKUP_INTERVAL "$interval")
# Bounds each step of a backup (the transfer, the check), so that a Redis that stops answering
# mid-transfer cannot hold the schedule.
timeout_s=$(seconds BACKUP_TIMEOUT "${BACKUP_TIMEOUT:-10m}")
keep=${BACKUP_KEEP:-48}
case "$keep" in
'' | *[!0-9]* | 0)
	echo "BACKUP_KEEP: \"$keep\" is not a whole number of at least 1" >&2
	exit 2
	;;
esac
# After a failure, try again within a minute (or the interval, if shorter).
retry_s=$((interval_s < 60 ? interval_s : 60))

cli=redis-cli
check=redis-check-rdb
if command -v valkey-cli >/dev/null 2>&1; then
	cli=valkey-cli
fi
if command -v valkey-check-rdb >/dev/null 2>&1; then
	check=valkey-check-rdb
fi

# This container's name, in the temporary files' names: a restarted container removes what it
# left behind without touching another container's backup in progress.
me=$(cat /proc/sys/kernel/hostname 2>/dev/null || echo host)
partial=""
child=""

# run_bounded LOG COMMAND...: runs COMMAND with the timeout, its output into LOG, in the
# background so that a SIGTERM is handled at once (the shell runs a trap only between
# commands, and as PID 1 it would otherwise ignore the signal).
run_bounded() {
	out=$1
	shift
	timeout "$timeout_s" "$@" >"$out" 2>&1 &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=""
	return "$rc"
}

on_signal() {
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
	fi
	if [ -n "$partial" ]; then
		rm -f "$partial"
	fi
	log "stopped"
	exit 143
}
trap on_signal TERM INT

set_status() {
	printf '%s %s %s\n' "$1" "$2" "$3" >"$status_file.tmp"
	mv -f "$status_file.tmp" "$status_file"
}

# fail MESSAGE: the backup failed; nothing is left under a backup's name.
fail() {
	if [ -n "$partial" ]; then
		rm -f "$partial"
		partial=""
	fi
	set_status failed "$(date +%s)" "$1"
	log "FAILED: $1"
	return 1
}

# newest prints the name of the newest backup, or nothing.
newest() {
	set -- "$dir"/hitcounter-*.rdb
	if [ -e "$1" ]; then
		eval "last=\${$#}"
		echo "${last##*/}"
	fi
}

# rotate deletes all but the newest $keep backups (names sort by time).
rotate() {
	deleted=0
	set -- "$dir"/hitcounter-*.rdb
	[ -e "$1" ] || return 0
	while [ "$#" -gt "$keep" ]; do
		rm -f "$1"
		deleted=$((deleted + 1))
		shift
	done
}

last_line() { tail -n 1 "$1" 2>/dev/null | tr -d '\r'; }
# check_error LOG: what redis-check-rdb found wrong (the line after its banner).
check_error() {
	err=$(sed -n '/RDB ERROR DETECTED/{n;p;}' "$1" | head -n 1)
	echo "${err:-$(last_line "$1")}"
}

backup_once() {
	if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
		fail "$dir is not a writable directory"
		return 1
	fi
	password=$(head -n 1 "$secrets/redis_backup_password" 2>/dev/null | tr -d '\r\n')
	if [ -z "$password" ]; then
		fail "no password in $secrets/redis_backup_password"
		return 1
	fi
	# Temporary files that outlived every bound (a container killed mid-backup) go.
	find "$dir" -maxdepth 1 -name '.partial-*' -mmin "+$((timeout_s * 4 / 60 + 1))" -exec rm -f {} \; 2>/dev/null || true

	begin=$(date +%s)
	name=hitcounter-$(date -u +%Y%m%dT%H%M%SZ).rdb
	# One backup per second at most: a name is never reused (a rename would replace a backup).
	tries=0
	while [ -e "$dir/$name" ] && [ "$tries" -lt 3 ]; do
		sleep 1
		tries=$((tries + 1))
		name=hitcounter-$(date -u +%Y%m%dT%H%M%SZ).rdb
	done
	partial="$dir/.partial-$me-$$.rdb"
	rm -f "$partial"

	# The password goes through the environment, never the command line. Three tries: a new
	# pod's address may not be let through a network policy for a moment after it starts
	# (kube-router takes a second or two), and Redis may be restarting.
	tries=1
	until REDISCLI_AUTH=$password VALKEYCLI_AUTH=$password run_bounded "$log_file" \
		"$cli" -h "$host" -p "$port" --user "$user" --rdb "$partial"; do
		rm -f "$partial"
		if [ "$tries" -ge 3 ]; then
			fail "fetching the snapshot from $host:$port: $(last_line "$log_file")"
			return 1
		fi
		log "fetching the snapshot from $host:$port failed ($(last_line "$log_file")); trying again in $((tries * 2))s"
		sleep $((tries * 2)) &
		child=$!
		wait "$child" || true
		child=""
		tries=$((tries + 1))
	done
	if [ ! -s "$partial" ]; then
		fail "fetching the snapshot from $host:$port: no data ($(last_line "$log_file"))"
		return 1
	fi
	if ! run_bounded "$log_file" "$check" "$partial"; then
		fail "the snapshot does not check: $(check_error "$log_file")"
		return 1
	fi
	keys=$(sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p' "$log_file")
	# redis-cli fsyncs the file; the rename is made durable by syncing the directory. (Errors
	# are checked one by one: set -e does not apply inside a function called as a condition.)
	if ! mv -f "$partial" "$dir/$name"; then
		fail "renaming $partial to $dir/$name"
		return 1
	fi
	partial=""
	sync "$dir" 2>/dev/null || sync
	rotate
	bytes=$(wc -c <"$dir/$name" | tr -d ' ')
	took=$(($(date +%s) - begin))
	set_status ok "$(date +%s)" "$name"
	log "wrote $dir/$name: $bytes bytes, ${keys:-?} keys, ${took}s; deleted $deleted older (keeping $keep)"
	echo "$dir/$name"
}

run_schedule() {
	log "a backup every $interval into $dir, keeping the newest $keep; Redis at $host:$port as user $user"
	# Healthy until a backup fails: the first one may take a while, and the stack's start does
	# not wait for it.
	set_status pending "$(date +%s)" "the first backup since the start"
	# Left by this container before a restart: that backup was interrupted.
	rm -f "$dir"/.partial-"$me"-*
	first=1
	while :; do
		# The schedule follows the newest backup, so a restart neither takes an extra backup nor
		# skips one.
		last=$(newest)
		age=$interval_s
		if [ -n "$last" ]; then
			taken=$(stat -c %Y "$dir/$last")
			age=$(($(date +%s) - taken))
			if [ "$age" -lt 0 ]; then
				age=0
			fi
		fi
		if [ "$age" -ge "$interval_s" ]; then
			if backup_once >/dev/null; then
				wait_s=$interval_s
			else
				wait_s=$retry_s
			fi
		else
			if [ "$first" = 1 ]; then
				set_status ok "$taken" "$last"
				log "the newest backup, $last, is ${age}s old; the next one in $((interval_s - age))s"
			fi
			wait_s=$((interval_s - age))
		fi
		first=0
		sleep "$wait_s" &
		child=$!
		wait "$child" || true
		child=""
	done
}

health() {
	if [ ! -s "$status_file" ]; then
		echo "no backup yet"
		exit 1
	fi
	read -r state at detail <"$status_file"
	age=$(($(date +%s) - at))
	case "$state" in
	ok | pending) ;;
	*)
		echo "the last backup failed ${age}s ago: $detail"
		exit 1
		;;
	esac
	# A backup is due every interval and takes at most four timeouts (three tries of the
	# transfer, the check); past that the schedule has stopped.
	if [ "$age" -gt $((interval_s + 4 * timeout_s + 60)) ]; then
		echo "overdue: the last backup, $detail, is ${age}s old"
		exit 1
	fi
	echo "$state: $detail, ${age}s ago"
}

case "${1:-run}" in
run) run_schedule ;;
once) backup_once ;;
verify)
	if [ "$#" -ne 2 ]; then
		echo "usage: hitcounter-backup verify FILE" >&2
		exit 2
	fi
	if run_bounded "$log_file" "$check" "$2"; then
		echo "$2: OK, $(sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p' "$log_file") keys"
	else
		echo "$2: NOT a complete backup: $(check_error "$log_file")" >&2
		exit 1
	fi
	;;
health) health ;;
*)
	echo "usage: hitcounter-backup [run | once | verify FILE | health]" >&2
	exit 2
	;;
esac
