#!/bin/sh
# Healthy only when the healthcheck user gets PONG. `redis-cli ping` exits 0 even on an
# authentication error, so the reply itself is checked.
secrets=${SECRETS_DIR:-/run/secrets}
cli=redis-cli
if command -v valkey-cli >/dev/null 2>&1; then
	cli=valkey-cli
fi
password=$(head -n 1 "$secrets/redis_health_password" 2>/dev/null | tr -d '\r\n')
if [ -z "$password" ]; then
	echo "no health check password in $secrets/redis_health_password"
	exit 1
fi
# The password goes through the environment, not the command line.
reply=$(REDISCLI_AUTH=$password VALKEYCLI_AUTH=$password "$cli" --user healthcheck -h 127.0.0.1 -p 6379 ping 2>&1)
if [ "$reply" = "PONG" ]; then
	exit 0
fi
echo "unhealthy: $reply"
exit 1
