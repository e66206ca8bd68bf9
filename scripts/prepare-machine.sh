#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for `make test`: the packages the tests use (Redis, make,
# Chromium for the browser tests), then Docker (see prepare-docker.sh), then the stack's own
# server for the host's tests (see test-server.sh). Safe to run again; quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
command -v redis-server >/dev/null || pkgs+=(redis-server)
command -v redis-cli >/dev/null || pkgs+=(redis-tools)
command -v make >/dev/null || pkgs+=(make)
command -v chromium >/dev/null || pkgs+=(chromium) # e2e/browser: headless, driven by chromedp
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "[prepare-machine] installing ${pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
bash scripts/prepare-docker.sh
bash scripts/test-server.sh
