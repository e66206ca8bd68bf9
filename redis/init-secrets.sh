#!/bin/sh
# Creates the Redis passwords on the first run: random, 256 bits each, written once into the
# secrets volume and kept across restarts and rebuilds. Existing secrets are never replaced.
set -eu
secrets=${SECRETS_DIR:-/run/secrets}
for name in redis_app_password redis_health_password; do
	file="$secrets/$name"
	if [ -s "$file" ]; then
		echo "secrets: $name exists, kept"
		continue
	fi
	password=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# Readable by the web (uid 65532) and redis (uid 999) containers, which mount the volume
	# read-only; nothing else mounts it.
	umask 022
	printf '%s\n' "$password" >"$file.tmp"
	chmod 0444 "$file.tmp"
	mv "$file.tmp" "$file"
	echo "secrets: generated $name"
done
