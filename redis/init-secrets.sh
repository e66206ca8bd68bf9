#!/bin/sh
# Creates the stack's secrets on the first run: the Redis passwords, the web service's operator
# token and its visitor key, random, 256 bits each, written once into the secrets volume (which
# only this container mounts) and kept across restarts and rebuilds. Existing secrets are never
# replaced. Then, on every run, copies to each service the secrets it needs and no other, into a
# volume of its own, so that a secret replaced in the secrets volume is followed:
#   web:      redis_app_password, operator_token, visitor_key
#   redis:    redis_app_password, redis_health_password, redis_exporter_password (it keeps hashes)
#   exporter: its password, as the JSON file redis_exporter reads
set -eu
secrets=${SECRETS_DIR:-/run/secrets}
web_secrets=${WEB_SECRETS_DIR:-/run/web-secrets}
redis_secrets=${REDIS_SECRETS_DIR:-/run/redis-secrets}
exporter_secrets=${EXPORTER_SECRETS_DIR:-/run/exporter-secrets}
# Where and as whom the exporter connects: the keys of its password file must match its
# REDIS_ADDR (and REDIS_USER; see below) in compose.yaml.
exporter_addr=${EXPORTER_REDIS_ADDR:-redis://redis:6379}
exporter_user=${EXPORTER_REDIS_USER:-exporter}

umask 022
for name in redis_app_password redis_health_password redis_exporter_password operator_token visitor_key; do
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
# Readable by every user of the one service that mounts DIR (web runs as 65532, redis as 999,
# the exporter as 59000; this container as 999 cannot give files away). Skipped when DIR is
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
copy_to "$web_secrets" redis_app_password operator_token visitor_key
copy_to "$redis_secrets" redis_app_password redis_health_password redis_exporter_password

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
