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
app_commands="+incrby +expire +exists +del +hincrby +hset +hsetnx +hget +hmget +hdel +sadd +srem +scard +sismember +sscan +pfadd +pfcount +eval +evalsha"
# The health check may only PING. The metrics exporter (monitoring profile, below) may read the
# server's state (INFO, CONFIG GET, SLOWLOG, LATENCY) and name its connection, on no key.
# The default user is off: no connection can log in as it, so a connection without credentials
# can do nothing but authenticate. It still holds the application's commands on its keys,
# because Redis before 8.4 replays the append-only file as the default user and checks every
# MULTI/EXEC block against that user's ACL (redis/redis#14541): a script that writes twice is
# logged as MULTI ... EXEC, and with -@all Redis would refuse it on reload and silently drop
# those writes. (PEXPIREAT is how the file records an EXPIRE.)
# Commands that earlier versions wrote into append-only files which must still replay: INCR (the
# visit counter), SET (the daily salt Redis used to keep). Only the default user, which nobody
# can log in as, holds them.
replayed_commands="+incr +set"
cat >/tmp/users.acl <<ACL
user default off resetkeys ~hitcounter:* resetchannels -@all +multi +exec +pexpireat $app_commands $replayed_commands
user $app_user on #$app_hash resetkeys ~hitcounter:* resetchannels -@all $app_commands +info +bgrewriteaof +ping +hello +auth +select
user healthcheck on #$health_hash resetkeys resetchannels -@all +ping +hello +auth
ACL
# The exporter's user exists only where its password does: Compose's secrets service always
# writes one (the monitoring profile may start the exporter); a Helm install has none.
if [ -e "$secrets/redis_exporter_password" ]; then
	exporter_hash=$(password_hash "$secrets/redis_exporter_password")
	echo "user exporter on #$exporter_hash resetkeys resetchannels -@all +ping +hello +auth +info +config|get +slowlog|len +slowlog|get +latency|latest +latency|histogram +client|setname" >>/tmp/users.acl
fi

server=redis-server
if command -v valkey-server >/dev/null 2>&1; then
	server=valkey-server
fi
exec "$server" /usr/local/etc/redis/redis.conf --appendfsync "$fsync" --maxmemory "$maxmemory" "$@"
