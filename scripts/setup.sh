#!/usr/bin/env bash
# Prepares a fresh machine: pnpm, the workspace's packages (which bring Node 24), and with
# --with-prometheus the Debian packages the tests use: the Prometheus server the metrics tests start on
# loopback, openssl, and the official Kubernetes Python client (python3-kubernetes) the emulator is
# tested with.
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

if [ "${1:-}" = "--with-prometheus" ] && { ! command -v prometheus || ! command -v openssl ||
  ! /usr/bin/python3 -c 'import kubernetes'; } >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Prometheus, openssl and python3-kubernetes (Debian packages; openssl makes the TLS test's certificate)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus openssl python3-kubernetes >/dev/null
    # The package starts a system service; the tests run their own server on loopback.
    (systemctl stop prometheus || service prometheus stop || pkill -x prometheus) >/dev/null 2>&1 || true
  else
    echo "setup: prometheus, openssl or python3-kubernetes not found; install them (Debian: apt-get install prometheus openssl python3-kubernetes) for the tests that use them" >&2
  fi
fi
echo "setup: done (node $(node_modules/.bin/node --version), pnpm $(pnpm --version))"
