#!/bin/sh
# Creates the stack's secrets on the first run: the Redis passwords, the web service's operator
# token and its visitor key, random, 256 bits each, written once into the secrets volume (which
# only this container mounts) and kept across restarts and rebuilds. Existing secrets are never
# replaced. Then, on every run, copies to each service the secrets it needs and no other, into a
# volume of its own, so that a secret replaced in the secrets volume is followed:
#   web:      redis_app_password, operator_token, visitor_key
#   redis:    redis_app_password, redis_health_password, redis_exporter_password,
#             redis_backup_password (it keeps hashes)
#   exporter: its password, as the JSON file redis_exporter reads
#   backup:   redis_backup_password
# With HITCOUNTER_HA=1 (the ha profile's compose.ha.yaml: a primary, replicas and Sentinels), four
# more are generated and copied:
#   web:       + sentinel_app_password (to ask the Sentinels where the primary is)
#   redis:     + redis_replication_password (in clear: every server may become a replica and
#              log in to the primary with it), redis_sentinel_password (the servers keep a hash),
#              sentinel_app_password (a server that restarts asks the Sentinels which server is
#              the primary; the servers hold the application's own Redis password already);
#              the replicas mount the same volume: each server may become the primary
#   sentinels: redis_sentinel_password (to log in to the servers), sentinel_peer_password (to
#              each other), sentinel_app_password and redis_health_password (they keep hashes;
#              their health check logs in with the latter)
set -eu
secrets=${SECRETS_DIR:-/run/secrets}
web_secrets=${WEB_SECRETS_DIR:-/run/web-secrets}
redis_secrets=${REDIS_SECRETS_DIR:-/run/redis-secrets}
exporter_secrets=${EXPORTER_SECRETS_DIR:-/run/exporter-secrets}
backup_secrets=${BACKUP_SECRETS_DIR:-/run/backup-secrets}
sentinel_secrets=${SENTINEL_SECRETS_DIR:-/run/sentinel-secrets}
ha=${HITCOUNTER_HA:-0}
case "$ha" in
0 | 1) ;;
*)
	echo "HITCOUNTER_HA: \"$ha\" is not 0 or 1" >&2
	exit 2
	;;
esac
ha_names=""
if [ "$ha" = 1 ]; then
	ha_names="redis_replication_password redis_sentinel_password sentinel_peer_password sentinel_app_password"
fi
# Where and as whom the exporter connects: the keys of its password file must match its
# REDIS_ADDR (and REDIS_USER; see below) in compose.yaml.
exporter_addr=${EXPORTER_REDIS_ADDR:-redis://redis:6379}
exporter_user=${EXPORTER_REDIS_USER:-exporter}

umask 022
# A secret added by a later version (redis_backup_password) is generated on the first run after
# the upgrade, beside the ones kept.
for name in redis_app_password redis_health_password redis_exporter_password redis_backup_password operator_token visitor_key $ha_names; do
	file="$secrets/$name"
	if [ -s "$file" ]; then
		echo "secrets: $name exists, kept"
		continue
	fi
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$secret" >"$file.tmp"
	chmod 0400 "$file.tmp"
	mv "$file.tmp" "$file"
	echo "secrets: generated $name"
done

# copy_to DIR NAME...: DIR holds exactly these secrets afterwards, each replaced atomically.
# Readable by every user of the one service that mounts DIR (web runs as 65532, redis and backup
# as 999, the exporter as 59000; this container as 999 cannot give files away). Skipped when DIR is
# not mounted here (it is then on the read-only image).
copy_to() {
	dir=$1
	shift
	if [ ! -w "$dir" ]; then
		echo "secrets: $dir is not writable; not written"
		return
	fi
	for name in "$@"; do
		cp "$secrets/$name" "$dir/$name.tmp"
		chmod 0444 "$dir/$name.tmp"
		mv "$dir/$name.tmp" "$dir/$name"
	done
	# A secret this service no longer needs (or that an older version put here) goes.
	for file in "$dir"/*; do
		[ -e "$file" ] || continue
		case " $* " in *" ${file##*/} "*) ;; *) rm -f "$file" ;; esac
	done
	echo "secrets: wrote $* into $dir"
}
if [ "$ha" = 1 ]; then
	copy_to "$web_secrets" redis_app_password operator_token visitor_key sentinel_app_password
	copy_to "$redis_secrets" redis_app_password redis_health_password redis_exporter_password redis_backup_password \
		redis_replication_password redis_sentinel_password sentinel_app_password
	copy_to "$sentinel_secrets" redis_sentinel_password sentinel_peer_password sentinel_app_password redis_health_password
else
	copy_to "$web_secrets" redis_app_password operator_token visitor_key
	copy_to "$redis_secrets" redis_app_password redis_health_password redis_exporter_password redis_backup_password
fi
copy_to "$backup_secrets" redis_backup_password

# redis_exporter reads REDIS_PASSWORD_FILE as JSON: {"<redis URI>": "<password>"}. Up to v1.68
# it looks the password up by REDIS_ADDR; from v1.69 on, with REDIS_USER set, by the URI with
# the user in it. Both keys, so that the pinned image and Debian's 1.45 (the stand-in) work.
if [ ! -w "$exporter_secrets" ]; then
	echo "secrets: $exporter_secrets is not writable; the exporter's password file is not written"
else
	password=$(head -n 1 "$secrets/redis_exporter_password" | tr -d '\r\n' | sed 's/\\/\\\\/g; s/"/\\"/g')
	with_user=$(printf '%s' "$exporter_addr" | sed "s|://|://$exporter_user@|")
	file="$exporter_secrets/redis_exporter_password.json"
	printf '{"%s": "%s", "%s": "%s"}\n' "$exporter_addr" "$password" "$with_user" "$password" >"$file.tmp"
	chmod 0444 "$file.tmp"
	mv "$file.tmp" "$file"
	echo "secrets: wrote the exporter's password file"
fi
