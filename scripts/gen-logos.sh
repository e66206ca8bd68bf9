#!/usr/bin/env bash
# Regenerates internal/badge/logos.json, the badge logos, from a pinned release of Simple Icons
# (CC0-1.0, https://simpleicons.org). Not run by the build: the JSON file is committed. Needs
# npm (only to fetch the package) and Go. The list of icons and the licence rule are in
# scripts/gen-logos/main.go; docs/badges.md says how to add one.
#
#   bash scripts/gen-logos.sh
set -euo pipefail

version=16.37.0
# npm's integrity of that tarball (npm view simple-icons@16.37.0 dist.integrity): a republished
# or tampered package fails here instead of changing the icons silently.
integrity='sha512-8mCJIhpMYOL9g13GW59EiL3sVXJnTEKGCTZFaekl9UQ3Qo0SwVjnLaJ82QiaH8BKBdouEDzrHMXIWh8cBIy48A=='

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "simple-icons@$version" >/dev/null)
tgz="$work/simple-icons-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
	echo "gen-logos: simple-icons@$version has integrity $got, want $integrity" >&2
	exit 1
fi
cd "$root"
go run ./scripts/gen-logos -version "$version" -tgz "$tgz" -out internal/badge/logos.json
