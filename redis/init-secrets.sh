#!/bin/sh
# Creates the Redis passwords (and the web service's operator token) on the first run: random, 256 bits each, written once into the
# secrets volume and kept across restarts and rebuilds. Existing secrets are never replaced.
# Then writes the redis_exporter's password file (its own volume, so the exporter sees no other
# secret) from redis_exporter_password, on every run, so a password you replaced is followed.
set -eu
secrets=${SECRETS_DIR:-/run/secrets}
exporter_secrets=${EXPORTER_SECRETS_DIR:-/run/exporter-secrets}
# Where and as whom the exporter connects: the keys of its password file must match its
# REDIS_ADDR (and REDIS_USER; see below) in compose.yaml.
exporter_addr=${EXPORTER_REDIS_ADDR:-redis://redis:6379}
exporter_user=${EXPORTER_REDIS_USER:-exporter}

umask 022
for name in redis_app_password redis_health_password redis_exporter_password operator_token; do
	file="$secrets/$name"
	if [ -s "$file" ]; then
		echo "secrets: $name exists, kept"
		continue
	fi
	password=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# Readable by the web (uid 65532) and redis (uid 999) containers, which mount the volume
	# read-only; nothing else mounts it.
	printf '%s\n' "$password" >"$file.tmp"
	chmod 0444 "$file.tmp"
	mv "$file.tmp" "$file"
	echo "secrets: generated $name"
done

# redis_exporter reads REDIS_PASSWORD_FILE as JSON: {"<redis URI>": "<password>"}. Up to v1.68
# it looks the password up by REDIS_ADDR; from v1.69 on, with REDIS_USER set, by the URI with
# the user in it. Both keys, so that the pinned image and Debian's 1.45 (the stand-in) work.
# Readable by the exporter (uid 59000); only the exporter mounts this volume. Skipped when that
# volume is not mounted here (the directory is then on the read-only image).
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
