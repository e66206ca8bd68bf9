# shellcheck shell=bash
# Sourced by the scripts: sets and exports every pin of scripts/versions.env, except those the
# environment already sets (an override, for example K8S_VERSION=v1.35.5).
versions_file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/versions.env"
while IFS='=' read -r versions_name versions_value; do
	case $versions_name in '' | \#*) continue ;; esac
	[ -n "${!versions_name:-}" ] || printf -v "$versions_name" '%s' "$versions_value"
	export "${versions_name?}"
done <"$versions_file"
unset versions_file versions_name versions_value
