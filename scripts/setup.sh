#!/usr/bin/env bash
# Prepares a fresh machine: pnpm, the workspace's packages (which bring Node 24), and with
# --with-prometheus the Prometheus server the metrics tests start on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || npm install -g "pnpm@$PNPM_VERSION"
fi

echo "setup: installing packages"
pnpm install --frozen-lockfile --reporter=silent 2>&1 | grep -v "Unsupported engine" || true
test -x node_modules/.bin/node || { echo "setup: pnpm install failed" >&2; exit 1; }

if [ "${1:-}" = "--with-prometheus" ] && { ! command -v prometheus || ! command -v openssl; } >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Prometheus and openssl (Debian packages; openssl makes the TLS test's certificate)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus openssl >/dev/null
    # The package starts a system service; the tests run their own server on loopback.
    (systemctl stop prometheus || service prometheus stop || pkill -x prometheus) >/dev/null 2>&1 || true
  else
    echo "setup: prometheus not found; install it (Debian: apt-get install prometheus) for the metrics tests" >&2
  fi
fi
echo "setup: done (node $(node_modules/.bin/node --version), pnpm $(pnpm --version))"
